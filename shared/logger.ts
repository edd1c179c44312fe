import { Logger } from '@aws-lambda-powertools/logger';
import { redactor } from './redaction';

/**
 * The one logger of a function. Level from `POWERTOOLS_LOG_LEVEL` (or Lambda's advanced logging
 * controls), service name from `POWERTOOLS_SERVICE_NAME`, both as Powertools reads them.
 *
 * Redaction happens here, where lines are written: every string of every logged object (the
 * message, each key's value, an error's message, stack and every enumerable property of it and of
 * its causes, such as mysql2's `sql` and `sqlMessage` or MongoDB's `errorResponse`) passes through
 * the redactor on its way into the JSON line.
 */
export const logger = new Logger({
  serviceName: 'rotation-lambdas',
  jsonReplacerFn: (_key, value) => (typeof value === 'string' ? redactor.scrub(value) : value),
});
