import { defineFaultSuite } from '../../helpers/faults/suite';

// Fault injection against MariaDB 10.11 (mariadb-* and mysql-* functions): see test/helpers/faults/ and README "Fault injection".
defineFaultSuite('mariadb');
