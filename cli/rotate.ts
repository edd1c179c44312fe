import { randomUUID } from 'node:crypto';
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { recoveryAdvice } from '../shared/rotation/recovery';
import type { Handler, Starter } from './functions';
import { type HandlerOutput, withCapturedOutput } from './handler-output';

/** The four steps, in the order Secrets Manager invokes them. */
export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/**
 * Errors a repeat cannot cure: the event, the secret's value or labels, or the settings are wrong.
 * Secrets Manager retries these too; the runner stops at once and says why.
 */
export const PERMANENT_ERRORS: ReadonlySet<string> = new Set([
  'InvalidEventError',
  'UnknownStepError',
  'SecretNotFoundError',
  'RotationDisabledError',
  'VersionNotFoundError',
  'VersionNotPendingError',
  'RotationInProgressError',
  'SecretValueError',
  'ConfigurationError',
  'CredentialsMismatchError',
  'UsernameTooLongError',
]);

/** How the runner gets its rotation token. */
export type StartMode =
  /** A new token; the bundle's startRotation export runs createSecret and starts the rotation. */
  | 'start'
  /** The version already labelled AWSPENDING: finish a rotation that failed or was interrupted. */
  | 'resume';

export interface RotateOptions {
  secretId: string;
  handler: Handler;
  /** The bundle's startRotation export, used for createSecret in start mode. */
  startRotation: Starter;
  /** The runner's own client, for the labels before and after (DescribeSecret only). */
  client: SecretsManagerClient;
  mode: StartMode;
  /** start: the new version's id (default: a random UUID); resume: the pending version to finish. */
  token?: string | undefined;
  /** Extra attempts per step after the first. */
  retries: number;
  /** Wait before the first retry; it doubles for every further one. */
  retryDelayMs: number;
  /** Progress lines (the CLI writes them to stdout, or stderr with --json). */
  print: (line: string) => void;
  /** Print every line the function logged. */
  verbose?: boolean;
  sleep?: (ms: number) => Promise<void>;
}

export interface AttemptReport {
  ok: boolean;
  durationMs: number;
  outcome?: string | undefined;
  error?: { name: string; message: string } | undefined;
  warnings: string[];
}

export interface StepReport {
  step: (typeof STEPS)[number];
  ok: boolean;
  attempts: AttemptReport[];
}

/** What a run did; `--json` prints it. Holds no secret value. */
export interface RotationReport {
  ok: boolean;
  secretArn: string;
  token: string;
  mode: StartMode;
  labelsBefore: Record<string, string>;
  labelsAfter: Record<string, string>;
  steps: StepReport[];
  durationMs: number;
  /** Why the run stopped, when it failed. */
  failure?: string | undefined;
}

/** A failure before any step ran: nothing to resume, unknown secret, … */
export class RunnerError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'RunnerError';
  }
}

/**
 * Plays Secrets Manager's part for one rotation: invokes the handler for the four steps in order,
 * with one token, retrying a failed step with exponential backoff. Secrets Manager itself retries
 * the whole rotation (every step again from createSecret, same token); since every step first
 * checks what is already done, retrying only the failed step has the same effect, sooner.
 */
