import { mariadb } from '../../shared/engines/mysql';
import { createRotationHandler, createRotationStarter } from '../../shared/rotation/handler';
import { singleUser } from '../../shared/strategies/single-user';

const wiring = { engine: mariadb, strategy: singleUser };

/** The Lambda handler (`index.handler`). */
export const handler = createRotationHandler(wiring);

/** For the local runner only: Lambda never invokes it. */
export const startRotation = createRotationStarter(wiring);
