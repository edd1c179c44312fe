import { postgresql } from '../../shared/engines/postgresql';
import { createRotationHandler } from '../../shared/rotation/handler';
import { alternatingUsers } from '../../shared/strategies/alternating-users';

export const handler = createRotationHandler({ engine: postgresql, strategy: alternatingUsers });
