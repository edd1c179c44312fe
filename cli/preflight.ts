import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { loadConfig, type PasswordPolicy, type RotationConfig } from '../shared/config';
import type {
  ConnectionTls,
  DatabaseSession,
  Finding,
  FindingStatus,
  InspectionRequest,
  OwnRights,
  ServerPasswordRules,
  SessionInspection,
  TlsDetails,
} from '../shared/engines/engine';
import { planTls } from '../shared/engines/tls';
import {
  CredentialsRejectedError,
  DatabaseUnreachableError,
  isErrorLike,
  MasterSecretError,
  RotationError,
} from '../shared/errors';
import { CHARACTER_CLASSES, passwordAlphabet } from '../shared/password';
import { recoveryAdvice } from '../shared/rotation/recovery';
import {
  ALTERNATE_PASSWORD,
  ALTERNATE_USERNAME,
  type DatabaseSecret,
  parseDatabaseSecret,
} from '../shared/secrets/database-secret';
import { SecretVersions } from '../shared/secrets/secret-versions';
import { SecretsManagerPort } from '../shared/secrets/secrets-manager';
import {
  alternateUsername,
  baseUsername,
  CLONE_SUFFIX,
  locateMaster,
} from '../shared/strategies/alternating-users';
import { compareRights } from '../shared/strategies/pair';
import { connectionSettings } from '../shared/strategies/sessions';
import { type FunctionSpec, functionSpec, inferFunction, SECRET_ENGINES } from './functions';
import { formatLabels, labelsOf } from './rotate';

/** One line of the report. */
export interface Check extends Finding {
  /** What part of the setup it is about: `secret`, `settings`, `database`, `master`. */
  section: string;
}

/** What `preflight --json` prints. Holds no password. */
export interface PreflightReport {
  result: 'pass' | 'fail';
  secretId: string;
  secretArn: string | undefined;
  function: string | undefined;
  server: string | undefined;
  tls: TlsDetails | undefined;
  checks: Check[];
  counts: Record<FindingStatus, number>;
}

export interface PreflightOptions {
  secretId: string;
  client: SecretsManagerClient;
  /** A function name; default: inferred from the secret's `engine` and `masterarn`. */
  functionName?: string | undefined;
  env?: Record<string, string | undefined>;
  /** For the certificate-expiry warning; default now. */
  now?: Date;
}

/** Certificates that expire sooner than this are a warning. */
const EXPIRY_WARNING_DAYS = 30;

/**
 * Checks that a secret can be rotated, and changes nothing: it only reads the secret
 * (DescribeSecret, GetSecretValue), logs in, and runs read-only queries. Every check is reported,
 * in order; a check that cannot run because an earlier one failed is left out.
 */
export async function preflight(options: PreflightOptions): Promise<PreflightReport> {
  const checks: Check[] = [];
  const add = (section: string, check: string, status: FindingStatus, detail: string) =>
    checks.push({ section, check, status, detail });
  const report: PreflightReport = {
    result: 'fail',
    secretId: options.secretId,
    secretArn: undefined,
    function: undefined,
    server: undefined,
    tls: undefined,
    checks,
    counts: { pass: 0, warn: 0, fail: 0, info: 0, unknown: 0 },
  };
  try {
    await runChecks(options, report, add);
  } catch (error) {
    // Anything unexpected is a failed check, never a crash without a report.
    add('preflight', 'error', 'fail', describeError(error));
  }
  for (const check of checks) report.counts[check.status] += 1;
  report.result = report.counts.fail > 0 ? 'fail' : 'pass';
  return report;
}

type Add = (section: string, check: string, status: FindingStatus, detail: string) => void;

