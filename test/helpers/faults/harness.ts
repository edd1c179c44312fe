import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { TestEnvironment } from '../environment';
import { RotationService } from '../rotation-service';
import { DatabaseProxy, type DbHooks } from './db-proxy';
import {
  checkAlways,
  checkCompleted,
  type PairFacts,
  SecretObserver,
  type Snapshot,
} from './observe';
import {
  ABSORBED_KIND,
  type AbsorbedAction,
  type BoundaryPoint,
  boundaryLabel,
  type FaultKind,
  type Flow,
  type FlowTrace,
  flowSteps,
  generatePoints,
  pointLabel,
  STEPS,
  type Step,
  type StepTrace,
  stableTrace,
} from './points';
import { callLabel, SecretsManagerProxy, type SmHooks } from './sm-proxy';
import {
  copyBundles,
  EnvironmentPool,
  type ExecutionEnvironment,
  type InvocationResult,
} from './step-runner';
import {
  type FaultTarget,
  type Fixture,
  type SecretValue,
  STRATEGIES,
  type Strategy,
} from './targets';

/** How often the service invokes a failed step again before it gives up. */
export const MAX_RETRIES = 3;
/** The functions' time limit in a normal invocation; a step that takes this long has hung. */
const STEP_TIMEOUT_MS = 30_000;
/**
 * A stalled boundary's attempt runs with DB_CONNECT_TIMEOUT_SECONDS=1 and this time limit, so a
 * stalled login fails on the function's own connect timeout and anything else ends at the limit,
 * as a Lambda timeout does (the function has 60 s and 5 s in its template and defaults).
 */
const STALL_TIMEOUT_MS = 3_000;
const STALL_CONNECT_TIMEOUT_SECONDS = '1';
/** DB_CONNECT_TIMEOUT_SECONDS otherwise (5 s by default): an unreachable server costs less. */
const CONNECT_TIMEOUT_SECONDS = '2';
/** Clean traced runs per flow: faults go only where all of them had a boundary. */
const TRACE_RUNS = 3;
/**
 * Clean runs in which the SDK sent a call again (an attempt above 1), and which are therefore
 * traced again rather than used: their calls are not the flow's own. One is allowed per flow.
 */
const TRACE_RETRIES_ALLOWED = 1;

/** The outcome of one fault point: what ran, and every invariant it broke. */
export interface PointResult {
  family: string;
  server: string;
  strategy: Strategy;
  kind: FaultKind;
  flow: Flow | 'scenario';
  label: string;
  /** False when the traced boundary did not occur in the faulted run (nothing was injected). */
  reached: boolean;
  passed: boolean;
  problems: string[];
  /** Every invocation, in order, with its outcome; and what the harness did between them. */
  history: string[];
  ms: number;
}

/** A fault that is a situation rather than a boundary, run as a whole by {@link FaultHarness}. */
export interface Scenario {
  kind: FaultKind;
  label: string;
  run: (run: PointRun) => Promise<void>;
}

/** What happened to one invocation, for the history and failure messages. */
export function describeResult(result: InvocationResult): string {
  if (result.outcome === 'succeeded') return 'succeeded';
  if (result.outcome === 'killed') return `killed (${result.reason})`;
  return `failed: ${result.error.name}: ${result.error.message}`;
}

/** Options of one invocation. */
export interface InvokeOptions {
  /** Proxy hooks for this attempt only, given the environment that runs it (to kill it). */
  hooks?: (environment: ExecutionEnvironment) => { db?: DbHooks; sm?: SmHooks };
  /** A stalled boundary: short time limit and connect timeout. */
  stall?: boolean;
  /** Another environment than the run's own (two invocations at once). */
  environment?: ExecutionEnvironment;
}

/**
 * One fault point's world: its own database proxy and Secrets Manager proxy (so points can run side
 * by side), its own users and secrets, and the execution environments that run its steps.
 */
