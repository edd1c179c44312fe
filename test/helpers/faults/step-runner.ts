import { type ChildProcess, fork } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** A rotation event, as Secrets Manager sends it. */
export interface StepEvent {
  Step: string;
  SecretId: string;
  ClientRequestToken: string;
}

/** How one invocation ended. */
export type InvocationResult =
  | { outcome: 'succeeded'; ms: number }
  | { outcome: 'failed'; ms: number; error: { name: string; message: string } }
  | { outcome: 'killed'; ms: number; reason: 'fault' | 'timeout' };

/** One invocation: which function, the event, the variables Lambda would set, the time limit. */
export interface Invocation {
  /** The bundle to run (`…/<function name>/index.js`). */
  bundle: string;
  /** The function's name, e.g. `postgresql-single-user`. */
  functionName: string;
  event: StepEvent;
  env: Record<string, string | null>;
  /** The function's time limit: past it, the process is killed, as Lambda does. */
  timeoutMs: number;
}

const CHILD = join(__dirname, 'step-child.cjs');

/**
 * Copies the built bundle of each function into `dir` and returns their paths by name. The fault
 * matrix runs for minutes; a private copy keeps it on the same code if `npm run build` runs
 * meanwhile. The bundles come from `dist/`, or ROTATION_BUNDLE_DIR as for the other suites.
 */
export function copyBundles(names: readonly string[], dir: string): Record<string, string> {
  const source = process.env.ROTATION_BUNDLE_DIR ?? join(__dirname, '..', '..', '..', 'dist');
  const paths: Record<string, string> = {};
  for (const name of names) {
    mkdirSync(join(dir, name), { recursive: true });
    const path = join(dir, name, 'index.js');
    copyFileSync(join(source, name, 'index.js'), path);
    paths[name] = path;
  }
  return paths;
}

/** Variables of the test process an execution environment may see; nothing else is passed on. */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];

/**
 * One execution environment: a child Node process that loads the built bundles and runs one
 * invocation at a time. It can be killed at any moment (SIGKILL), as Lambda kills an environment
 * whose invocation timed out or crashed; a killed environment is never reused.
 */
export class ExecutionEnvironment {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private readonly exited: Promise<void>;
  private pending:
    | { id: number; resolve: (result: InvocationResult) => void; started: number }
    | undefined;
  private nextId = 0;
  private killReason: 'fault' | 'timeout' | undefined;
  private dead = false;
  private readonly lines: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };

  public constructor(
    private readonly logFile: string,
    startEnv: Record<string, string>,
    preload: readonly string[] = [],
  ) {
    const env: Record<string, string> = {};
    for (const key of INHERITED) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    this.child = fork(CHILD, [...preload], {
      env: { ...env, ...startEnv },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      this.child[stream]?.setEncoding('utf8');
      this.child[stream]?.on('data', (chunk: string) => this.output(stream, chunk));
    }
    this.ready = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('message', () => resolve());
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        this.dead = true;
        this.flush();
        const pending = this.pending;
        this.pending = undefined;
        pending?.resolve({
          outcome: 'killed',
          ms: Date.now() - pending.started,
          reason: this.killReason ?? 'fault',
        });
        resolve();
      });
    });
    this.child.on('message', (message: { id?: number; ok?: boolean; error?: never }) => {
      const pending = this.pending;
      if (!pending || message.id !== pending.id) return;
      this.pending = undefined;
      const ms = Date.now() - pending.started;
      if (message.ok) {
        pending.resolve({ outcome: 'succeeded', ms });
        return;
      }
      const error = (message.error ?? {}) as { name?: string; message?: string; stack?: string };
      // Thrown errors are function output too: the leak scan reads them.
      appendFileSync(
        this.logFile,
        `${error.name}: ${error.message}\n${error.stack ?? ''}\n`.replace(/\n+$/, '\n'),
      );
      pending.resolve({
        outcome: 'failed',
        ms,
        error: { name: String(error.name), message: String(error.message) },
      });
    });
  }

  /** True once the process has exited; it cannot run anything else. */
  public get isDead(): boolean {
    return this.dead;
  }

  /** Runs one invocation, killing the process if it outlives its time limit. */
  public async invoke(invocation: Invocation): Promise<InvocationResult> {
    await this.ready;
    if (this.dead || this.pending) throw new Error('execution environment is busy or dead');
    const id = this.nextId++;
    const started = Date.now();
    const result = new Promise<InvocationResult>((resolve) => {
      this.pending = { id, resolve, started };
    });
    this.child.send({
      id,
      bundle: invocation.bundle,
      env: { ...invocation.env, AWS_LAMBDA_FUNCTION_NAME: invocation.functionName },
      event: invocation.event,
    });
    const timer = setTimeout(() => void this.kill('timeout'), invocation.timeoutMs);
    try {
      return await result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILLs the process and waits until it is gone; a running invocation ends as `killed`. */
  public async kill(reason: 'fault' | 'timeout' = 'fault'): Promise<void> {
    if (!this.dead) {
      this.killReason ??= reason;
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  private output(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.lines[stream] + chunk;
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.lines[stream] = text;
      return;
    }
    appendFileSync(this.logFile, text.slice(0, end + 1));
    this.lines[stream] = text.slice(end + 1);
  }

  private flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.lines[stream]) appendFileSync(this.logFile, `${this.lines[stream]}\n`);
      this.lines[stream] = '';
    }
  }
}

/**
 * Warm execution environments to lend out, one invocation or one fault point at a time. A killed
 * environment is replaced by a new one; `spares` are kept started (bundles loaded) so that a kill
 * costs the next attempt no start-up.
 */
export class EnvironmentPool {
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly all = new Set<ExecutionEnvironment>();

  public constructor(
    private readonly logFile: string,
    private readonly startEnv: Record<string, string>,
    private readonly preload: readonly string[],
    private readonly spares = 2,
  ) {}

  /** A live environment, not lent to anyone else until {@link release}. */
  public acquire(): ExecutionEnvironment {
    let environment = this.idle.shift();
    while (environment?.isDead) environment = this.idle.shift();
    environment ??= this.spawn();
    while (this.idle.length < this.spares) this.idle.push(this.spawn());
    return environment;
  }

  public release(environment: ExecutionEnvironment): void {
    if (!environment.isDead) this.idle.push(environment);
    else this.all.delete(environment);
  }

  /** Kills every environment. */
  public async close(): Promise<void> {
    await Promise.all([...this.all].map((e) => e.kill()));
    this.all.clear();
    this.idle.length = 0;
  }

  private spawn(): ExecutionEnvironment {
    const environment = new ExecutionEnvironment(this.logFile, this.startEnv, this.preload);
    this.all.add(environment);
    return environment;
  }
}
