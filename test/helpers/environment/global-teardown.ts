import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { passwordsInSecretsManager, scanForLeaks } from '../leak-scan';
import { takeStop } from './global-stop';
import { ENVIRONMENT_VARIABLE, readEnvironment } from './index';
import { motoAnswers } from './moto-log';

/**
 * Jest globalTeardown: scans everything the functions logged or threw during the run for every
 * password any secret version held (master secrets included), checks that moto failed no request
 * of its own accord, then stops what globalSetup started. A leak fails the run, and so does a 5xx
 * from moto: the tests inject Secrets Manager faults in their own proxies, never in moto, so a 5xx
 * there is a defect of the environment that the SDK's retry would otherwise hide.
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
      await checkMotoLog(join(env.runDir, 'moto.log'));
    }
  } finally {
    await stop?.();
  }
}

/** moto's access log, where this run started moto (not for TEST_SECRETS_MANAGER_ENDPOINT). */
async function checkMotoLog(logFile: string): Promise<void> {
  const log = await readFile(logFile, 'utf8').catch(() => undefined);
  if (log === undefined) return;
  const { requests, serverErrors, firstTraceback } = motoAnswers(log);
  process.stdout.write(
    `Secrets Manager (moto): ${requests} requests answered, ${serverErrors.length} with a 5xx status\n`,
  );
  if (serverErrors.length > 0) {
    throw new Error(
      `moto answered ${serverErrors.length} requests with a 5xx status that no test injected (${serverErrors.slice(0, 3).join('; ')})${firstTraceback ? `:\n${firstTraceback}` : ''}`,
    );
  }
}
