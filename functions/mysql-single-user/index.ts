import { mysql } from '../../shared/engines/mysql';
import { createRotationHandler } from '../../shared/rotation/handler';
import { singleUser } from '../../shared/strategies/single-user';

export const handler = createRotationHandler({ engine: mysql, strategy: singleUser });
