/**
 * `npm run bench`: per function, against local servers (never as timed tests):
 *
 * - bundle size: dist/<function>/index.js, minified;
 * - cold start: median and p95 over BENCH_COLD_STARTS (25) fresh `node` processes loading the
 *   bundle and its handler, minus an empty process measured in the same run;
 * - Secrets Manager calls per full rotation, by operation, counted by an HTTP proxy in front of
 *   moto: as Secrets Manager drives the function (RotateSecret labels the version, then the four
 *   steps), and in the runner's start mode (createSecret through the bundle's startRotation);
 * - latency of one full rotation (RotateSecret on moto + the four steps): median and p95 over
 *   BENCH_ROTATIONS (50), after one warm-up;
 * - fleet: BENCH_FLEET_SIZES (50,200) fresh secrets rotated at once against one server, through a
 *   TCP proxy that counts the connections: wall time, failures, peak connections, connections
 *   still open afterwards;
 * - peak RSS of a process (like a Lambda instance) that loads the bundle and runs 5 rotations.
 *
 * Writes bench/results/benchmarks.{json,md} and prints the tables.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEnvironment, type TestEnvironment } from '../test/helpers/environment';
import { createTestCertificates } from '../test/helpers/environment/certificates';
import { reserveFreePorts } from '../test/helpers/environment/child-processes';
import {
  findEmbeddedPostgres,
  startLocalPostgres,
} from '../test/helpers/environment/local-postgres';
import { allowTraversal, resolveServerUser } from '../test/helpers/environment/server-user';
import type { MysqlServer, PostgresServer } from '../test/helpers/environment/types';
import { newest } from '../test/helpers/faults/targets';
import { mysqlRoot, mysqlRun } from '../test/helpers/mysql-client';
import { runAs, superuser } from '../test/helpers/postgres-client';
import { RotationService, STEPS } from '../test/helpers/rotation-service';
import { type ColdStart, measureColdStarts } from './cold-start';
import { CountingProxy } from './counting-proxy';
import { percentile, round } from './stats';
import { mongoTargets, mysqlTargets, postgresTargets, type Target } from './targets';
import { TcpProxy } from './tcp-proxy';

const ROOT = process.cwd();
const DIST = join(ROOT, 'dist');
const number = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROTATIONS = number('BENCH_ROTATIONS', 50);
const COLD_STARTS = number('BENCH_COLD_STARTS', 25);
const FLEET_SIZES = (process.env.BENCH_FLEET_SIZES ?? '50,200')
  .split(',')
  .filter(Boolean)
  .map(Number);
/**
 * Most rotations in flight at once, like a reserved concurrency of 50 on the function. Every
 * "Lambda" of the fleet shares this one process and the machine's two cores with the servers:
 * with 200 in flight, PostgreSQL and MariaDB still finish without a failure, but FerretDB (SQLite
 * underneath, SCRAM hashing for every login and password change) falls behind the drivers' socket
 * timeouts. A real MongoDB and real Lambdas, each with its own CPU, would not share that limit.
 */
const FLEET_CONCURRENCY = number('BENCH_FLEET_CONCURRENCY', 50);
/**
 * DB_CONNECT_TIMEOUT_SECONDS during the fleet. The default 5 s is for one Lambda instance per
 * rotation, each with its own CPU; here every rotation's TLS and SCRAM handshakes (and the
 * servers' own) queue for the same two cores, so a login can wait longer than that for CPU.
 */
const FLEET_CONNECT_TIMEOUT_SECONDS = number('BENCH_FLEET_CONNECT_TIMEOUT_SECONDS', 30);
/** Rotations whose Secrets Manager calls are counted (the count per rotation is their mean). */
const COUNTED_ROTATIONS = 3;
const RSS_ROTATIONS = 5;
/** max_connections of the bench's own PostgreSQL, and of MariaDB during the bench. */
const MAX_CONNECTIONS = 500;

type Handler = (event: unknown) => Promise<unknown>;

interface FleetResult {
  secrets: number;
  concurrency: number;
  wallMs: number;
  failures: number;
  firstFailure?: string | undefined;
  peakConnections: number;
  connectionsOpened: number;
  leftOpen: number;
  /** Sessions the server still lists afterwards (PostgreSQL, MariaDB). */
  serverSessionsLeft: number | undefined;
}