async function runChecks(
  options: PreflightOptions,
  report: PreflightReport,
  add: Add,
): Promise<void> {
  const { client } = options;
  // The secret and its labels.
  let described: DescribeSecretCommandOutput;
  try {
    described = await client.send(new DescribeSecretCommand({ SecretId: options.secretId }));
  } catch (error) {
    add('secret', 'secret', 'fail', `DescribeSecret ${options.secretId}: ${describeError(error)}`);
    return;
  }
  const arn = described.ARN ?? options.secretId;
  report.secretArn = arn;
  add('secret', 'secret', 'pass', `${described.Name ?? options.secretId} (${arn})`);
  if (described.RotationEnabled === false) {
    add(
      'secret',
      'rotation',
      'fail',
      'Rotation is turned off for this secret (RotationEnabled=false): the functions refuse every step until it is turned on again (RotateSecret)',
    );
  } else if (described.RotationEnabled) {
    const rules = described.RotationRules;
    const schedule =
      rules?.ScheduleExpression ??
      (rules?.AutomaticallyAfterDays
        ? `every ${rules.AutomaticallyAfterDays} days`
        : 'no schedule');
    add(
      'secret',
      'rotation',
      'info',
      `Rotation is on (${schedule}) by ${described.RotationLambdaARN || 'an unnamed function'}`,
    );
  } else {
    add(
      'secret',
      'rotation',
      'info',
      'No rotation is configured; the runner can rotate it, and RotateSecret with a function turns it on',
    );
  }
  const versions = described.VersionIdsToStages ?? {};
  const labels = labelsOf(versions);
  const stuck = Object.entries(versions)
    .filter(([, stages]) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'))
    .map(([id]) => id);
  if (!labels.AWSCURRENT) {
    add('secret', 'labels', 'fail', `No version is labelled AWSCURRENT (${formatLabels(labels)})`);
    return;
  }
  if (stuck.length > 0) {
    const filled = await versionHasValue(client, arn, stuck[0] as string);
    add(
      'secret',
      'labels',
      'fail',
      `AWSPENDING is on version ${stuck[0]}, not on AWSCURRENT's (${filled ? 'it holds a value' : 'empty'}): a rotation is in progress or stuck, and RotateSecret refuses to start another. ${recoveryAdvice(arn, stuck[0] as string, versions[stuck[0] as string] ?? []).text}`,
    );
  } else {
    add('secret', 'labels', 'pass', `${formatLabels(labels)}; no rotation in progress`);
  }

  // The value, the engine and the function.
  const current = await client.send(
    new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }),
  );
  if (current.SecretString === undefined) {
    add('secret', 'value', 'fail', 'AWSCURRENT holds a binary value; the functions need JSON');
    return;
  }
  let spec: FunctionSpec;
  if (options.functionName) {
    spec = functionSpec(options.functionName);
  } else {
    const raw = rawFields(current.SecretString);
    const engineValue = typeof raw?.engine === 'string' ? raw.engine : '';
    const inferred = inferFunction(engineValue, typeof raw?.masterarn === 'string');
    if (!inferred) {
      add(
        'secret',
        'value',
        'fail',
        `AWSCURRENT's "engine" is ${engineValue ? `"${engineValue}"` : 'missing'}: no function serves it (expected one of ${SECRET_ENGINES.join(', ')}); pass --function to check against one anyway`,
      );
      return;
    }
    spec = inferred;
  }
  report.function = spec.name;
  const { engine, strategy } = spec;
  let secret: DatabaseSecret;
  try {
    secret = parseDatabaseSecret(
      current.SecretString,
      { secretId: arn, label: 'AWSCURRENT' },
      engine,
    );
  } catch (error) {
    add('secret', 'value', 'fail', describeError(error));
    return;
  }
  add('secret', 'value', 'pass', describeSecret(secret));
  const alternating = strategy.name === 'alternating-users';
  add(
    'secret',
    'function',
    'pass',
    `${spec.name}${options.functionName ? '' : ` (from "engine": "${secret.engine}"${alternating ? ' and "masterarn"' : ', no "masterarn"'})`}`,
  );
  if (alternating) {
    if (!secret.masterarn) {
      add(
        'secret',
        'masterarn',
        'fail',
        `Alternating users needs "masterarn", the ARN of the master secret that creates and alters "${baseUsername(secret.username)}${CLONE_SUFFIX}"`,
      );
      return;
    }
    try {
      const next = alternateUsername(secret.username, engine.usernameLimit);
      add(
        'secret',
        'usernames',
        'pass',
        `Rotations alternate "${secret.username}" and "${next}" (${engine.usernameLimit.max} ${engine.usernameLimit.unit} at most)`,
      );
    } catch (error) {
      add('secret', 'usernames', 'fail', describeError(error));
      return;
    }
  } else if (secret.masterarn) {
    add('secret', 'masterarn', 'info', 'The secret names a master secret; single-user ignores it');
  }
  if (!alternating && secret.alternate) {
    add(
      'secret',
      'pair',
      'pass',
      `Pair mode: rotations alternate "${secret.username}" (live) and "${secret.alternate.username}" (idle), each changing only its own password; nothing is created or granted`,
    );
  }

  // The function's settings, from this process's environment (as the function reads its own).
  let config: RotationConfig;
  try {
    config = loadConfig(engine.defaultExcludeCharacters, options.env ?? process.env);
    const alphabet = passwordAlphabet(config.password, engine.passwordRules);
    add('settings', 'password', 'pass', describePolicy(config.password, alphabet.characters));
  } catch (error) {
    add('settings', 'password', 'fail', describeError(error));
    return;
  }

  // The database: TLS, the current login, and what the user may do.
  const user = await login(engine, secret, config, 'AWSCURRENT', add);
  if (!user) return;
  let master: DatabaseSecret | undefined;
  let masterSession: DatabaseSession | undefined;
  const pair = !alternating && secret.alternate ? secret.alternate : undefined;
  if (pair && config.retainCurrentPassword) {
    add(
      'settings',
      'retain current password',
      'info',
      "RETAIN_CURRENT_PASSWORD applies to single-user secrets only: a pair never keeps the idle user's old password, since the live user already bridges the rotation",
    );
  }
  try {
    const inspection = await inspect(
      user.session,
      alternating
        ? { role: 'login' }
        : { role: 'self', retainCurrent: pair ? false : config.retainCurrentPassword },
      'database',
      add,
      (found) => reportTls(user.tls, found, options.now ?? new Date(), add),
    );
    report.server = inspection?.server;
    report.tls = inspection?.tls;
    if (inspection && !alternating) {
      comparePasswordRules(config.password, inspection.passwordRules, add);
    }
    if (pair) {
      await checkPair(engine, secret, pair, config, user.session, add);
      return;
    }
    if (!alternating || !secret.masterarn) return;

    // Alternating users: the master secret, its login, and its privileges.
    master = await readMaster(client, arn, secret, secret.masterarn, engine, config, add);
    if (!master) return;
    const masterLogin = await login(engine, master, config, 'master', add);
    if (!masterLogin) return;
    masterSession = masterLogin.session;
    const base = baseUsername(secret.username);
    const masterInspection = await inspect(
      masterSession,
      {
        role: 'master',
        baseUsername: base,
        cloneUsername: `${base}${CLONE_SUFFIX}`,
        database: secret.dbname ?? engine.defaultDatabase,
      },
      'master',
      add,
    );
    if (masterInspection)
      comparePasswordRules(config.password, masterInspection.passwordRules, add);
  } finally {
    await user.session.close();
    await masterSession?.close();
  }
}

