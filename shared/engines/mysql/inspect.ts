import mysql2 from 'mysql2/promise';
import { DatabaseStatementError } from '../../errors';
import {
  type ConnectionSettings,
  cloneRightsFinding,
  type Finding,
  type InspectionRequest,
  type ServerPasswordRules,
  type SessionInspection,
} from '../engine';
import { describeTlsSocket } from '../inspect-tls';
import { type AccountGrants, parseGrants } from './grants';
import { readRights, rightsDifferences } from './rights';
import { type ServerInfo, supportsDualPasswords } from './server';

type Row = Record<string, unknown>;

/** The one thing inspection needs of a MySQL session: running a statement. */
export interface MysqlStatementRunner {
  run(sql: string, verb?: string): Promise<Row[]>;
}

/** What the session already knows of its connection and server. */
export interface MysqlSessionFacts {
  /** The driver's socket (a TLSSocket once TLS is set up). */
  socket: unknown;
  settings: ConnectionSettings;
  info: ServerInfo;
  /** The server's own limit on user names, in characters. */
  usernameMax: number;
}

/**
 * Preflight's read-only checks on a MySQL or MariaDB session: SELECTs, SHOW GRANTS and SHOW
 * VARIABLES only. Single-user: a user may always change its own password, unless the server is
 * read-only or (MySQL 8) the account demands its current password. Alternating users: CREATE
 * USER, reading mysql.user, and every privilege and role of the base user held WITH GRANT OPTION
 * or ADMIN OPTION, on every host the base user is defined at.
 */
export async function inspectMysql(
  session: MysqlStatementRunner,
  { socket, settings, info, usernameMax }: MysqlSessionFacts,
  request: InspectionRequest,
): Promise<SessionInspection> {
  const [versionRow] = await session.run('SELECT VERSION() AS version', 'SELECT VERSION()');
  const versionText = text(versionRow?.version);
  const findings: Finding[] = [await writable(session)];
  if (request.role === 'self') {
    findings.push(...(await selfFindings(session, info, settings, request.retainCurrent)));
  } else if (request.role === 'master') {
    findings.push(...(await masterFindings(session, info, usernameMax, settings, request)));
  }
  const [tlsRow] = await session
    .run("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')", 'SHOW STATUS')
    .then((rows) => [Object.fromEntries(rows.map((r) => [text(r.Variable_name), text(r.Value)]))]);
  const driverTls = describeTlsSocket(socket);
  return {
    server: `${info.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${versionText}`,
    tls:
      driverTls ??
      (tlsRow?.Ssl_version
        ? {
            protocol: tlsRow.Ssl_version,
            cipher: tlsRow.Ssl_cipher || undefined,
            subject: undefined,
            issuer: undefined,
            subjectAltNames: undefined,
            validTo: undefined,
            source: 'server',
          }
        : undefined),
    usernameLimit: { max: usernameMax, unit: 'characters' },
    passwordRules: await passwordRules(session),
    findings,
  };
}

async function writable(session: MysqlStatementRunner): Promise<Finding> {
  const [row] = await session.run(
    'SELECT @@GLOBAL.read_only AS ro, @@GLOBAL.innodb_read_only AS innodb_ro',
    'SELECT @@read_only',
  );
  if (Number(row?.innodb_ro) === 1) {
    return {
      check: 'writable',
      status: 'fail',
      detail:
        'The server is read-only (innodb_read_only, e.g. an Aurora reader): point the secret at the writer endpoint',
    };
  }
  if (Number(row?.ro) === 1) {
    return {
      check: 'writable',
      status: 'warn',
      detail:
        'The server has read_only=ON (a replica?): only users with SUPER or READ_ONLY ADMIN may change passwords there',
    };
  }
  return {
    check: 'writable',
    status: 'pass',
    detail: 'The server accepts changes (read_only=OFF)',
  };
}

