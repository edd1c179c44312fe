import { mysql } from '../../shared/engines/mysql';
import { createRotationHandler, createRotationStarter } from '../../shared/rotation/handler';
import { alternatingUsers } from '../../shared/strategies/alternating-users';

const wiring = { engine: mysql, strategy: alternatingUsers };

/** The Lambda handler (`index.handler`). */
export const handler = createRotationHandler(wiring);

/** For the local runner only: Lambda never invokes it. */
export const startRotation = createRotationStarter(wiring);
