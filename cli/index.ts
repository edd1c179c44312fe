/**
 * `rotation-lambdas`: run a rotation without deploying, and check a secret before rotating it.
 *
 *   rotation-lambdas rotate    --secret-id ID --function NAME [options]
 *   rotation-lambdas preflight --secret-id ID [--function NAME] [--json] [options]
 *
 * Bundled into dist/cli/index.js by scripts/build.mjs, with the functions' esbuild settings.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { logger } from '../shared/logger';
import { bundlePath, FUNCTIONS, functionSpec, loadFunction, UsageError } from './functions';
import { watchPasswords, write } from './output';
import { formatReport, preflight } from './preflight';
import { RunnerError, rotate } from './rotate';

export const USAGE = `Usage: rotation-lambdas <command> [options]

Commands:
  rotate       Rotate one secret now: play Secrets Manager's part and invoke a function's
               handler for createSecret, setSecret, testSecret and finishSecret, in this process.
  preflight    Check that a secret can be rotated, and change nothing. Exit status 0: pass.
  help         Show this help.

Options for both:
  --secret-id ID         the secret, by name or ARN (required)
  --function NAME        ${[...FUNCTIONS.keys()].join(', ')}
                         rotate: required unless --bundle; preflight: inferred from the secret
  --endpoint URL         Secrets Manager endpoint (an emulator, a VPC endpoint); the function
                         gets it as SECRETS_MANAGER_ENDPOINT
  --region REGION        AWS region (AWS_REGION); default us-east-1 when --endpoint is given
  --profile NAME         AWS profile (AWS_PROFILE); credentials come from the usual chain
  --ca-file PEM          certificate authorities to trust for the database (NODE_EXTRA_CA_CERTS)
  --env KEY=VALUE        a function setting, as in the Lambda environment (TLS_MODE=verify-ca,
                         PASSWORD_LENGTH=40, …); repeatable
  --json                 print a JSON report on stdout (rotate: progress goes to stderr)

Options for rotate:
  --bundle PATH          run this bundle instead of dist/<function>/index.js
                         (e.g. .aws-sam/build/PostgresqlSingleUserFunction/index.js)
  --resume               finish the rotation in progress (the version labelled AWSPENDING)
                         instead of starting a new one
  --token ID             the new version's id (default: a random UUID); with --resume, the
                         pending version to finish
  --retries N            retries of a failed step, with exponential backoff (default 3)
  --retry-delay SECONDS  wait before the first retry, doubled for each next one (default 2)
  --verbose              show every line the function logs

A new rotation is started by the bundle's startRotation export, with your credentials: it runs
createSecret and stores the new version labelled AWSPENDING, after checking that no other
rotation is in progress (it refuses, naming the pending version, if one is). The Lambda handler
never starts a rotation: an event asking it to is refused.

Exit status: 0 success, 1 the rotation or a check failed, 2 the command line is wrong.`;

const OPTIONS = {
  'secret-id': { type: 'string' },
  function: { type: 'string' },
  bundle: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  'ca-file': { type: 'string' },
  env: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  resume: { type: 'boolean' },
  token: { type: 'string' },
  retries: { type: 'string' },
  'retry-delay': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseCommandLine>['values'];

/** Parses argv (without `node` and the script); throws UsageError for anything wrong. */
export function parseCommandLine(argv: string[]) {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const [command, ...rest] = parsed.positionals;
  if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}"`);
  return { command: parsed.values.help ? 'help' : (command ?? 'help'), values: parsed.values };
}

function nonNegativeNumber(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name} must be a number, 0 or more`);
  }
  return n;
}

/**
 * The environment the function sees, as Lambda would set it, applied to this process before any
 * bundle is loaded (the bundles read it when they load and when they run).
 */
export function applyEnvironment(values: Values, env: NodeJS.ProcessEnv = process.env): void {
  for (const pair of values.env ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--env takes KEY=VALUE, not "${pair}"`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (values.endpoint) env.SECRETS_MANAGER_ENDPOINT = values.endpoint;
  if (values.region) env.AWS_REGION = values.region;
  else if (values.endpoint && !env.AWS_REGION) env.AWS_REGION = 'us-east-1';
  if (values.profile) env.AWS_PROFILE = values.profile;
  if (values['ca-file']) env.NODE_EXTRA_CA_CERTS = resolve(values['ca-file']);
  // The outcome of each step is read from the function's INFO line.
  if (!env.POWERTOOLS_LOG_LEVEL) env.POWERTOOLS_LOG_LEVEL = values.verbose ? 'DEBUG' : 'INFO';
  // Each bundle has its own SDK, and each would warn about Node 20's end of support.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/** Runs one command; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  let values: Values;
  let command: string;
  try {
    ({ command, values } = parseCommandLine(argv));
    if (command === 'help') {
      write(process.stdout, `${USAGE}\n`);
      return 0;
    }
    if (command !== 'rotate' && command !== 'preflight') {
      throw new UsageError(`Unknown command "${command}": expected rotate, preflight or help`);
    }
    if (!values['secret-id']) throw new UsageError('--secret-id is required');
    applyEnvironment(values);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    write(process.stderr, `rotation-lambdas: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  // The shared code preflight runs (reading secrets) logs as a function would; the runner speaks
  // through its own report instead, so that `--json` output stays one JSON document.
  logger.setLogLevel('SILENT');
  const secretId = values['secret-id'] as string;
  const client = new SecretsManagerClient(values.endpoint ? { endpoint: values.endpoint } : {});
  watchPasswords(client);
  try {
    if (command === 'preflight') {
      if (values.function) functionSpec(values.function);
      const report = await preflight({ secretId, client, functionName: values.function });
      write(
        process.stdout,
        values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`,
      );
      return report.result === 'pass' ? 0 : 1;
    }
    if (values.function && values.bundle) {
      throw new UsageError('Give --function or --bundle, not both');
    }
    if (!values.function && !values.bundle) {
      throw new UsageError('rotate needs --function NAME (or --bundle PATH)');
    }
    const path = values.bundle
      ? resolve(values.bundle)
      : bundlePath(functionSpec(values.function as string).name);
    const retries = nonNegativeNumber(values.retries, 'retries', 3);
    const retryDelayMs = nonNegativeNumber(values['retry-delay'], 'retry-delay', 2) * 1000;
    const { handler, startRotation } = loadFunction(path);
    const out = values.json ? process.stderr : process.stdout;
    const print = (line: string) => write(out, `${line}\n`);
    print(`Function ${values.function ?? path} (${path})`);
    const report = await rotate({
      secretId,
      handler,
      startRotation,
      client,
      mode: values.resume ? 'resume' : 'start',
      token: values.token,
      retries: Math.floor(retries),
      retryDelayMs,
      print,
      verbose: values.verbose ?? false,
    });
    if (values.json) write(process.stdout, `${JSON.stringify(report, null, 2)}\n`);
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) {
      write(process.stderr, `rotation-lambdas: ${error.message}\n`);
      return 2;
    }
    const message =
      error instanceof RunnerError
        ? error.message
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
    write(process.stderr, `rotation-lambdas: ${message}\n`);
    return 1;
  } finally {
    client.destroy();
  }
}

if (require.main === module) {
  // A closed pipe (`… | head`) must not stop a rotation half-way: carry on without output.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
      // Every connection is closed by now; should a driver still hold the event loop, do not
      // keep the terminal waiting for it.
      setTimeout(() => process.exit(), 10_000).unref();
    },
    (error: unknown) => {
      write(process.stderr, `rotation-lambdas: unexpected error: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
