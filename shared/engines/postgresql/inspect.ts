import type { Client } from 'pg';
import { DatabaseStatementError, UnboundPairError } from '../../errors';
import {
  type AlternatingUsers,
  type ConnectionSettings,
  cloneRightsFinding,
  type Finding,
  type InspectionRequest,
  noDualPasswords,
  type SessionInspection,
} from '../engine';
import { describeTlsSocket } from '../inspect-tls';

interface SessionFacts {
  version: string;
  num: number;
  ident: number;
  recovery: boolean;
  rolname: string;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolvaliduntil: Date | null;
}

interface RoleFacts {
  rolsuper: boolean;
  admin: boolean;
}

/**
 * Preflight's read-only checks on a PostgreSQL session: only SELECTs on catalogs and settings.
 * Single-user: any role may change its own password, so only a standby or an expiring password
 * can stand in the way. Alternating users: CREATEROLE (or superuser), and from PostgreSQL 16 on,
 * ADMIN OPTION on the base user and on an existing clone.
 */
export async function inspectPostgres(
  client: Client,
  settings: ConnectionSettings,
  request: InspectionRequest,
  compare: (users: AlternatingUsers) => Promise<string[]>,
): Promise<SessionInspection> {
  const [facts] = (
    await client.query<SessionFacts>(
      `SELECT current_setting('server_version') AS version,
              current_setting('server_version_num')::int AS num,
              current_setting('max_identifier_length')::int AS ident,
              pg_is_in_recovery() AS recovery,
              rolname, rolsuper, rolcreaterole,
              CASE WHEN rolvaliduntil < 'infinity' THEN rolvaliduntil END AS rolvaliduntil
         FROM pg_roles WHERE rolname = current_user`,
    )
  ).rows;
  if (!facts) throw new Error(`PostgreSQL has no pg_roles row for user "${settings.username}"`);
  const findings: Finding[] = [
    facts.recovery
      ? {
          check: 'writable',
          status: 'fail',
          detail:
            'The server is a standby (read replica) and refuses ALTER ROLE: point the secret at the primary (the cluster or writer endpoint)',
        }
      : {
          check: 'writable',
          status: 'pass',
          detail: 'The server is a primary and accepts changes',
        },
  ];
  if (facts.rolvaliduntil !== null && facts.rolvaliduntil !== undefined) {
    findings.push({
      check: 'password expiry',
      status: 'warn',
      detail: `User "${facts.rolname}" has VALID UNTIL ${new Date(facts.rolvaliduntil).toISOString()}; a rotation does not change it, so the new password expires then too`,
    });
  }
  if (facts.num < 100_000) {
    findings.push({
      check: 'server version',
      status: 'fail',
      detail: `PostgreSQL ${facts.version} is older than 10: it would store the SCRAM-SHA-256 verifier these functions send as the password itself, so rotations refuse it`,
    });
  }
  if (request.role === 'self') {
    findings.push({
      check: 'privileges',
      status: 'pass',
      detail: `Any PostgreSQL role may change its own password (ALTER ROLE CURRENT_USER … PASSWORD); "${facts.rolname}" needs nothing more`,
    });
    if (request.retainCurrent) findings.push(noDualPasswords('PostgreSQL'));
  } else if (request.role === 'master') {
    findings.push(...(await masterFindings(client, facts, request, compare)));
  }
  return {
    server: `PostgreSQL ${facts.version}`,
    tls: describeTlsSocket(
      (client as unknown as { connection?: { stream?: unknown } }).connection?.stream,
    ),
    usernameLimit: { max: facts.ident, unit: 'bytes' },
    passwordRules: undefined,
    findings,
  };
}