interface FunctionResult {
  function: string;
  server: string;
  bundleBytes: number;
  coldStart: ColdStart;
  secretsManagerCalls: {
    rotateSecretProtocol: Record<string, number>;
    runnerStartMode: Record<string, number>;
  };
  latency: { rotations: number; medianMs: number; p95Ms: number; minMs: number };
  fleet: FleetResult[];
  /** As template.yaml deploys the functions by default (SourceMaps=false). */
  peakRssMb: number;
  /** With NODE_OPTIONS=--enable-source-maps (the template's SourceMaps=true). */
  peakRssWithSourceMapsMb: number;
  rssAfterLoadMb: number;
}

const log = (text: string) => process.stdout.write(`${text}\n`);

function functionNames(): string[] {
  const all = readdirSync(join(ROOT, 'functions')).filter((n) =>
    statSync(join(ROOT, 'functions', n)).isDirectory(),
  );
  const only = process.env.BENCH_FUNCTIONS?.split(',').filter(Boolean);
  return only ? all.filter((n) => only.includes(n)) : all;
}

const bundlePath = (fn: string) => join(DIST, fn, 'index.js');
const load = (fn: string) =>
  (createRequire(__filename)(bundlePath(fn)) as { handler: Handler }).handler;

/** A full rotation as Secrets Manager runs it: RotateSecret labels the version, then four steps. */
async function rotateOnce(service: RotationService, handler: Handler, arn: string): Promise<void> {
  const token = await service.startRotation(arn);
  for (const Step of STEPS) await handler({ Step, SecretId: arn, ClientRequestToken: token });
}

function perRotation(counts: Record<string, number>, rotations: number): Record<string, number> {
  const result = Object.fromEntries(
    Object.entries(counts).map(([op, n]) => [op, round(n / rotations, 2)]),
  );
  result.total = round(Object.values(counts).reduce((a, b) => a + b, 0) / rotations, 2);
  return result;
}

/** Starts a PostgreSQL of the bench's own, with room for the fleet's connections. */
async function startBenchPostgres(): Promise<{
  server: PostgresServer;
  stop: () => Promise<void>;
}> {
  const runDir = mkdtempSync(join(tmpdir(), 'rotation-bench-'));
  const runAs = await resolveServerUser();
  if (runAs) await allowTraversal(runDir);
  const [certificates, build, [port]] = await Promise.all([
    createTestCertificates(runDir),
    findEmbeddedPostgres(),
    reserveFreePorts(1),
  ]);
  const started = await startLocalPostgres({
    name: 'postgresql-bench',
    build,
    runDir,
    port: port as number,
    certificates,
    runAs,
    settings: { max_connections: String(MAX_CONNECTIONS) },
  });
  return {
    server: started.value,
    stop: async () => {
      await started.stop();
      const { rm } = await import('node:fs/promises');
      await rm(runDir, { recursive: true, force: true });
    },
  };
}

async function postgresSessionsLeft(server: PostgresServer): Promise<number> {
  const [rows] = await runAs(
    server,
    { ...superuser(server), tls: false },
    "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'rotation-lambdas'",
  );
  return Number((rows as { n: string }[] | undefined)?.[0]?.n ?? 0);
}

async function mysqlQuery(server: MysqlServer, sql: string): Promise<Record<string, unknown>[]> {
  const [rows] = await mysqlRun(server, mysqlRoot(server), sql);
  return rows as Record<string, unknown>[];
}

