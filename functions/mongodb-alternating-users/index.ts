import { mongodb } from '../../shared/engines/mongodb';
import { createRotationHandler, createRotationStarter } from '../../shared/rotation/handler';
import { alternatingUsers } from '../../shared/strategies/alternating-users';

const wiring = { engine: mongodb, strategy: alternatingUsers };

/** The Lambda handler (`index.handler`). */
export const handler = createRotationHandler(wiring);

/** For the local runner only: Lambda never invokes it. */
export const startRotation = createRotationStarter(wiring);
