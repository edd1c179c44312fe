import { mongodb } from '../../shared/engines/mongodb';
import { createRotationHandler } from '../../shared/rotation/handler';
import { alternatingUsers } from '../../shared/strategies/alternating-users';

export const handler = createRotationHandler({ engine: mongodb, strategy: alternatingUsers });