async function masterFindings(
  client: Client,
  master: SessionFacts,
  request: Extract<InspectionRequest, { role: 'master' }>,
  compare: (users: AlternatingUsers) => Promise<string[]>,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const who = `master "${master.rolname}"`;
  const role = async (name: string): Promise<RoleFacts | undefined> =>
    (
      await client.query<RoleFacts>(
        `SELECT rolsuper, pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION') AS admin
           FROM pg_roles WHERE rolname = $1`,
        [name],
      )
    ).rows[0];
  const base = await role(request.baseUsername);
  const clone = await role(request.cloneUsername);
  const since16 = master.num >= 160000;
  const grant = (name: string) =>
    `as a superuser: GRANT "${name.replaceAll('"', '""')}" TO "${master.rolname.replaceAll('"', '""')}" WITH ADMIN OPTION`;

  if (master.rolsuper) {
    findings.push({ check: 'privileges', status: 'pass', detail: `${who} is a superuser` });
  } else if (master.rolcreaterole) {
    findings.push({ check: 'privileges', status: 'pass', detail: `${who} has CREATEROLE` });
  } else {
    findings.push({
      check: 'privileges',
      status: 'fail',
      detail: `${who} has neither CREATEROLE nor superuser, so it cannot create or alter "${request.cloneUsername}": ALTER ROLE "${master.rolname}" CREATEROLE`,
    });
  }
  if (!base) {
    findings.push({
      check: 'base user',
      status: 'fail',
      detail: `Role "${request.baseUsername}" does not exist; alternating users start from an existing base user`,
    });
  } else if (base.rolsuper && !master.rolsuper) {
    findings.push({
      check: 'base user',
      status: 'fail',
      detail: `Role "${request.baseUsername}" is a superuser; only a superuser master may alter it`,
    });
  } else if (since16 && !master.rolsuper && !base.admin) {
    findings.push({
      check: 'base user',
      status: 'fail',
      detail: `On PostgreSQL 16 and later, ${who} needs ADMIN OPTION on "${request.baseUsername}" to grant it to the clone and change its password (${grant(request.baseUsername)})`,
    });
  } else {
    findings.push({
      check: 'base user',
      status: 'pass',
      detail: `Role "${request.baseUsername}" exists and ${who} may manage it${since16 && !master.rolsuper ? ' (ADMIN OPTION)' : ''}`,
    });
  }
  if (!clone) {
    findings.push({
      check: 'clone',
      status: 'info',
      detail: `Role "${request.cloneUsername}" does not exist yet; the first rotation creates it`,
    });
  } else if (since16 && !master.rolsuper && !clone.admin) {
    findings.push({
      check: 'clone',
      status: 'fail',
      detail: `Role "${request.cloneUsername}" exists, but ${who} has no ADMIN OPTION on it, so cannot change its password (${grant(request.cloneUsername)})`,
    });
  } else {
    findings.push({
      check: 'clone',
      status: 'pass',
      detail: `Role "${request.cloneUsername}" exists and ${who} may alter it; each rotation brings its membership and settings level`,
    });
  }
  if (base && clone) findings.push(await cloneRights(request, compare));
  const bytes = Buffer.byteLength(request.cloneUsername, 'utf8');
  findings.push(
    bytes > master.ident
      ? {
          check: 'clone name',
          status: 'fail',
          detail: `"${request.cloneUsername}" is ${bytes} bytes, longer than this server's ${master.ident}-byte limit (max_identifier_length)`,
        }
      : {
          check: 'clone name',
          status: 'pass',
          detail: `"${request.cloneUsername}" is ${bytes} bytes; this server allows ${master.ident} (max_identifier_length)`,
        },
  );
  return findings;
}

/** The clone's drift from the base at login, read-only: what testSecret would refuse. */
async function cloneRights(
  request: Extract<InspectionRequest, { role: 'master' }>,
  compare: (users: AlternatingUsers) => Promise<string[]>,
): Promise<Finding> {
  const names = { base: `"${request.baseUsername}"`, clone: `"${request.cloneUsername}"` };
  let drift: string[];
  try {
    drift = await compare({
      baseUsername: request.baseUsername,
      cloneUsername: request.cloneUsername,
      database: request.database,
    });
  } catch (error) {
    if (!(error instanceof DatabaseStatementError || error instanceof UnboundPairError))
      throw error;
    return {
      check: 'clone rights',
      status: 'fail',
      detail: `Could not compare ${names.base} and ${names.clone}: ${error.message}`,
    };
  }
  return cloneRightsFinding(
    names,
    drift,
    `acts as ${names.base} at login, with its attributes, memberships, settings, CONNECTION LIMIT and VALID UNTIL, and holds nothing of its own`,
  );
}
