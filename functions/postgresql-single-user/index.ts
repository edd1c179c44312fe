import { postgresql } from '../../shared/engines/postgresql';
import { createRotationHandler } from '../../shared/rotation/handler';
import { singleUser } from '../../shared/strategies/single-user';

export const handler = createRotationHandler({ engine: postgresql, strategy: singleUser });