/**
 * Pair mode: the idle user logs in and may change its own password, and the parity report, with
 * the rotation's own comparison (testSecret's): what the idle user lacks of the live one fails, as
 * the next rotation would refuse it; the reverse is the rotation after next.
 */
async function checkPair(
  engine: FunctionSpec['engine'],
  secret: DatabaseSecret,
  pair: { username: string; password: string },
  config: RotationConfig,
  live: DatabaseSession,
  add: Add,
): Promise<void> {
  const idle = await login(engine, { ...secret, ...pair }, config, 'alternate', add);
  if (!idle) return;
  try {
    await inspect(idle.session, { role: 'self', retainCurrent: false }, 'alternate', add);
    let liveRights: OwnRights;
    let idleRights: OwnRights;
    try {
      liveRights = await live.ownRights({ partner: pair.username });
      idleRights = await idle.session.ownRights({ partner: secret.username });
    } catch (error) {
      add(
        'pair',
        'parity',
        'fail',
        `Could not read what the users may do: ${describeError(error)}`,
      );
      return;
    }
    const next = compareRights(liveRights, idleRights);
    if (next.lacking.length > 0 || next.limits.length > 0) {
      const what = [
        ...(next.lacking.length > 0
          ? [`"${pair.username}" lacks: ${next.lacking.join('; ')}`]
          : []),
        ...(next.limits.length > 0
          ? [`their limits differ (these must be the same both ways): ${next.limits.join('; ')}`]
          : []),
      ].join('. ');
      add(
        'pair',
        'parity',
        'fail',
        `The idle user "${pair.username}" cannot do everything the live user "${secret.username}" can, so the next rotation's testSecret refuses to promote it; ${what}. Give "${pair.username}" the same rights and limits`,
      );
    } else {
      add(
        'pair',
        'parity',
        'pass',
        `"${pair.username}" may do everything "${secret.username}" may, with the same limits (${liveRights.rights.length} rights and ${liveRights.limits.length} limits compared, each as the user sees itself)`,
      );
    }
    if (next.extra.length > 0) {
      add(
        'pair',
        'parity after next',
        'warn',
        `"${secret.username}" lacks what "${pair.username}" may do, so the rotation after next (which promotes "${secret.username}" again) would refuse it: ${next.extra.join('; ')}`,
      );
    }
    add(
      'pair',
      'not compared',
      'info',
      `A user cannot read this about itself on this engine, so the parity check does not cover it: ${[...new Set([...liveRights.unseen, ...idleRights.unseen])].join('; ')}`,
    );
  } finally {
    await idle.session.close();
  }
}