async function fleet(
  target: Target,
  handler: Handler,
  service: RotationService,
  sessionsLeft: (() => Promise<number>) | undefined,
): Promise<FleetResult[]> {
  const proxy = new TcpProxy(target.address.host, target.address.port);
  const port = await proxy.start();
  const results: FleetResult[] = [];
  try {
    for (const size of FLEET_SIZES) {
      const arns = await target.createSecrets(size, { host: '127.0.0.1', port });
      process.env.DB_CONNECT_TIMEOUT_SECONDS = String(FLEET_CONNECT_TIMEOUT_SECONDS);
      proxy.reset();
      const started = performance.now();
      const concurrency = Math.min(size, FLEET_CONCURRENCY);
      const outcomes = await boundedSettled(arns, concurrency, (arn) =>
        rotateOnce(service, handler, arn),
      );
      const wallMs = performance.now() - started;
      const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      delete process.env.DB_CONNECT_TIMEOUT_SECONDS;
      const leftOpen = await proxy.settle(3000);
      results.push({
        secrets: size,
        concurrency,
        wallMs: round(wallMs, 0),
        failures: failures.length,
        firstFailure: failures[0]
          ? String((failures[0].reason as Error)?.message ?? failures[0].reason)
          : undefined,
        peakConnections: proxy.peak,
        connectionsOpened: proxy.total,
        leftOpen,
        serverSessionsLeft: sessionsLeft ? await sessionsLeft() : undefined,
      });
      log(
        `  fleet ${size}: ${round(wallMs / 1000, 1)} s, ${failures.length} failures, peak ${proxy.peak} connections, ${leftOpen} left open`,
      );
    }
  } finally {
    await proxy.stop();
  }
  return results;
}

/** Like Promise.allSettled over `items`, with at most `width` running at once. */
async function boundedSettled<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<void>,
): Promise<PromiseSettledResult<void>[]> {
  const results: PromiseSettledResult<void>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

/** One process like a Lambda instance: the bundle, five rotations; its peak RSS. */
function peakRss(
  fn: string,
  arn: string,
  env: NodeJS.ProcessEnv,
  execArgv: string[],
): Promise<{ maxRssKb: number; afterLoadKb: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(
      join(ROOT, 'bench', 'rotation-child.cjs'),
      [bundlePath(fn), arn, String(RSS_ROTATIONS)],
      // Not this process's flags (run-ts adds --enable-source-maps): only those asked for.
      { env, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    let answer: { maxRssKb?: number; afterLoadKb?: number; error?: string } = {};
    child.on('message', (message) => {
      answer = message as typeof answer;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0 || answer.error || answer.maxRssKb === undefined) {
        reject(
          new Error(
            `rotation child for ${fn} failed (exit ${code}): ${answer.error ?? 'no answer'}`,
          ),
        );
      } else {
        resolve({ maxRssKb: answer.maxRssKb, afterLoadKb: answer.afterLoadKb ?? 0 });
      }
    });
  });
}

async function measure(
  target: Target,
  env: TestEnvironment,
  service: RotationService,
  smProxy: CountingProxy,
  smProxyUrl: string,
  coldStart: ColdStart,
  sessionsLeft: (() => Promise<number>) | undefined,
): Promise<FunctionResult> {
  log(`\n${target.fn} on ${target.server}`);
  const handler = load(target.fn);
  if (target.caFile) process.env.NODE_EXTRA_CA_CERTS = target.caFile;

  // Secrets Manager calls, as the service drives the function.
  const [counted] = await target.createSecrets(1);
  process.env.SECRETS_MANAGER_ENDPOINT = smProxyUrl;
  await rotateOnce(service, handler, counted as string);
  smProxy.reset();
  for (let i = 0; i < COUNTED_ROTATIONS; i++) await rotateOnce(service, handler, counted as string);
  const protocolCalls = perRotation(smProxy.snapshot(), COUNTED_ROTATIONS);
  log(`  Secrets Manager calls per rotation: ${JSON.stringify(protocolCalls)}`);

  // Latency, straight to moto.
  process.env.SECRETS_MANAGER_ENDPOINT = env.secretsManagerEndpoint;
  const [timed] = await target.createSecrets(1);
  await rotateOnce(service, handler, timed as string);
  const times: number[] = [];
  for (let i = 0; i < ROTATIONS; i++) {
    const started = performance.now();
    await rotateOnce(service, handler, timed as string);
    times.push(performance.now() - started);
  }
  const latency = {
    rotations: ROTATIONS,
    medianMs: round(percentile(times, 50)),
    p95Ms: round(percentile(times, 95)),
    minMs: round(Math.min(...times)),
  };
  log(`  latency: median ${latency.medianMs} ms, p95 ${latency.p95Ms} ms`);

  // Peak RSS of a Lambda-like process, as deployed by default (no source maps) and with source
  // maps; the first run also counts the runner start mode's Secrets Manager calls.
  const childEnv = {
    PATH: process.env.PATH,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    SECRETS_MANAGER_ENDPOINT: smProxyUrl,
    ...(target.caFile ? { NODE_EXTRA_CA_CERTS: target.caFile } : {}),
  };
  const [rssSecret, plainSecret] = await target.createSecrets(2);
  smProxy.reset();
  const plain = await peakRss(target.fn, rssSecret as string, childEnv, []);
  const runnerCalls = perRotation(smProxy.snapshot(), RSS_ROTATIONS);
  const mapped = await peakRss(target.fn, plainSecret as string, childEnv, [
    '--enable-source-maps',
  ]);
  log(
    `  peak RSS ${round(plain.maxRssKb / 1024)} MB (${round(mapped.maxRssKb / 1024)} MB with source maps); runner start mode calls: ${JSON.stringify(runnerCalls)}`,
  );

  const fleetResults = await fleet(target, handler, service, sessionsLeft);
  return {
    function: target.fn,
    server: target.server,
    bundleBytes: statSync(bundlePath(target.fn)).size,
    coldStart,
    secretsManagerCalls: { rotateSecretProtocol: protocolCalls, runnerStartMode: runnerCalls },
    latency,
    fleet: fleetResults,
    peakRssMb: round(plain.maxRssKb / 1024),
    peakRssWithSourceMapsMb: round(mapped.maxRssKb / 1024),
    rssAfterLoadMb: round(plain.afterLoadKb / 1024),
  };
}