export async function rotate(options: RotateOptions): Promise<RotationReport> {
  const started = Date.now();
  const sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const { print } = options;
  const before = await describe(options.client, options.secretId);
  const labelsBefore = labelsOf(before.versions);
  print(`Secret   ${before.arn}`);
  print(`Labels   ${formatLabels(labelsBefore)}`);

  let token: string;
  if (options.mode === 'resume') {
    const pending = Object.entries(before.versions)
      .filter(([, stages]) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'))
      .map(([id]) => id);
    token = options.token ?? (pending[0] as string);
    if (pending.length === 0 || !pending.includes(token)) {
      throw new RunnerError(
        options.token
          ? `Cannot resume version ${options.token}: it is not labelled AWSPENDING (labels: ${formatLabels(labelsBefore)})`
          : `Nothing to resume: no version of ${before.arn} other than AWSCURRENT's is labelled AWSPENDING`,
      );
    }
    print(`Rotation ${token}: resuming the rotation in progress`);
  } else {
    token = options.token ?? randomUUID();
    print(`Rotation ${token}: started by the bundle's startRotation (createSecret)`);
  }

  const steps: StepReport[] = [];
  let failure: string | undefined;
  for (const [index, step] of STEPS.entries()) {
    const event = { Step: step, SecretId: before.arn, ClientRequestToken: token };
    const invoke =
      options.mode === 'start' && step === 'createSecret'
        ? () => options.startRotation(event)
        : () => options.handler(event);
    const report: StepReport = { step, ok: false, attempts: [] };
    steps.push(report);
    const label = `[${index + 1}/${STEPS.length}] ${step.padEnd(12)}`;
    for (let attempt = 1; attempt <= options.retries + 1; attempt++) {
      const t0 = Date.now();
      const run = await withCapturedOutput(invoke);
      const result = attemptReport(run, Date.now() - t0);
      report.attempts.push(result);
      if (options.verbose) for (const line of run.output.lines) print(`    | ${line}`);
      for (const warning of result.warnings) print(`    ! warning: ${warning}`);
      const tries = attempt > 1 ? `, attempt ${attempt}` : '';
      if (result.ok) {
        report.ok = true;
        print(`${label} ok    ${result.outcome ?? 'done'} (${result.durationMs} ms${tries})`);
        break;
      }
      const error = `${result.error?.name}: ${result.error?.message}`;
      const permanent = PERMANENT_ERRORS.has(result.error?.name ?? '');
      if (permanent || attempt > options.retries) {
        print(`${label} FAILED (${result.durationMs} ms${tries}): ${error}`);
        failure = `${step} failed${attempt > 1 ? ` after ${attempt} attempts` : ''}${permanent && options.retries > 0 ? ' (not retried: a repeat cannot fix this)' : ''}: ${error}`;
        break;
      }
      const delay = options.retryDelayMs * 2 ** (attempt - 1);
      print(
        `${label} attempt ${attempt} failed (${result.durationMs} ms): ${error}; retrying in ${formatSeconds(delay)}`,
      );
      await sleep(delay);
    }
    if (!report.ok) break;
  }

  const after = await describe(options.client, before.arn);
  const labelsAfter = labelsOf(after.versions);
  print(`Labels   ${formatLabels(labelsAfter)}`);
  if (!failure && labelsAfter.AWSCURRENT !== token) {
    failure = `every step succeeded, but AWSCURRENT is on ${labelsAfter.AWSCURRENT ?? 'no version'}, not ${token}`;
  }
  if (failure) {
    print(`Rotation FAILED: ${failure}`);
    if (labelsAfter.AWSPENDING === token && labelsAfter.AWSCURRENT !== token) {
      print(
        `AWSPENDING stays on ${token}. Fix the cause, then: ${recoveryAdvice(before.arn, token, after.versions[token] ?? []).text}`,
      );
    }
  } else {
    print(`Rotated: AWSCURRENT is now version ${token}`);
  }
  return {
    ok: failure === undefined,
    secretArn: before.arn,
    token,
    mode: options.mode,
    labelsBefore,
    labelsAfter,
    steps,
    durationMs: Date.now() - started,
    failure,
  };
}

function attemptReport(
  run: { error?: unknown; output: HandlerOutput },
  durationMs: number,
): AttemptReport {
  if (!('error' in run)) {
    return { ok: true, durationMs, outcome: run.output.outcome, warnings: run.output.warnings };
  }
  const error = run.error as { name?: unknown; message?: unknown } | undefined;
  return {
    ok: false,
    durationMs,
    error: {
      name: typeof error?.name === 'string' ? error.name : 'Error',
      message: typeof error?.message === 'string' ? error.message : String(run.error),
    },
    warnings: run.output.warnings,
  };
}

interface Described {
  arn: string;
  versions: Record<string, string[]>;
}

async function describe(client: SecretsManagerClient, secretId: string): Promise<Described> {
  const out = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return { arn: out.ARN ?? secretId, versions: out.VersionIdsToStages ?? {} };
}

/** Label → version, for the labels that matter to rotation. */
export function labelsOf(versions: Record<string, string[]>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [version, stages] of Object.entries(versions)) {
    for (const stage of stages) labels[stage] = version;
  }
  return labels;
}

/** `AWSCURRENT=… AWSPENDING=… AWSPREVIOUS=…`, the three rotation labels first. */
export function formatLabels(labels: Record<string, string>): string {
  const order = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'];
  const names = [
    ...order.filter((l) => l in labels),
    ...Object.keys(labels)
      .filter((l) => !order.includes(l))
      .sort(),
  ];
  return names.length > 0 ? names.map((l) => `${l}=${labels[l]}`).join('  ') : '(none)';
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}
