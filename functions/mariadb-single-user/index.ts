import { mariadb } from '../../shared/engines/mysql';
import { createRotationHandler } from '../../shared/rotation/handler';
import { singleUser } from '../../shared/strategies/single-user';

export const handler = createRotationHandler({ engine: mariadb, strategy: singleUser });