function markdown(results: FunctionResult[], baseline: { medianMs: number }): string {
  const fleetCell = (r: FunctionResult, size: number) => {
    const f = r.fleet.find((x) => x.secrets === size);
    return f
      ? `${round(f.wallMs / 1000, 1)} s / ${f.failures} / ${f.peakConnections} / ${f.leftOpen}`
      : 'n/a';
  };
  const calls = (c: Record<string, number>) => c.total ?? 0;
  const main = [
    `| function | bundle bytes | cold start ms: median / p95 (source maps) | SM calls per rotation | rotation ms (median / p95) | ${FLEET_SIZES.map((n) => `fleet ${n}: wall / failures / peak conns / left open`).join(' | ')} | peak RSS MB (deployed / with source maps) |`,
    `|---|--:|--:|--:|--:|${FLEET_SIZES.map(() => '--:|').join('')}--:|`,
    ...results.map(
      (r) =>
        `| ${r.function} | ${r.bundleBytes} | ${r.coldStart.medianMs} / ${r.coldStart.p95Ms} (${r.coldStart.withSourceMaps.medianMs}) | ${calls(r.secretsManagerCalls.rotateSecretProtocol)} | ${r.latency.medianMs} / ${r.latency.p95Ms} | ${FLEET_SIZES.map((n) => fleetCell(r, n)).join(' | ')} | ${r.peakRssMb} / ${r.peakRssWithSourceMapsMb} |`,
    ),
  ];
  const operations = [
    'DescribeSecret',
    'GetSecretValue',
    'PutSecretValue',
    'UpdateSecretVersionStage',
  ];
  const byOperation = [
    `| function | ${operations.join(' | ')} | total | runner start mode (total) |`,
    `|---|${operations.map(() => '--:|').join('')}--:|--:|`,
    ...results.map((r) => {
      const c = r.secretsManagerCalls.rotateSecretProtocol;
      return `| ${r.function} | ${operations.map((op) => c[op] ?? 0).join(' | ')} | ${c.total} | ${r.secretsManagerCalls.runnerStartMode.total} |`;
    }),
  ];
  return [
    `Cold start: a fresh \`node\` process loading the bundle and its handler, ${COLD_STARTS} runs, minus an empty process (median ${baseline.medianMs} ms); in brackets the median with \`--enable-source-maps\` (template parameter SourceMaps=true). Rotation: RotateSecret on moto + the four steps, ${ROTATIONS} runs after a warm-up. Fleet: fresh secrets, at most ${FLEET_CONCURRENCY} rotations in flight, all in one process (DB_CONNECT_TIMEOUT_SECONDS=${FLEET_CONNECT_TIMEOUT_SECONDS}), connections counted by a TCP proxy. Peak RSS: VmHWM of a process loading the bundle and running ${RSS_ROTATIONS} rotations, as deployed by default, and with \`NODE_OPTIONS=--enable-source-maps\` (SourceMaps=true).`,
    '',
    ...main,
    '',
    'Secrets Manager calls per full rotation, by operation (counted at the endpoint):',
    '',
    ...byOperation,
  ].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const names = functionNames();
  for (const fn of names) statSync(bundlePath(fn)); // built?
  log(`Cold starts: ${COLD_STARTS} fresh processes per bundle, interleaved with an empty one …`);
  const cold = measureColdStarts(new Map(names.map((fn) => [fn, bundlePath(fn)])), COLD_STARTS);
  log(`  baseline (node -e ""): median ${cold.baseline.medianMs} ms`);

  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    // Failures must show; the functions' INFO lines would only slow the fleet down.
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  const [{ env, stop }, pg] = await Promise.all([startEnvironment(), startBenchPostgres()]);
  const smProxy = new CountingProxy(env.secretsManagerEndpoint);
  const results: FunctionResult[] = [];
  try {
    const smProxyUrl = await smProxy.start();
    const service = new RotationService(
      env.secretsManagerEndpoint,
      join(env.runDir, 'captured-logs', 'bench.log'),
    );
    // Each family on its own newest server: mysql-* on MySQL (MariaDB if there is none).
    const plain = env.mysql.filter((s) => !s.requireSecureTransport);
    const mariadb = newest(plain.filter((s) => s.flavor === 'mariadb'));
    const mysqlServer = newest(plain.filter((s) => s.flavor === 'mysql')) ?? mariadb;
    const mongo = env.mongodb[0];
    if (!mariadb || !mysqlServer || !mongo) {
      throw new Error('the environment has no MariaDB or no MongoDB server');
    }
    for (const server of new Set([mariadb, mysqlServer])) {
      await mysqlQuery(server, `SET GLOBAL max_connections = ${MAX_CONNECTIONS}`);
    }
    const mysqlFamily = { mysql: mysqlServer, mariadb };
    const targets = [
      ...postgresTargets(pg.server, service),
      ...mysqlTargets(mysqlServer, 'mysql', service),
      ...mysqlTargets(mariadb, 'mariadb', service),
      ...mongoTargets(mongo, service),
    ].filter((t) => names.includes(t.fn));
    for (const target of targets) {
      const family = target.fn.split('-')[0] as string;
      const mysqlTarget =
        family === 'mysql' || family === 'mariadb' ? mysqlFamily[family] : undefined;
      const sessionsLeft = target.fn.startsWith('postgresql')
        ? () => postgresSessionsLeft(pg.server)
        : !mysqlTarget
          ? undefined
          : async () =>
              Number(
                (
                  await mysqlQuery(
                    mysqlTarget,
                    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler') AND COMMAND <> 'Daemon'",
                  )
                )[0]?.n ?? 0,
              );
      results.push(
        await measure(
          target,
          env,
          service,
          smProxy,
          smProxyUrl,
          cold.results.get(target.fn) as ColdStart,
          sessionsLeft,
        ),
      );
    }
  } finally {
    await smProxy.stop();
    await Promise.allSettled([stop(), pg.stop()]);
  }
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const report = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    settings: {
      rotations: ROTATIONS,
      coldStarts: COLD_STARTS,
      fleetSizes: FLEET_SIZES,
      countedRotations: COUNTED_ROTATIONS,
      rssRotations: RSS_ROTATIONS,
    },
    coldStartBaseline: cold.baseline,
    functions: results,
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(join(dir, 'benchmarks.json'), `${JSON.stringify(report, null, 2)}\n`);
  const table = markdown(results, cold.baseline);
  writeFileSync(join(dir, 'benchmarks.md'), `${table}\n`);
  log(`\n${table}\n\nbench/results/benchmarks.{json,md} written in ${report.durationSeconds} s`);
  const bad = results.flatMap((r) =>
    r.fleet
      .filter((f) => f.failures > 0 || f.leftOpen > 0 || (f.serverSessionsLeft ?? 0) > 0)
      .map(
        (f) =>
          `${r.function} fleet ${f.secrets}: ${f.failures} failures (${f.firstFailure ?? ''}), ${f.leftOpen} left open`,
      ),
  );
  if (bad.length > 0) throw new Error(`fleet goals missed:\n${bad.join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
