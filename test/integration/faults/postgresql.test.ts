import { defineFaultSuite } from '../../helpers/faults/suite';

// Fault injection against PostgreSQL 17: see test/helpers/faults/ and README "Fault injection".
defineFaultSuite('postgresql');
