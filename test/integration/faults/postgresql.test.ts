import { defineFaultSuite } from '../../helpers/faults/suite';

// Fault injection for the postgresql-* functions, on the newest PostgreSQL server.
// See test/helpers/faults/ and README "Fault injection".
defineFaultSuite('postgresql');
