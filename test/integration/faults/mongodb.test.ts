import { defineFaultSuite } from '../../helpers/faults/suite';

// Fault injection for the mongodb-* functions, on the newest MongoDB server, or else FerretDB.
// See test/helpers/faults/ and README "Fault injection".
defineFaultSuite('mongodb');
