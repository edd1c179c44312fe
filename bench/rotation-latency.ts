/**
 * End-to-end latency of one full rotation (createSecret, setSecret, testSecret, finishSecret)
 * through the built bundles, against the same local servers the integration suites use.
 * Writes bench/results/rotation-latency.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import { startEnvironment } from '../test/helpers/environment';
import { createMasterAndBase, runAs, superuser, uniqueName } from '../test/helpers/postgres-client';
import { loadBundle, RotationService } from '../test/helpers/rotation-service';

const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 50);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function main(): Promise<void> {
  const { env, stop } = await startEnvironment();
  const rows: Record<string, unknown>[] = [];
  try {
    Object.assign(process.env, {
      SECRETS_MANAGER_ENDPOINT: env.secretsManagerEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      ROTATION_BUNDLE_DIR: process.env.ROTATION_BUNDLE_DIR ?? join(process.cwd(), 'dist'),
    });
    const service = new RotationService(
      env.secretsManagerEndpoint,
      join(env.runDir, 'captured-logs', 'bench.log'),
    );
    for (const server of env.postgres) {
      if (server.caFile) process.env.NODE_EXTRA_CA_CERTS = server.caFile;
      const { master, base: alternating } = await createMasterAndBase(server, { prefix: 'bench_' });
      const user = { username: uniqueName('bench_app'), password: 'Bench-app-1' };
      await runAs(
        server,
        superuser(server),
        `CREATE ROLE ${id(user.username)} LOGIN PASSWORD ${lit(user.password)}`,
      );
      const connection = {
        engine: 'postgres',
        host: server.host,
        port: server.port,
        dbname: 'postgres',
      };
      const masterArn = await service.createSecret(uniqueName('bench'), {
        ...connection,
        ...master,
      });
      for (const [fn, value] of [
        ['postgresql-single-user', { ...connection, ...user }],
        ['postgresql-alternating-users', { ...connection, ...alternating, masterarn: masterArn }],
      ] as const) {
        const handler = loadBundle(fn);
        const arn = await service.createSecret(uniqueName('bench'), value);
        await service.rotate(handler, arn); // warm-up: first connections, clone creation
        const times: number[] = [];
        for (let i = 0; i < ROTATIONS; i++) {
          const started = process.hrtime.bigint();
          await service.rotate(handler, arn);
          times.push(Number(process.hrtime.bigint() - started) / 1e6);
        }
        times.sort((a, b) => a - b);
        rows.push({
          function: fn,
          server: `${server.name} (${server.version})`,
          rotations: ROTATIONS,
          medianMs: Number(percentile(times, 50).toFixed(1)),
          p95Ms: Number(percentile(times, 95).toFixed(1)),
          minMs: Number((times[0] as number).toFixed(1)),
        });
      }
    }
  } finally {
    await stop();
  }
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rotation-latency.json'), `${JSON.stringify(rows, null, 2)}\n`);
  const table = [
    '| function | server | rotations | median ms | p95 ms | min ms |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.function} | ${r.server} | ${r.rotations} | ${r.medianMs} | ${r.p95Ms} | ${r.minMs} |`,
    ),
  ].join('\n');
  writeFileSync(join(dir, 'rotation-latency.md'), `${table}\n`);
  process.stdout.write(
    `\nOne full rotation (4 steps: RotateSecret on moto + the handler's createSecret, setSecret, testSecret, finishSecret), local servers:\n\n${table}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