async function versionHasValue(
  client: SecretsManagerClient,
  arn: string,
  versionId: string,
): Promise<boolean> {
  try {
    await client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: versionId }));
    return true;
  } catch {
    return false;
  }
}

function rawFields(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const KNOWN_KEYS = new Set([
  'engine',
  'host',
  'port',
  'username',
  'password',
  'dbname',
  'masterarn',
  'ssl',
  ALTERNATE_USERNAME,
  ALTERNATE_PASSWORD,
]);

/** The secret's shape, by key; values only for the keys that are not secret. */
function describeSecret(secret: DatabaseSecret): string {
  const others = Object.keys(secret.fields).filter(
    (k) => !KNOWN_KEYS.has(k) && !(k in secret.parameters),
  );
  return [
    `engine "${secret.engine}"`,
    `${secret.host}:${secret.port}`,
    `user "${secret.username}"`,
    secret.dbname ? `dbname "${secret.dbname}"` : 'no dbname',
    ...(secret.alternate ? [`alternate user "${secret.alternate.username}"`] : []),
    secret.ssl === undefined ? 'no "ssl" key (TLS_MODE decides)' : `"ssl": ${secret.ssl}`,
    ...Object.entries(secret.parameters).map(([k, v]) => `${k} "${v}"`),
    ...(others.length > 0 ? [`other keys kept as they are: ${others.join(', ')}`] : []),
  ].join(', ');
}

function describePolicy(policy: PasswordPolicy, characters: string[]): string {
  const bits = Math.floor(policy.length * Math.log2(characters.length));
  const excluded = policy.excludeCharacters
    ? `never ${policy.excludeCharacters}`
    : 'no characters excluded';
  return `New passwords: ${policy.length} characters drawn from ${characters.length} (${excluded}${policy.requireEachIncludedType ? ', each included type required' : ''}), about ${bits} bits`;
}

interface Login {
  session: DatabaseSession;
  tls: ConnectionTls;
}

/**
 * Logs in as the rotation will, without the logger: verified TLS unless the secret or TLS_MODE
 * says otherwise, and the plain-text retry of TLS_MODE=fallback reported as a warning.
 */
async function login(
  engine: FunctionSpec['engine'],
  secret: DatabaseSecret,
  config: RotationConfig,
  who: 'AWSCURRENT' | 'master' | 'alternate',
  add: Add,
): Promise<Login | undefined> {
  const section = who === 'AWSCURRENT' ? 'database' : who;
  const plan = planTls(secret.ssl, config.tlsMode);
  const settings = connectionSettings(engine, secret, config, plan.tls);
  const label = {
    AWSCURRENT: 'AWSCURRENT',
    master: 'the master secret',
    alternate: `AWSCURRENT's "${ALTERNATE_USERNAME}" and "${ALTERNATE_PASSWORD}"`,
  }[who];
  const fix = {
    AWSCURRENT:
      'the password was changed outside rotation; put the working password in the secret or set the database password to the AWSCURRENT value',
    master: 'fix the master secret',
    alternate: `the idle user's password was changed outside rotation, or it is locked; put its working password in "${ALTERNATE_PASSWORD}" or set its database password to that value`,
  }[who];
  try {
    const session = await engine.connect(settings);
    add(
      section,
      'login',
      'pass',
      `${label} ${who === 'alternate' ? 'log' : 'logs'} in as "${secret.username}"`,
    );
    return { session, tls: plan.tls };
  } catch (error) {
    if (error instanceof DatabaseUnreachableError && error.tlsFailure) {
      if (plan.fallbackToPlainText) {
        add(
          section,
          'tls',
          'warn',
          `TLS failed (${error.message}); TLS_MODE=fallback connects in plain text instead`,
        );
        return login(engine, { ...secret, ssl: false }, config, who, add);
      }
      add(
        section,
        'tls',
        'fail',
        `${error.message}. Trust the server's certificate authority (NODE_EXTRA_CA_CERTS, --ca-file), use TLS_MODE=verify-ca for a host name the certificate does not list, or "ssl": false for plain text`,
      );
      return undefined;
    }
    if (error instanceof CredentialsRejectedError) {
      const plain =
        plan.tls === 'disable'
          ? ' The login was in plain text; a server that requires TLS rejects it as if the password were wrong.'
          : '';
      add(
        section,
        'login',
        'fail',
        `The database rejects the credentials of ${label} (user "${secret.username}"): ${fix}.${plain}`,
      );
      return undefined;
    }
    add(section, 'login', 'fail', describeError(error));
    return undefined;
  }
}

/** Runs the adapter's inspection and adds its findings, after `first` (the TLS line). */
async function inspect(
  session: DatabaseSession,
  request: InspectionRequest,
  section: string,
  add: Add,
  first?: (inspection: SessionInspection | undefined) => void,
): Promise<SessionInspection | undefined> {
  if (!session.inspect) {
    first?.(undefined);
    add(section, 'privileges', 'unknown', 'This adapter cannot inspect privileges');
    return undefined;
  }
  let inspection: SessionInspection;
  try {
    inspection = await session.inspect(request);
  } catch (error) {
    first?.(undefined);
    add(section, 'privileges', 'fail', `Could not inspect the server: ${describeError(error)}`);
    return undefined;
  }
  add(section, 'server', 'info', inspection.server);
  first?.(inspection);
  for (const finding of inspection.findings) {
    add(section, finding.check, finding.status, finding.detail);
  }
  return inspection;
}

function reportTls(
  tls: ConnectionTls,
  inspection: SessionInspection | undefined,
  now: Date,
  add: Add,
): void {
  if (tls === 'disable') {
    add(
      'database',
      'tls',
      'warn',
      'Plain text ("ssl": false, TLS_MODE=disable or fallback): passwords cross the network unencrypted',
    );
    return;
  }
  const how =
    tls === 'verify-full'
      ? 'chain and host name verified'
      : 'chain verified, host name not checked';
  const details = inspection?.tls;
  if (!details) {
    add('database', 'tls', 'pass', `TLS (${how})`);
    return;
  }
  const negotiated = [details.protocol, details.cipher].filter(Boolean).join(' ');
  const certificate = details.subject
    ? `; certificate ${details.subject}, issued by ${details.issuer ?? 'unknown'}${details.subjectAltNames ? ` (${details.subjectAltNames})` : ''}`
    : '';
  const days = details.validTo
    ? Math.floor((Date.parse(details.validTo) - now.getTime()) / 86_400_000)
    : undefined;
  const expiry =
    details.validTo !== undefined ? `, valid until ${details.validTo} (${days} days)` : '';
  const status: FindingStatus = days !== undefined && days < EXPIRY_WARNING_DAYS ? 'warn' : 'pass';
  add(
    'database',
    'tls',
    status,
    `TLS ${negotiated || ''} (${how}${details.source === 'probe' ? ', seen by a separate probe connection' : ''})${certificate}${expiry}${status === 'warn' ? `: the certificate expires in less than ${EXPIRY_WARNING_DAYS} days` : ''}`,
  );
}

async function readMaster(
  client: SecretsManagerClient,
  arn: string,
  secret: DatabaseSecret,
  masterArn: string,
  engine: FunctionSpec['engine'],
  config: RotationConfig,
  add: Add,
): Promise<DatabaseSecret | undefined> {
  // Read and checked as the function does (locateMaster): a master secret RDS manages is located
  // through RDS, a user secret on one of its read replicas or readers is accepted, and the master
  // must not be one of the pair.
  const versions = new SecretVersions(new SecretsManagerPort(client), arn, '', engine);
  let located: Awaited<ReturnType<typeof locateMaster>>;
  try {
    located = await locateMaster({ engine, config, versions }, secret);
  } catch (error) {
    add(
      'master',
      'secret',
      'fail',
      `${describeError(error)}.${error instanceof MasterSecretError ? " (This check uses your credentials; the function's role needs the same access)" : ''}`,
    );
    return undefined;
  }
  const { master, user } = located;
  add(
    'master',
    'secret',
    'pass',
    `${masterArn}: user "${master.username}" ${user === 'same' ? 'on the same server' : `on ${master.host}:${master.port}, whose read replica or reader (as RDS reports it) the secret names`}`,
  );
  return master;
}

/** The server's own password rules against what the function will generate. */
export function comparePasswordRules(
  policy: PasswordPolicy,
  rules: ServerPasswordRules | undefined,
  add: Add,
): void {
  if (!rules) return;
  const excluded = new Set(policy.excludeCharacters);
  const available = (chars: string, classExcluded: boolean) =>
    classExcluded ? 0 : [...chars].filter((c) => !excluded.has(c)).length;
  const classes = [
    [
      'lowercase letters',
      rules.minLowercase,
      available(CHARACTER_CLASSES.lowercase, policy.excludeLowercase),
    ],
    [
      'uppercase letters',
      rules.minUppercase,
      available(CHARACTER_CLASSES.uppercase, policy.excludeUppercase),
    ],
    ['digits', rules.minDigits, available(CHARACTER_CLASSES.numbers, policy.excludeNumbers)],
    [
      'special characters',
      rules.minSpecial,
      available(CHARACTER_CLASSES.punctuation, policy.excludePunctuation),
    ],
  ] as const;
  const problems: string[] = [];
  const doubts: string[] = [];
  if (policy.length < rules.minLength) {
    problems.push(
      `PASSWORD_LENGTH ${policy.length} is under the server's minimum ${rules.minLength}`,
    );
  }
  for (const [name, min, count] of classes) {
    if (min <= 0) continue;
    if (count === 0)
      problems.push(`the server wants ${min} ${name}, but the settings exclude them`);
    else if (min > 1 || !policy.requireEachIncludedType) {
      doubts.push(`at least ${min} ${name}`);
    }
  }
  const summary = `${rules.source}: at least ${rules.minLength} characters, ${rules.minLowercase} lowercase, ${rules.minUppercase} uppercase, ${rules.minDigits} digits, ${rules.minSpecial} special`;
  if (problems.length > 0) {
    add('settings', 'server password rules', 'fail', `${summary}. ${problems.join('; ')}`);
  } else if (doubts.length > 0) {
    add(
      'settings',
      'server password rules',
      'warn',
      `${summary}. Generated passwords are not guaranteed to have ${doubts.join(', ')}${policy.requireEachIncludedType ? '' : ' (REQUIRE_EACH_INCLUDED_TYPE=false)'}; the server would refuse such a password and the rotation would fail and retry`,
    );
  } else {
    add('settings', 'server password rules', 'pass', `${summary}: generated passwords meet them`);
  }
}

function describeError(error: unknown): string {
  if (error instanceof RotationError) return error.message;
  if (isErrorLike(error)) return `${error.name}: ${error.message}`;
  return String(error);
}

/** The report as text, one line per check. */
export function formatReport(report: PreflightReport): string {
  const marks: Record<FindingStatus, string> = {
    pass: 'PASS',
    warn: 'WARN',
    fail: 'FAIL',
    info: 'INFO',
    unknown: ' ?? ',
  };
  const lines = [
    `Preflight of ${report.secretArn ?? report.secretId}${report.function ? ` for ${report.function}` : ''}`,
    '',
  ];
  let section = '';
  for (const check of report.checks) {
    if (check.section !== section) {
      section = check.section;
      lines.push(`${section}:`);
    }
    lines.push(`  ${marks[check.status]}  ${check.check.padEnd(22)} ${check.detail}`);
  }
  const c = report.counts;
  lines.push(
    '',
    `Result: ${report.result.toUpperCase()} (${c.pass} passed, ${c.fail} failed, ${c.warn} warnings, ${c.unknown} unknown, ${c.info} notes). Nothing was changed.`,
  );
  return lines.join('\n');
}