async function selfFindings(
  session: MysqlStatementRunner,
  info: ServerInfo,
  settings: ConnectionSettings,
  retainCurrent: boolean,
): Promise<Finding[]> {
  const statement =
    info.flavor === 'mariadb' ? 'SET PASSWORD = PASSWORD(…)' : 'ALTER USER CURRENT_USER() …';
  const findings: Finding[] = [
    {
      check: 'privileges',
      status: 'pass',
      detail: `A user may always change its own password (${statement}); "${settings.username}" needs nothing more`,
    },
  ];
  if (info.flavor === 'mysql') {
    // MySQL 8 shows the current user's own CREATE USER without any privilege.
    const created = await session
      .run('SHOW CREATE USER CURRENT_USER()', 'SHOW CREATE USER')
      .then((rows) => text(Object.values(rows[0] ?? {})[0]))
      .catch(() => '');
    if (/PASSWORD REQUIRE CURRENT(?! (OPTIONAL|DEFAULT))/i.test(created)) {
      findings.push({
        check: 'password change',
        status: 'pass',
        detail: `"${settings.username}" has PASSWORD REQUIRE CURRENT: each change names the password it replaces (ALTER USER … REPLACE), which the rotation has`,
      });
    }
    const attempts = /FAILED_LOGIN_ATTEMPTS (\d+)/i.exec(created)?.[1];
    if (attempts !== undefined && Number(attempts) > 0) {
      const lock = /PASSWORD_LOCK_TIME (\w+)/i.exec(created)?.[1] ?? '0';
      findings.push(
        lockOutFinding(
          `its account locks after ${attempts} failed login(s) (FAILED_LOGIN_ATTEMPTS ${attempts}, PASSWORD_LOCK_TIME ${lock})`,
          settings,
          retainCurrent,
        ),
      );
    }
  } else {
    const [row] = await session
      .run('SELECT @@GLOBAL.max_password_errors AS m', 'SELECT @@max_password_errors')
      .catch(() => [] as Row[]);
    const limit = Number(row?.m);
    if (Number.isFinite(limit) && limit > 0 && limit < 4294967295) {
      findings.push(
        lockOutFinding(
          `the server blocks a user after ${limit} failed login(s) in a row (max_password_errors)`,
          settings,
          retainCurrent,
        ),
      );
    }
  }
  // A user name may have accounts at several hosts; a password change reaches only the one this
  // login matched, which the user can see, but not whether there are others.
  const [account] = await session
    .run("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', -1) AS host", 'SELECT CURRENT_USER()')
    .catch(() => [] as Row[]);
  const host = text(account?.host);
  if (host && host !== '%') {
    findings.push({
      check: 'account host',
      status: 'warn',
      detail: `"${settings.username}" logs in here as the account at host '${host}', not '%': a rotation changes that account's password only. Applications that reach the server as an account of the same name at another host keep its old password, and stop logging in once they read the new version; define the user at one host only, or check that no other account of that name is in use`,
    });
  }
  if (retainCurrent) findings.push(await dualPasswords(session, info, settings));
  return findings;
}

/** What the rotation does about an account that locks after failed logins. */
function lockOutFinding(
  what: string,
  settings: ConnectionSettings,
  retainCurrent: boolean,
): Finding {
  return {
    check: 'failed logins',
    status: 'warn',
    detail: `"${settings.username}": ${what}. The rotation never tries a password the server cannot have yet (AWSCURRENT first, AWSPENDING first only once setSecret recorded it with the ROTATION_PASSWORD_SET label)${retainCurrent ? ', and with RETAIN_CURRENT_PASSWORD the AWSCURRENT password always logs in' : '. Only a setSecret interrupted between changing the password and recording it makes one failed login, on its retry; RETAIN_CURRENT_PASSWORD (MySQL 8.0.14+) removes even that'}. Applications still holding the old password after the rotation fail logins too, and count towards the same limit`,
  };
}

/** RETAIN_CURRENT_PASSWORD: MySQL 8.0.14+, and APPLICATION_PASSWORD_ADMIN or CREATE USER. */
async function dualPasswords(
  session: MysqlStatementRunner,
  info: ServerInfo,
  settings: ConnectionSettings,
): Promise<Finding> {
  if (!supportsDualPasswords(info)) {
    return {
      check: 'dual passwords',
      status: 'fail',
      detail: `RETAIN_CURRENT_PASSWORD=true needs MySQL 8.0.14 or later; this server is ${info.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${info.major}.${info.minor}.${info.patch}: unset it`,
    };
  }
  const grants = parseGrants(
    (await session.run('SHOW GRANTS FOR CURRENT_USER()', 'SHOW GRANTS')).map((r) =>
      text(Object.values(r)[0]),
    ),
  );
  const global = grants.privileges.get('*.*') ?? new Set<string>();
  const may = ['APPLICATION_PASSWORD_ADMIN', 'CREATE USER', 'ALL PRIVILEGES', 'ALL'].some((p) =>
    global.has(p),
  );
  return may
    ? {
        check: 'dual passwords',
        status: 'pass',
        detail: `"${settings.username}" may keep its old password as a secondary one (RETAIN CURRENT PASSWORD): after each rotation AWSCURRENT and AWSPREVIOUS both log in`,
      }
    : {
        check: 'dual passwords',
        status: 'fail',
        detail: `RETAIN_CURRENT_PASSWORD=true, but "${settings.username}" lacks APPLICATION_PASSWORD_ADMIN (or CREATE USER): GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO ${mysql2.escape(settings.username)}@'<host>'`,
      };
}

