import { mongodb } from '../../shared/engines/mongodb';
import { createRotationHandler } from '../../shared/rotation/handler';
import { singleUser } from '../../shared/strategies/single-user';

export const handler = createRotationHandler({ engine: mongodb, strategy: singleUser });
