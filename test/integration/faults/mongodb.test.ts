import { defineFaultSuite } from '../../helpers/faults/suite';

// Fault injection against FerretDB 1.24: see test/helpers/faults/ and README "Fault injection".
defineFaultSuite('mongodb');