async function masterFindings(
  session: MysqlStatementRunner,
  info: ServerInfo,
  usernameMax: number,
  settings: ConnectionSettings,
  request: Extract<InspectionRequest, { role: 'master' }>,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const who = `master "${settings.username}"`;
  const master = parseGrants(
    (await session.run('SHOW GRANTS FOR CURRENT_USER()', 'SHOW GRANTS')).map((r) =>
      text(Object.values(r)[0]),
    ),
  );
  const global = master.privileges.get('*.*') ?? new Set<string>();
  const has = (privilege: string) => global.has('ALL PRIVILEGES') || global.has(privilege);
  findings.push(
    has('CREATE USER')
      ? { check: 'privileges', status: 'pass', detail: `${who} has CREATE USER` }
      : {
          check: 'privileges',
          status: 'fail',
          detail: `${who} lacks CREATE USER, so it cannot create "${request.cloneUsername}": GRANT CREATE USER ON *.* TO …`,
        },
  );

  let hosts: string[];
  try {
    hosts = (
      await session.run(
        `SELECT Host AS host FROM mysql.user WHERE User = ${mysql2.escape(request.baseUsername)}`,
        'SELECT mysql.user',
      )
    ).map((r) => text(r.host));
  } catch (error) {
    if (!(error instanceof DatabaseStatementError)) throw error;
    findings.push({
      check: 'mysql.user',
      status: 'fail',
      detail: `${who} cannot read mysql.user, which alternating users needs to find the base user's hosts and grants: GRANT SELECT ON mysql.* TO … (${error.message})`,
    });
    return [...findings, cloneName(usernameMax, request)];
  }
  if (hosts.length === 0) {
    findings.push({
      check: 'base user',
      status: 'fail',
      detail: `MySQL user "${request.baseUsername}" does not exist; alternating users start from an existing base user`,
    });
    return [...findings, cloneName(usernameMax, request)];
  }
  for (const host of hosts) {
    const account = `"${request.baseUsername}"@"${host}"`;
    const base = parseGrants(
      (
        await session.run(
          `SHOW GRANTS FOR ${mysql2.escape(request.baseUsername)}@${mysql2.escape(host)}`,
          'SHOW GRANTS',
        )
      ).map((r) => text(Object.values(r)[0])),
    );
    const missing = ungrantable(base, master, global);
    findings.push(
      missing.length > 0
        ? {
            check: 'grants',
            status: 'fail',
            detail: `${who} cannot pass on what ${account} holds: ${missing.join('; ')}. It needs each WITH GRANT OPTION (roles WITH ADMIN OPTION)`,
          }
        : base.unparsed.length > 0
          ? {
              check: 'grants',
              status: 'fail',
              detail: `SHOW GRANTS for ${account} prints a line this function does not understand ("${base.unparsed[0]?.split(' ').slice(0, 3).join(' ')} …"), so it would stop`,
            }
          : {
              check: 'grants',
              status: 'pass',
              detail: `${who} holds every privilege and role of ${account} with GRANT/ADMIN OPTION`,
            },
    );
    const [clone] = await session.run(
      `SELECT 1 AS found FROM mysql.user WHERE User = ${mysql2.escape(request.cloneUsername)} AND Host = ${mysql2.escape(host)}`,
      'SELECT mysql.user',
    );
    findings.push({
      check: 'clone',
      status: 'info',
      detail: clone
        ? `"${request.cloneUsername}"@"${host}" exists; each rotation makes its rights equal to ${account}'s`
        : `"${request.cloneUsername}"@"${host}" does not exist yet; the first rotation creates it`,
    });
    if (clone) findings.push(await cloneRights(session, info, request, host));
  }
  const cloneHosts = (
    await session.run(
      `SELECT Host AS host FROM mysql.user WHERE User = ${mysql2.escape(request.cloneUsername)}`,
      'SELECT mysql.user',
    )
  ).map((r) => text(r.host));
  for (const host of cloneHosts.filter((h) => !hosts.includes(h))) {
    findings.push({
      check: 'clone rights',
      status: 'warn',
      detail: `"${request.cloneUsername}"@"${host}" exists but "${request.baseUsername}"@"${host}" does not: it keeps its own rights and a password no version of the secret holds. The next setSecret that targets the clone drops it; testSecret refuses to promote the clone until then`,
    });
  }
  findings.push(cloneName(usernameMax, request));
  return findings;
}

