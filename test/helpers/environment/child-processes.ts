import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** An unprivileged OS account that servers are run as when the test process is root. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

/** Options shared by the helpers that start processes. */
export interface ProcessOptions {
  /** Run as this user instead of the current one. */
  runAs?: ServerUser | undefined;
  cwd?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/** How a child process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started child process whose exit can be observed at any time. */
export interface WatchedProcess {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<ExitStatus>;
  /** The exit status, or undefined while the process is still running. */
  exitStatus: () => ExitStatus | undefined;
}

function identity(options: ProcessOptions): { uid?: number; gid?: number } {
  return options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {};
}

/** Runs a command and returns its stdout; the error carries stderr when it fails. */
export async function captureCommand(
  file: string,
  args: readonly string[],
  options: ProcessOptions = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, {
      cwd: options.cwd ?? '/',
      env: options.env ?? process.env,
      ...identity(options),
    });
    return stdout;
  } catch (error) {
    throw new Error(`\`${[file, ...args].join(' ')}\` failed: ${describeExecError(error)}`);
  }
}

function describeExecError(error: unknown): string {
  if (error instanceof Error) {
    const stderr = 'stderr' in error && typeof error.stderr === 'string' ? error.stderr.trim() : '';
    return stderr === '' ? error.message : `${error.message.split('\n')[0]}\n${stderr}`;
  }
  return String(error);
}

/**
 * Starts a long-running process with stdout and stderr appended to `logFile`.
 * Resolves once the process has been spawned; rejects if the executable cannot be run at all.
 */
export async function spawnLogged(
  file: string,
  args: readonly string[],
  logFile: string,
  options: ProcessOptions & { detached?: boolean } = {},
): Promise<WatchedProcess> {
  const log = await open(logFile, 'a');
  try {
    const child = spawn(file, args, {
      cwd: options.cwd ?? '/',
      env: options.env ?? process.env,
      stdio: ['ignore', log.fd, log.fd],
      detached: options.detached ?? false,
      ...identity(options),
    });
    const watched = watch(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return watched;
  } finally {
    // The child holds its own copy of the descriptor.
    await log.close();
  }
}

function watch(child: ChildProcess): WatchedProcess {
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
  });
  return { child, exited, exitStatus: () => status };
}

/** Runs a command to completion with its output appended to `logFile`; throws with the log tail on failure. */
export async function runLogged(
  file: string,
  args: readonly string[],
  logFile: string,
  options: ProcessOptions = {},
): Promise<void> {
  const { exited } = await spawnLogged(file, args, logFile, options);
  const status = await exited;
  if (status.code !== 0) {
    throw new Error(
      `\`${[file, ...args].join(' ')}\` ${describeExit(status)}\n${await logTail(logFile)}`,
    );
  }
}

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Human-readable summary of an exit status. */
export function describeExit(status: ExitStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

/** The last `lines` lines of a log file, formatted for inclusion in an error message. */
export async function logTail(logFile: string, lines = 20): Promise<string> {
  let text: string;
  try {
    text = await readFile(logFile, 'utf8');
  } catch {
    return `(no log at ${logFile})`;
  }
  const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
  return `--- last ${lines} lines of ${logFile} ---\n${tail}\n--- end of log ---`;
}

/**
 * Signals a process (or its whole process group) and waits for it to exit,
 * escalating to SIGKILL after `graceMs`.
 */
export async function terminate(
  process_: WatchedProcess,
  signal: NodeJS.Signals,
  { graceMs, group = false }: { graceMs: number; group?: boolean },
): Promise<void> {
  const pid = process_.child.pid;
  if (pid === undefined || process_.exitStatus()) {
    return;
  }
  const target = group ? -pid : pid;
  sendSignal(target, signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const outcome = await Promise.race([process_.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    sendSignal(target, 'SIGKILL');
    await process_.exited;
  }
}

function sendSignal(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch (error) {
    // ESRCH: already gone, which is what we want.
    if (!(error instanceof Error && 'code' in error && error.code === 'ESRCH')) {
      throw error;
    }
  }
}

/** Every port {@link reserveFreePorts} has handed out in this process. */
const handedOutPorts = new Set<number>();

/**
 * Finds `count` distinct free TCP ports on 127.0.0.1 by binding port 0.
 * All sockets are held open until every port is known so the ports cannot repeat, and a port
 * handed out by an earlier call (for a server started in parallel) is never handed out again.
 */
export async function reserveFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    while (ports.length < count) {
      const server = createServer();
      servers.push(server);
      const port = await listenOnFreePort(server);
      if (!handedOutPorts.has(port)) {
        ports.push(port);
      }
    }
    for (const port of ports) {
      handedOutPorts.add(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

function listenOnFreePort(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('could not determine a free TCP port'));
      } else {
        resolve(address.port);
      }
    });
  });
}

/**
 * Calls `attempt` until it succeeds, `failFast` reports a fatal problem, or `timeoutMs` elapses.
 * A throwing attempt means "not ready yet"; its error is reported on timeout.
 */
export async function waitFor<T>(
  description: string,
  attempt: () => Promise<T>,
  {
    timeoutMs,
    intervalMs = 200,
    failFast,
  }: { timeoutMs: number; intervalMs?: number; failFast?: () => Promise<Error | undefined> },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const fatal = await failFast?.();
    if (fatal) {
      throw fatal;
    }
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(
        `${description} was not ready after ${timeoutMs / 1000} s (last error: ${reason})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
