import { mysql } from '../../shared/engines/mysql';
import { createRotationHandler } from '../../shared/rotation/handler';
import { alternatingUsers } from '../../shared/strategies/alternating-users';

export const handler = createRotationHandler({ engine: mysql, strategy: alternatingUsers });
