import { defineFaultSuite } from '../../helpers/faults/suite';

// Fault injection for the mariadb-* and mysql-* functions, on the newest MariaDB and MySQL
// servers the environment has (faultTargets in test/helpers/faults/targets.ts). See
// test/helpers/faults/ and README "Fault injection".
defineFaultSuite('mariadb');