export class PointRun {
  public readonly problems: string[] = [];
  public readonly history: string[] = [];
  /** Whether invariant 1 is checked after each attempt (off while a person's change is pending). */
  public checking = true;
  /**
   * Set once a person set a password by hand: dual passwords' stronger invariants then lapse, and
   * in pair mode (where it is set only when the live user's password was changed) those about the
   * live user.
   */
  public handChanged = false;
  /** Pair mode: AWSCURRENT's user and password when the latest RotateSecret was requested. */
  public liveBefore: { username: string; password: string } | undefined;
  public fixture!: Fixture;
  public observer!: SecretObserver;
  public readonly db: DatabaseProxy;
  public readonly sm: SecretsManagerProxy;
  /** The database proxy's port: what the secrets name as the server's. */
  public port = 0;
  private endpoint = '';
  private environment: ExecutionEnvironment | undefined;
  private readonly borrowed: ExecutionEnvironment[] = [];

  public constructor(
    public readonly harness: FaultHarness,
    public readonly strategy: Strategy,
  ) {
    const { host, port } = harness.target.upstream;
    this.db = new DatabaseProxy(host, port);
    this.sm = new SecretsManagerProxy(harness.env.secretsManagerEndpoint);
  }

  public get service(): RotationService {
    return this.harness.service;
  }

  public get target(): FaultTarget {
    return this.harness.target;
  }

  /** Whether dual passwords' invariants hold for this run (see DualPasswords). */
  private get dualPasswords(): boolean {
    return this.target.dualPasswords === true && !this.handChanged;
  }

  /** What pair mode's invariants need (see PairFacts). */
  private get pairFacts(): PairFacts | undefined {
    if (this.strategy !== 'pair') return undefined;
    return { live: this.liveBefore, liveChangedByHand: this.handChanged };
  }

  public get arn(): string {
    return this.fixture.arn;
  }

  public async open(): Promise<void> {
    const started = Date.now();
    [this.port, this.endpoint] = await Promise.all([this.db.start(), this.sm.start()]);
    this.fixture = await this.target.setUp(this.strategy, this.port, this.service);
    this.observer = new SecretObserver(this.service, this.target, this.fixture.arn);
    this.history.push(`users and secrets created (${Date.now() - started} ms)`);
  }

  public async close(): Promise<void> {
    for (const environment of this.borrowed) this.harness.pool(this.strategy).release(environment);
    await Promise.all([this.db.stop(), this.sm.stop()]);
    if (this.fixture) await this.target.tearDown?.(this.fixture);
  }

  /** An execution environment for this run only, returned to the pool when the run closes. */
  public borrow(): ExecutionEnvironment {
    const environment = this.harness.pool(this.strategy).acquire();
    this.borrowed.push(environment);
    return environment;
  }

  private live(): ExecutionEnvironment {
    if (!this.environment || this.environment.isDead) this.environment = this.borrow();
    return this.environment;
  }

  /**
   * RotateSecret as the real service does it: refused while AWSPENDING is on a version other than
   * AWSCURRENT's ("a previous rotation isn't complete"), which moto does not check (it moves the
   * label to the new version). Returns the token the service labelled AWSPENDING.
   */
  public async requestRotation(rotateImmediately = true): Promise<string> {
    const labels = await this.service.labels(this.arn);
    if (labels.AWSPENDING && labels.AWSPENDING !== labels.AWSCURRENT) {
      throw new RotationRefusedError(
        `RotateSecret refused: a previous rotation isn't complete (AWSPENDING is on ${labels.AWSPENDING})`,
      );
    }
    if (this.strategy === 'pair') {
      const current = await this.valueAt('AWSCURRENT');
      this.liveBefore = { username: String(current.username), password: String(current.password) };
    }
    const token = await this.service.startRotation(this.arn, rotateImmediately);
    this.history.push(`RotateSecret${rotateImmediately ? '' : ' (RotateImmediately=false)'}`);
    if (!rotateImmediately) {
      // moto means to fill the new version with a copy of the secret's value, but copies the value
      // the secret was created with, not AWSCURRENT's once it has rotated: store AWSCURRENT's.
      await this.service.client.send(
        new PutSecretValueCommand({
          SecretId: this.arn,
          ClientRequestToken: token,
          SecretString: JSON.stringify(await this.valueAt('AWSCURRENT')),
          VersionStages: ['AWSPENDING'],
        }),
      );
    }
    return token;
  }

