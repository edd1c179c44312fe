import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  describeExit,
  errorMessage,
  logTail,
  spawnLogged,
  terminate,
  type WatchedProcess,
  waitFor,
} from './child-processes';
import type { Started } from './types';

/**
 * Where the demo and `scripts/provision.sh` install moto when the machine's python3 lacks it: a
 * virtual environment of our own, nothing outside it touched.
 */
export const MOTO_VENV = join(
  process.env.XDG_CACHE_HOME || join(homedir(), '.cache'),
  'rotation-lambdas',
  'moto-venv',
);
/** The virtual environment's python3 when there is one, else the machine's. */
const PYTHON = existsSync(join(MOTO_VENV, 'bin', 'python3'))
  ? join(MOTO_VENV, 'bin', 'python3')
  : 'python3';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const INSTALL_HINT = "pip install 'moto[server]'";

/**
 * `python3 -c` source for moto's server (`python3 -m moto.server`, same arguments) answering one
 * request at a time. moto's backends are not thread-safe, and its server runs a thread per request:
 * Secrets Manager's lookup of a secret by name or ARN iterates over every secret of the region
 * (`SecretsStore.__contains__`), so a CreateSecret in another thread makes it raise "dictionary
 * changed size during iteration", which the server answers with HTTP 500 (the kind of race of
 * getmoto/moto#372 and #10185). The SDK retries a 500, so most tests would pass anyway, but the
 * call is made twice, and the fault matrix, which places faults by counting calls, sees a clean run
 * unlike the others. The real service fails no call this way. Every moto call takes milliseconds;
 * the tests' long waits happen in their own proxies, not in moto. The container path runs the same
 * source. Inline rather than a file, so that bundled scripts (the demo, the benchmark) need no path.
 */
export const MOTO_SERIAL_PYTHON = [
  'import sys, moto.server',
  'run_simple = moto.server.run_simple',
  'moto.server.run_simple = lambda *a, **k: run_simple(*a, **{**k, "threaded": False})',
  'moto.server.main(sys.argv[1:])',
].join('\n');

/**
 * Starts moto's Secrets Manager-compatible server (`python3 -m moto.server`, through
 * {@link MOTO_SERIAL_PYTHON}) on 127.0.0.1:`port` and waits until it answers HTTP. Output goes to
 * `runDir/moto.log`. Resolves to the endpoint URL.
 */
export async function startLocalMoto(runDir: string, port: number): Promise<Started<string>> {
  const logFile = join(runDir, 'moto.log');
  const endpoint = `http://127.0.0.1:${port}`;
  let server: WatchedProcess;
  try {
    server = await spawnLogged(
      PYTHON,
      ['-c', MOTO_SERIAL_PYTHON, '-H', '127.0.0.1', '-p', String(port)],
      logFile,
      {
        cwd: runDir,
        // Unbuffered, so the log tail in error messages is complete.
        env: { ...process.env, PYTHONUNBUFFERED: '1' },
        // Own process group, so stop() also reaches anything a python wrapper or shim spawned.
        detached: true,
      },
    );
  } catch (error) {
    throw new Error(
      `cannot start moto: ${PYTHON} not found (${errorMessage(error)}); install Python 3 and ${INSTALL_HINT}`,
    );
  }
  const stop = () => terminate(server, 'SIGTERM', { graceMs: STOP_TIMEOUT_MS, group: true });
  try {
    await waitFor(`moto server on ${endpoint}`, () => answersHttp(`${endpoint}/moto-api/`), {
      timeoutMs: START_TIMEOUT_MS,
      failFast: async () => {
        const status = server.exitStatus();
        return (
          status &&
          new Error(
            `moto server ${describeExit(status)} during startup${await installHint(logFile)}`,
          )
        );
      },
    });
    return { value: endpoint, stop };
  } catch (error) {
    await stop();
    throw new Error(`${errorMessage(error)}\n${await logTail(logFile)}`);
  }
}

async function answersHttp(url: string): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  if (!response.ok) {
    throw new Error(`GET ${url} returned HTTP ${response.status}`);
  }
}

async function installHint(logFile: string): Promise<string> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  return /No module named|ModuleNotFoundError|ImportError/.test(log)
    ? ` (moto or its server extras are missing: ${INSTALL_HINT})`
    : '';
}
