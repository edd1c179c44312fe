import { join } from 'node:path';
import { readEnvironment, type TestEnvironment } from './environment';
import { RotationService } from './rotation-service';

/**
 * What an integration suite starts from: the environment from jest's globalSetup, a Secrets
 * Manager client whose function output goes to `captured-logs/<name>-<pid>.log` (read by the leak
 * scan), and the process environment restored after the suite (handlers' settings are set per
 * test).
 */
export function suiteContext(name: string): { env: TestEnvironment; service: RotationService } {
  const env = readEnvironment();
  const service = new RotationService(
    env.secretsManagerEndpoint,
    join(env.runDir, 'captured-logs', `${name}-${process.pid}.log`),
  );
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });
  return { env, service };
}

/** A secret's value for `engine` on `server`, with `extra` keys (e.g. `masterarn`, `dbname`). */
export function secretOn(
  engine: string,
  server: { host: string; port: number },
  defaults: Record<string, unknown> = {},
) {
  return (username: string, password: string, extra: Record<string, unknown> = {}) => ({
    engine,
    host: server.host,
    port: server.port,
    username,
    password,
    ...defaults,
    ...extra,
  });
}