/** Whether the existing clone can do exactly what the base user can (read-only; as testSecret checks). */
async function cloneRights(
  session: MysqlStatementRunner,
  info: ServerInfo,
  request: Extract<InspectionRequest, { role: 'master' }>,
  host: string,
): Promise<Finding> {
  const names = {
    base: `"${request.baseUsername}"@"${host}"`,
    clone: `"${request.cloneUsername}"@"${host}"`,
  };
  try {
    const [base, clone] = await readRights(session, info, [
      { user: request.baseUsername, host },
      { user: request.cloneUsername, host },
    ]);
    return cloneRightsFinding(
      names,
      rightsDifferences(base ?? new Map(), clone ?? new Map(), names),
      `has exactly the rights of ${names.base}`,
    );
  } catch (error) {
    if (!(error instanceof DatabaseStatementError)) throw error;
    return {
      check: 'clone rights',
      status: 'fail',
      detail: `Could not read the rights of ${names.base} and ${names.clone}: ${error.message}`,
    };
  }
}

function cloneName(
  limit: number,
  request: Extract<InspectionRequest, { role: 'master' }>,
): Finding {
  const length = [...request.cloneUsername].length;
  return length > limit
    ? {
        check: 'clone name',
        status: 'fail',
        detail: `"${request.cloneUsername}" is ${length} characters, longer than this server's ${limit}-character limit`,
      }
    : {
        check: 'clone name',
        status: 'pass',
        detail: `"${request.cloneUsername}" is ${length} characters; this server allows ${limit}`,
      };
}

/**
 * What the base user holds that the master cannot grant: a privilege is grantable when the master
 * holds it (or ALL PRIVILEGES) WITH GRANT OPTION on the same object, its database or `*.*`; a
 * role when the master holds it WITH ADMIN OPTION, or ROLE_ADMIN or SUPER.
 */
export function ungrantable(
  base: AccountGrants,
  master: AccountGrants,
  masterGlobal: ReadonlySet<string>,
): string[] {
  const missing: string[] = [];
  for (const [object, privileges] of base.privileges) {
    const covering = [object, databaseOf(object), '*.*'].filter(
      (o): o is string => o !== undefined && master.grantOption.has(o),
    );
    const lacking = [...privileges].filter((privilege) => {
      const name = privilege.replace(/\s*\(.*$/, '');
      return !covering.some((o) => {
        const held = master.privileges.get(o);
        return held?.has('ALL PRIVILEGES') || held?.has(name) || held?.has(privilege);
      });
    });
    if (base.grantOption.has(object) && covering.length === 0) lacking.push('GRANT OPTION');
    if (lacking.length > 0) missing.push(`${lacking.join(', ')} ON ${object}`);
  }
  const roleAdmin = masterGlobal.has('ROLE_ADMIN') || masterGlobal.has('SUPER');
  for (const role of base.roles.keys()) {
    if (!roleAdmin && master.roles.get(role) !== true) missing.push(`role ${role}`);
  }
  return missing;
}

/** `` `db`.`t` `` or `` PROCEDURE `db`.`p` `` → `` `db`.* ``; `*.*` and `` `db`.* `` → undefined. */
function databaseOf(object: string): string | undefined {
  const match = /^(?:(?:PROCEDURE|FUNCTION)\s+)?(`(?:[^`]|``)*`)\.(?!\*$)/i.exec(object);
  return match ? `${match[1]}.*` : undefined;
}

/**
 * MySQL's validate_password (component `validate_password.*` or plugin `validate_password_*`) or
 * MariaDB's simple_password_check, when loaded.
 */
async function passwordRules(
  session: MysqlStatementRunner,
): Promise<ServerPasswordRules | undefined> {
  const rows = await session.run(
    "SHOW GLOBAL VARIABLES WHERE Variable_name LIKE 'validate\\_password%' OR Variable_name LIKE 'simple\\_password\\_check%'",
    'SHOW VARIABLES',
  );
  const vars = new Map(rows.map((r) => [text(r.Variable_name).replace('.', '_'), text(r.Value)]));
  const num = (name: string) => Number(vars.get(name) ?? 0) || 0;
  if (vars.has('validate_password_length')) {
    const policy = (vars.get('validate_password_policy') ?? 'MEDIUM').toUpperCase();
    const medium = policy !== 'LOW' && policy !== '0';
    const mixed = medium ? num('validate_password_mixed_case_count') : 0;
    return {
      source: `validate_password (policy ${policy})`,
      minLength: num('validate_password_length'),
      minLowercase: mixed,
      minUppercase: mixed,
      minDigits: medium ? num('validate_password_number_count') : 0,
      minSpecial: medium ? num('validate_password_special_char_count') : 0,
    };
  }
  if (vars.has('simple_password_check_minimal_length')) {
    const same = num('simple_password_check_letters_same_case');
    return {
      source: 'simple_password_check',
      minLength: num('simple_password_check_minimal_length'),
      minLowercase: same,
      minUppercase: same,
      minDigits: num('simple_password_check_digits'),
      minSpecial: num('simple_password_check_other_characters'),
    };
  }
  return undefined;
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}
