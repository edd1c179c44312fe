import { rememberStop } from './global-stop';
import { ENVIRONMENT_VARIABLE, startEnvironment } from './index';

/**
 * Jest globalSetup: starts the integration test environment once per run and publishes it to the
 * test workers (which inherit this process's environment variables) as JSON in `ROTATION_TEST_ENV`.
 */
export default async function globalSetup(): Promise<void> {
  const startedAt = Date.now();
  const { env, stop } = await startEnvironment();
  rememberStop(stop);
  process.env[ENVIRONMENT_VARIABLE] = JSON.stringify(env);
  const servers = [...env.postgres, ...env.mysql, ...env.mongodb].map(
    (server) =>
      `${server.name} (${server.version}) at ${server.host}:${server.port}${server.image ? ` from image ${server.image}` : ''}`,
  );
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  process.stdout.write(
    `\nIntegration environment (${env.mode}) ready in ${seconds} s: ${servers.join(', ')}; ` +
      `Secrets Manager at ${env.secretsManagerEndpoint}; run directory ${env.runDir}\n`,
  );
}