  /** Invokes one step once, in the run's environment (a fresh one after a kill). */
  public async invokeOnce(
    step: Step,
    token: string,
    options: InvokeOptions = {},
  ): Promise<InvocationResult> {
    const environment = options.environment ?? this.live();
    const hooks = options.hooks?.(environment);
    if (hooks) {
      this.db.arm(hooks.db);
      this.sm.arm(hooks.sm);
    }
    const functionName = this.target.functionName(this.strategy);
    const result = await environment.invoke({
      bundle: this.harness.bundles[functionName] as string,
      functionName,
      event: { Step: step, SecretId: this.arn, ClientRequestToken: token },
      env: {
        SECRETS_MANAGER_ENDPOINT: this.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${process.versions.node.split('.')[0]}.x`,
        POWERTOOLS_LOG_LEVEL: 'DEBUG',
        DB_CONNECT_TIMEOUT_SECONDS: options.stall
          ? STALL_CONNECT_TIMEOUT_SECONDS
          : CONNECT_TIMEOUT_SECONDS,
        NODE_EXTRA_CA_CERTS: this.target.caFile ?? null,
        ...this.target.functionEnv,
      },
      timeoutMs: options.stall ? STALL_TIMEOUT_MS : STEP_TIMEOUT_MS,
    });
    if (hooks) {
      this.db.arm();
      this.sm.arm();
    }
    // A dead client's sockets close; a stalled proxy connection is closed like them.
    if (result.outcome === 'killed') this.db.dropAll();
    this.history.push(`${step} ${describeResult(result)} (${result.ms} ms)`);
    return result;
  }

  /** Invariant 1, unless a person's change is pending. */
  public async observe(after: string): Promise<Snapshot> {
    const started = Date.now();
    const s = await this.observer.snapshot();
    if (this.checking) {
      const problem = await checkAlways(this.strategy, s, this.dualPasswords, this.pairFacts);
      if (problem) this.problems.push(`after ${after}: ${problem}`);
    }
    this.observeMs += Date.now() - started;
    return s;
  }

  /** Time spent observing, for the report. */
  public observeMs = 0;

  /**
   * Drives one step as the service does: the first attempt (given, or a plain invocation), then up
   * to MAX_RETRIES more while it fails, observing after each. Returns the last result.
   */
  public async drive(
    step: Step,
    token: string,
    first?: () => Promise<InvocationResult>,
  ): Promise<InvocationResult> {
    let result = first ? await first() : await this.invokeOnce(step, token);
    await this.observe(`${step} attempt 1`);
    for (let attempt = 2; result.outcome !== 'succeeded' && attempt <= 1 + MAX_RETRIES; attempt++) {
      result = await this.invokeOnce(step, token);
      await this.observe(`${step} attempt ${attempt}`);
    }
    if (result.outcome !== 'succeeded') {
      this.problems.push(
        `${step} never succeeded in ${1 + MAX_RETRIES} attempts; last: ${describeResult(result)}`,
      );
    }
    return result;
  }

  /** Drives `steps` in order; stops at the first that never succeeds. */
  public async driveSteps(
    steps: readonly Step[],
    token: string,
    first?: { step: Step; attempt: () => Promise<InvocationResult> },
  ): Promise<boolean> {
    for (const step of steps) {
      const result = await this.drive(
        step,
        token,
        step === first?.step ? first.attempt : undefined,
      );
      if (result.outcome !== 'succeeded') return false;
    }
    return true;
  }

  /** Invariants 2 and 3 once the rotation of `token` completed. */
  public async checkCompleted(token: string): Promise<void> {
    const s = await this.observer.snapshot();
    const problems = await checkCompleted(
      this.strategy,
      s,
      token,
      this.dualPasswords,
      this.pairFacts,
    );
    for (const problem of problems) {
      this.problems.push(`after completion: ${problem}`);
    }
  }

  /** A complete, clean rotation (no faults), checked like any other. */
  public async cleanRotation(): Promise<string> {
    const token = await this.requestRotation();
    if (await this.driveSteps(STEPS, token)) await this.checkCompleted(token);
    return token;
  }

  /** Removes AWSPENDING from `version`: the service's end of a testSecret-only run, or a person's. */
  public async removePending(version: string): Promise<void> {
    await this.service.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: this.arn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: version,
      }),
    );
  }

  /** After a testSecret-only run: AWSCURRENT still on `currentVersion` and logging in, no AWSPENDING. */
  public async checkTestAloneDone(currentVersion: string | undefined): Promise<void> {
    const s = await this.observer.snapshot();
    if (s.labels.AWSCURRENT !== currentVersion) this.problems.push('AWSCURRENT moved');
    if (!(await s.logsIn('AWSCURRENT'))) this.problems.push('AWSCURRENT does not log in');
    if (s.labels.AWSPENDING) this.problems.push(`AWSPENDING is left on ${s.labels.AWSPENDING}`);
  }

  /**
   * Stores `value` as a new version and moves AWSCURRENT to it, as a person fixing the secret with
   * PutSecretValue would. Done in two calls because moto's PutSecretValue with AWSCURRENT labels
   * the wrong version AWSPREVIOUS (the one its RotateSecret last made default, here the pending
   * one) and leaves AWSCURRENT on the old version too; UpdateSecretVersionStage moves the labels as
   * the real service does.
   */
  public async putCurrentByHand(value: SecretValue): Promise<void> {
    const version = randomUUID();
    const from = (await this.service.labels(this.arn)).AWSCURRENT;
    await this.service.client.send(
      new PutSecretValueCommand({
        SecretId: this.arn,
        ClientRequestToken: version,
        SecretString: JSON.stringify(value),
        VersionStages: [HAND_LABEL],
      }),
    );
    await this.moveLabel('AWSCURRENT', version, from);
    await this.moveLabel(HAND_LABEL, undefined, version);
    this.history.push('a person puts the working password in AWSCURRENT');
  }

  private async moveLabel(label: string, to: string | undefined, from: string | undefined) {
    await this.service.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: this.arn,
        VersionStage: label,
        MoveToVersionId: to,
        RemoveFromVersionId: from,
      }),
    );
  }

  /** The value of the version a label is on now. */
  public async valueAt(label: string): Promise<SecretValue> {
    const version = (await this.service.labels(this.arn))[label];
    const value = version ? await this.observer.value(version) : undefined;
    if (!value) throw new Error(`${label} has no value`);
    return value;
  }
}

/** The label of the parity sweep's points. */
const PARITY = 'parity (the idle user lacks a right)';

/** A label of the harness's own, on a version a person is about to make AWSCURRENT. */
const HAND_LABEL = 'FAULT_HARNESS_BY_HAND';

/** Thrown where the real service refuses RotateSecret (the harness plays that service). */
export class RotationRefusedError extends Error {}

/**
 * The fault matrix for one target (a function family on one server): traces clean runs to find
 * the boundaries, runs each boundary fault and each scenario in a world of its own, and reports
 * per point.
 */
export class FaultHarness {
  public readonly service: RotationService;
  /** Function name → the private copy of its bundle. */
  public readonly bundles: Record<string, string>;
  private readonly pools = new Map<Strategy, EnvironmentPool>();

  public constructor(
    public readonly env: TestEnvironment,
    public readonly target: FaultTarget,
    private readonly logFile: string,
  ) {
    this.bundles = copyBundles(
      [...new Set(STRATEGIES.map((s) => target.functionName(s)))],
      join(env.runDir, 'fault-bundles', `${process.pid}-${target.family}`),
    );
    this.service = new RotationService(env.secretsManagerEndpoint, logFile);
  }

  /** The execution environments of one function, its bundle loaded at start. */
  public pool(strategy: Strategy): EnvironmentPool {
    let pool = this.pools.get(strategy);
    if (!pool) {
      pool = new EnvironmentPool(
        this.logFile,
        {
          AWS_REGION: 'us-east-1',
          ...(this.target.caFile ? { NODE_EXTRA_CA_CERTS: this.target.caFile } : {}),
        },
        [this.bundles[this.target.functionName(strategy)] as string],
      );
      this.pools.set(strategy, pool);
    }
    return pool;
  }

  /** Stops the execution environments of `strategy`, or of every strategy. */
  public async close(strategy?: Strategy): Promise<void> {
    for (const [s, pool] of this.pools) {
      if (strategy && s !== strategy) continue;
      await pool.close();
      this.pools.delete(s);
    }
  }

  /** The boundaries of a flow: several clean traced runs, reduced to what all of them share. */
  public async traceFlow(strategy: Strategy, flow: Flow): Promise<FlowTrace> {
    const traces: FlowTrace[] = [];
    const retried: string[] = [];
    while (traces.length < TRACE_RUNS) {
      const trace = await this.traceOnce(strategy, flow);
      const again = retriedCalls(trace);
      if (again.length === 0) {
        traces.push(trace);
      } else if (retried.push(again.join(', ')) > TRACE_RETRIES_ALLOWED) {
        throw new Error(
          `clean ${flow} of ${strategy}: the SDK sent calls again in ${retried.length} clean runs (${retried.join('; ')}), so Secrets Manager failed calls no fault was put on; see moto.log in the run directory`,
        );
      }
    }
    return stableTrace(traces);
  }

  /** Runs a flow cleanly, recording each step's boundaries, then measures a login's exchanges. */
  private async traceOnce(strategy: Strategy, flow: Flow): Promise<FlowTrace> {
    const steps: StepTrace[] = [];
    let loginExchanges = 0;
    await this.within(strategy, async (run) => {
      const token = await this.startFlow(run, flow);
      for (const step of flowSteps(flow)) {
        const result = await run.invokeOnce(step, token, { hooks: () => ({}) });
        steps.push({ step, sm: run.sm.lastTrace, db: run.db.lastTrace });
        if (result.outcome !== 'succeeded') {
          throw new Error(`clean ${flow} of ${strategy}: ${step} ${describeResult(result)}`);
        }
        // As a faulted run does after every attempt (drive): the observer's logins leave state on
        // the server that the next step's wire traffic depends on. MySQL's caching_sha2_password
        // takes one more round trip for a password it has not cached yet, so without this a
        // traced login is longer than the same login in the faulted run, and the boundaries after
        // it are off by one exchange.
        await run.observe(`${step} (traced)`);
      }
      await this.finishFlow(run, flow, token);
      if (run.problems.length > 0) {
        throw new Error(`clean ${flow} of ${strategy}: ${run.problems.join('; ')}`);
      }
      loginExchanges = await this.measureLogin(run, await run.valueAt('AWSCURRENT'));
    });
    return { flow, steps, loginExchanges };
  }

  /**
   * How many exchanges the engine adapter's `connect` takes through the proxy, with working
   * credentials: TLS, authentication, and whatever session set-up the adapter does before it hands
   * the session over.
   */
  private async measureLogin(run: PointRun, value: SecretValue): Promise<number> {
    const engine = this.target.engine;
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    if (this.target.caFile) process.env.NODE_EXTRA_CA_CERTS = this.target.caFile;
    try {
      run.db.arm();
      const session = await engine.connect({
        host: '127.0.0.1',
        port: run.port,
        username: String(value.username),
        password: String(value.password),
        database: typeof value.dbname === 'string' ? value.dbname : engine.defaultDatabase,
        tls: 'verify-full',
        connectTimeoutMs: 10_000,
        statementTimeoutMs: 15_000,
        flavor: String(value.engine),
        parameters: {},
      });
      run.db.arm();
      await session.close();
      return Math.max(...run.db.lastTrace.map((c) => c.exchanges.length));
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
    }
  }

  /** One boundary fault: the flow with the fault at its point, then driven on to the end. */
  public runBoundaryPoint(strategy: Strategy, point: BoundaryPoint): Promise<PointResult> {
    let reached = false;
    return this.point(
      { strategy, kind: point.kind, flow: point.flow, label: pointLabel(point) },
      () => reached,
      async (run) => {
        const token = await this.startFlow(run, point.flow);
        const first = async () => {
          const result = await run.invokeOnce(point.step, token, {
            hooks: (environment) =>
              faultHooks(point, environment, (operation) => {
                reached = true;
                const b = point.boundary;
                if (b.type === 'sm' && operation !== b.operation) {
                  run.history.push(`(fault landed on ${operation}, traced ${b.operation})`);
                }
              }),
            stall: point.action === 'stall',
          });
          if (point.absorbed && result.outcome !== 'succeeded') {
            run.problems.push(
              `the SDK's retry replays a call whose answer was lost, and the replay must succeed; the attempt ${describeResult(result)}`,
            );
          }
          if (point.witness && result.outcome === 'failed') {
            run.problems.push(
              `this stall stands for the other stalls of its stream, which are run as kills; it must end at the time limit, but the attempt ${describeResult(result)}: a timer runs there`,
            );
          }
          return result;
        };
        if (
          await run.driveSteps(flowSteps(point.flow), token, { step: point.step, attempt: first })
        )
          await this.finishFlow(run, point.flow, token);
      },
    );
  }

  /**
   * One absorbed fault at every Secrets Manager call of a flow, in one run: each call fails once
   * (refused, 500 or throttled) and its retry goes through, so every step must succeed at its first
   * attempt. Reported as one point per call.
   */
  public async runAbsorbedSweep(
    strategy: Strategy,
    trace: FlowTrace,
    action: AbsorbedAction,
  ): Promise<PointResult[]> {
    const faulted = new Map<Step, string[]>();
    const base = await this.point(
      {
        strategy,
        kind: ABSORBED_KIND[action],
        flow: trace.flow,
        label: `${trace.flow}: ${action} before every Secrets Manager call`,
      },
      () => true,
      async (run) => {
        const token = await this.startFlow(run, trace.flow);
        for (const step of flowSteps(trace.flow)) {
          const operations: string[] = [];
          faulted.set(step, operations);
          let previousFaulted = false;
          const first = async () => {
            const result = await run.invokeOnce(step, token, {
              hooks: () => ({
                sm: {
                  // Every call whose previous call went through fails: each call once.
                  before: (call) => {
                    if (previousFaulted) {
                      previousFaulted = false;
                      return 'forward';
                    }
                    previousFaulted = true;
                    operations.push(call.operation);
                    return action;
                  },
                },
              }),
            });
            if (result.outcome !== 'succeeded') {
              run.problems.push(
                `${step}: the SDK's retry did not absorb ${action}: ${describeResult(result)}`,
              );
            }
            return result;
          };
          if ((await run.drive(step, token, first)).outcome !== 'succeeded') return;
        }
        await this.finishFlow(run, trace.flow, token);
      },
    );
    return trace.steps.flatMap(({ step, sm }) =>
      sm.map((call, k) => {
        const landed = faulted.get(step)?.[k];
        const reached = landed === call.operation;
        const boundary = boundaryLabel({
          type: 'sm',
          call: call.index,
          operation: call.operation,
          phase: 'before',
        });
        return {
          ...base,
          label: `${trace.flow} ${step}: ${boundary}: ${action} (in a sweep)`,
          reached,
          passed: base.passed && reached,
          problems: reached
            ? base.problems
            : [...base.problems, `call ${k + 1} of ${step} was not faulted (${landed ?? 'none'})`],
        };
      }),
    );
  }

  /**
   * Pair mode's parity check under faults. After setSecret the idle user loses a right both users
   * had, so testSecret must refuse to promote it (PrivilegeDriftError); one such refused attempt
   * is traced. Then, in the same world (a refused testSecret changes nothing), testSecret runs
   * again with a fault at each database boundary of that trace: every connection refused from one
   * on, the connection dropped before and after its login and each statement, and a stalled login.
   * None of these attempts may succeed: a fault on the live user's connection must not pass for
   * the live user being unable to log in, the one case where the check is skipped. Then the right
   * is given back, as the error advises, and the rotation must complete. Reported as one point per
   * boundary; nothing is collapsed, since each boundary is a different way to miss the check.
   */
  public async runParitySweep(): Promise<PointResult[]> {
    const { revokeRight, grantRight } = this.target;
    if (!revokeRight || !grantRight) return [];
    const outcomes: { point: BoundaryPoint; reached: boolean; problems: string[] }[] = [];
    const base = await this.point(
      {
        strategy: 'pair',
        kind: 'connection-dropped',
        flow: 'rotation',
        label: `${PARITY}: every database boundary of testSecret`,
      },
      () => true,
      async (run) => {
        const token = await run.requestRotation();
        if (!(await run.driveSteps(['createSecret', 'setSecret'], token))) return;
        const idle = String((await run.valueAt('AWSCURRENT')).alternate_username);
        await revokeRight(idle);
        run.history.push(`a right of the pair is taken from the idle user "${idle}"`);
        // The refused attempt, traced as a clean flow is (several times, to keep what all share).
        const loginExchanges = await this.measureLogin(run, await run.valueAt('AWSCURRENT'));
        const traces: FlowTrace[] = [];
        while (traces.length < TRACE_RUNS) {
          const refused = await run.invokeOnce('testSecret', token, { hooks: () => ({}) });
          if (refused.outcome !== 'failed' || refused.error.name !== 'PrivilegeDriftError') {
            run.problems.push(
              `testSecret without a fault must refuse with PrivilegeDriftError, but ${describeResult(refused)}`,
            );
            return;
          }
          const db = run.db.lastTrace;
          traces.push({
            flow: 'rotation',
            steps: [{ step: 'testSecret', sm: [], db }],
            loginExchanges,
          });
        }
        const trace = stableTrace(traces);
        // Kills and stalls after a login never end in success; the stalled login must not either.
        const points = generatePoints(trace).points.filter(
          (p) =>
            p.action === 'drop' ||
            p.action === 'refuse' ||
            (p.action === 'stall' && p.boundary.type === 'db' && p.boundary.what === 'login'),
        );
        for (const point of points) {
          const before = run.problems.length;
          let reached = false;
          const result = await run.invokeOnce('testSecret', token, {
            hooks: (environment) =>
              faultHooks(point, environment, () => {
                reached = true;
              }),
            stall: point.action === 'stall',
          });
          run.db.releaseSevered();
          await run.observe(`testSecret with ${pointLabel(point)}`);
          if (result.outcome === 'succeeded') {
            run.problems.push(
              `testSecret succeeded, so the rotation would promote "${idle}", which lacks a right of the live user: the fault passed for something the parity check may skip`,
            );
          }
          outcomes.push({ point, reached, problems: run.problems.splice(before) });
        }
        await grantRight(idle);
        run.history.push('the right is given back, as the error advises');
        if (await run.driveSteps(['testSecret', 'finishSecret'], token))
          await run.checkCompleted(token);
      },
    );
    if (outcomes.length === 0) return [base];
    return outcomes.map(({ point, reached, problems }) => {
      const all = [...base.problems, ...problems];
      if (!reached) all.push('the traced boundary did not occur: nothing injected');
      return {
        ...base,
        kind: point.kind,
        label: `${PARITY}: ${pointLabel(point)}`,
        reached,
        passed: all.length === 0,
        problems: all,
      };
    });
  }

  /** One scenario fault in a world of its own. */
  public runScenario(strategy: Strategy, scenario: Scenario): Promise<PointResult> {
    return this.point(
      { strategy, kind: scenario.kind, flow: 'scenario', label: scenario.label },
      () => true,
      scenario.run,
    );
  }

  private async point(
    what: { strategy: Strategy; kind: FaultKind; flow: Flow | 'scenario'; label: string },
    reached: () => boolean,
    body: (run: PointRun) => Promise<void>,
  ): Promise<PointResult> {
    const started = Date.now();
    const result: PointResult = {
      family: this.target.family,
      server: this.target.serverName,
      ...what,
      reached: false,
      passed: false,
      problems: [],
      history: [],
      ms: 0,
    };
    await this.within(what.strategy, async (run) => {
      try {
        await body(run);
      } catch (error) {
        run.problems.push(
          `harness error: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      result.problems = run.problems;
      result.history = [...run.history, `observations took ${run.observeMs} ms`];
    }).catch((error: unknown) => {
      result.problems.push(
        `setup error: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    result.reached = reached();
    if (!result.reached)
      result.problems.push('the traced boundary did not occur: nothing injected');
    result.passed = result.problems.length === 0;
    result.ms = Date.now() - started;
    return result;
  }

  private async within(strategy: Strategy, body: (run: PointRun) => Promise<void>): Promise<void> {
    const run = new PointRun(this, strategy);
    try {
      await run.open();
      await body(run);
    } finally {
      await run.close();
    }
  }

  /** Starts a flow: a first rotation, a second one after a clean first, or a testSecret-only run. */
  public async startFlow(run: PointRun, flow: Flow): Promise<string> {
    if (flow === 'second-rotation') await run.cleanRotation();
    return run.requestRotation(flow !== 'test-alone');
  }

  /** The end of a flow that ran all its steps: the completion checks. */
  public async finishFlow(run: PointRun, flow: Flow, token: string): Promise<void> {
    if (flow !== 'test-alone') {
      await run.checkCompleted(token);
      return;
    }
    const current = (await run.service.labels(run.arn)).AWSCURRENT;
    await run.removePending(token);
    run.history.push('the service removes AWSPENDING');
    await run.checkTestAloneDone(current);
  }
}

/** The calls of a traced run that the SDK sent again, as `step Operation (attempt n)`. */
function retriedCalls(trace: FlowTrace): string[] {
  return trace.steps.flatMap(({ step, sm }) =>
    sm.filter((c) => c.attempt > 1).map((c) => `${step} ${callLabel(c)}`),
  );
}

/** The proxy hooks that put `point`'s fault at its boundary, in `environment`'s next attempt. */
function faultHooks(
  point: BoundaryPoint,
  environment: ExecutionEnvironment,
  reached: (operation?: string) => void,
): { db?: DbHooks; sm?: SmHooks } {
  const b = point.boundary;
  const kill = () => environment.kill('fault');
  if (b.type === 'sm') {
    return {
      sm: {
        before: async (call) => {
          if (b.phase !== 'before' || call.index !== b.call) return 'forward';
          reached(call.operation);
          if (point.action === 'kill') {
            await kill();
            return 'refuse';
          }
          if (point.action === 'stall') return 'stall';
          throw new Error(`no ${point.action} point before a Secrets Manager call`);
        },
        after: async (call) => {
          if (b.phase !== 'after' || call.index !== b.call) return 'deliver';
          reached(call.operation);
          if (point.action === 'kill') await kill();
          return 'drop';
        },
      },
    };
  }
  if (b.type === 'db-connect') {
    return {
      db: {
        onConnect: (connection) => {
          if (connection < b.connection) return 'forward';
          reached();
          return 'refuse';
        },
      },
    };
  }
  return {
    db: {
      onBoundary: async (at) => {
        if (at.connection !== b.connection || at.exchange !== b.exchange || at.phase !== b.phase)
          return 'forward';
        reached();
        if (point.action === 'kill') {
          await kill();
          return 'drop';
        }
        return point.action === 'stall' ? 'stall' : 'drop';
      },
    },
  };
}
