import { join } from 'node:path';
import { passwordsInSecretsManager, scanForLeaks } from '../leak-scan';
import { takeStop } from './global-stop';
import { ENVIRONMENT_VARIABLE, readEnvironment } from './index';

/**
 * Jest globalTeardown: scans everything the functions logged or threw during the run for every
 * password any secret version held (master secrets included), then stops what globalSetup
 * started. A leak fails the run.
 */
export default async function globalTeardown(): Promise<void> {
  const stop = takeStop();
  try {
    if (process.env[ENVIRONMENT_VARIABLE]) {
      const env = readEnvironment();
      const passwords = await passwordsInSecretsManager(env.secretsManagerEndpoint);
      // The servers' own administrator passwords existed during the run too.
      for (const server of env.postgres) passwords.add(server.superuserPassword);
      for (const server of env.mysql) passwords.add(server.rootPassword);
      for (const server of env.mongodb) passwords.add(server.adminPassword);
      const leaks = scanForLeaks(join(env.runDir, 'captured-logs'), passwords);
      process.stdout.write(
        `\nLeak scan: ${passwords.size} passwords (every secret version in Secrets Manager, masters included, and the servers' administrators) searched for in the captured function output: ${leaks.length} found\n`,
      );
      if (leaks.length > 0) {
        throw new Error(
          `Passwords leaked into function output: ${leaks.map((l) => `${l.file}:${l.line}:${l.column} (${l.length} chars)`).join(', ')}`,
        );
      }
    }
  } finally {
    await stop?.();
  }
}
