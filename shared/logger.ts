import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one logger of a function. Level from `POWERTOOLS_LOG_LEVEL` (or Lambda's advanced logging
 * controls), service name from `POWERTOOLS_SERVICE_NAME`, both as Powertools reads them. Nothing
 * logged anywhere in this project carries a password: log fields are chosen, never whole objects.
 */
export const logger = new Logger({ serviceName: 'rotation-lambdas' });
