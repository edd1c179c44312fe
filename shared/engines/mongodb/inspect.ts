import type { Document, MongoClient } from 'mongodb';
import {
  type ConnectionSettings,
  cloneRightsFinding,
  type Finding,
  type InspectionRequest,
  noDualPasswords,
  type SessionInspection,
} from '../engine';
import { probeTls } from '../inspect-tls';
import { toUserInfo, type UserInfo, userDifferences } from './users';

/** One entry of connectionStatus's `authenticatedUserPrivileges`. */
interface Privilege {
  resource?: { db?: string; collection?: string; anyResource?: boolean; cluster?: boolean };
  actions?: string[];
}

/**
 * Preflight's read-only checks on a MongoDB session: buildInfo, hello, connectionStatus and
 * usersInfo only. The privileges come from `connectionStatus` with `showPrivileges`. FerretDB 1.x
 * stores no roles and enforces none, so there they are reported as unknown.
 */
export async function inspectMongo(
  client: MongoClient,
  settings: ConnectionSettings,
  request: InspectionRequest,
  documentDb: boolean,
): Promise<SessionInspection> {
  const authDb = settings.database ?? 'admin';
  const admin = client.db(authDb);
  const build = await admin.command({ buildInfo: 1 });
  const ferretdb = typeof build.ferretdbVersion === 'string' ? build.ferretdbVersion : undefined;
  const hello = await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }));
  const primary = hello.isWritablePrimary ?? hello.ismaster;
  const findings: Finding[] = [
    primary === false
      ? {
          check: 'writable',
          status: 'fail',
          detail:
            'The server is not the primary and refuses user changes: point the secret at the primary, or set "replicaSet"',
        }
      : { check: 'writable', status: 'pass', detail: 'The server is a writable primary' },
  ];
  const status = await admin
    .command({ connectionStatus: 1, showPrivileges: true })
    .catch(() => undefined);
  const privileges = status?.authInfo?.authenticatedUserPrivileges as Privilege[] | undefined;
  const unknownPrivileges = (what: string): Finding => ({
    check: 'privileges',
    status: 'unknown',
    detail: ferretdb
      ? `FerretDB ${ferretdb} stores and enforces no roles: any logged-in user may ${what}, so this cannot be checked here`
      : `The server did not list this user's privileges (connectionStatus showPrivileges), so whether it may ${what} is unknown`,
  });

  if (request.role === 'self') {
    if (request.retainCurrent) findings.push(noDualPasswords('MongoDB'));
    if (!privileges || ferretdb) {
      findings.push(unknownPrivileges('change its own password'));
    } else {
      findings.push(
        allows(privileges, authDb, 'changeOwnPassword')
          ? {
              check: 'privileges',
              status: 'pass',
              detail: `"${settings.username}" has changeOwnPassword on database "${authDb}"`,
            }
          : {
              check: 'privileges',
              status: 'fail',
              detail: `"${settings.username}" lacks changeOwnPassword on database "${authDb}" (built-in roles such as readWrite do not include it): grant a role with { resource: { db: "${authDb}", collection: "" }, actions: ["changeOwnPassword"] }`,
            },
      );
    }
  } else if (request.role === 'master') {
    const usersDb = request.database ?? 'admin';
    const info = async (user: string) =>
      (
        (
          await client
            .db(usersDb)
            .command({ usersInfo: { user, db: usersDb }, showAuthenticationRestrictions: true })
        ).users as Document[] | undefined
      )?.[0];
    const base = await info(request.baseUsername);
    const clone = await info(request.cloneUsername);
    if (!privileges || ferretdb) {
      findings.push(unknownPrivileges(`create and update users in "${usersDb}"`));
    } else {
      const roleDbs = new Set<string>([
        usersDb,
        ...((base?.roles as Document[] | undefined) ?? []).map((r) => String(r.db)),
      ]);
      const needed: Array<[string, string]> = [
        ['viewUser', usersDb],
        ['createUser', usersDb],
        ['changePassword', usersDb],
        ...[...roleDbs].flatMap(
          (db): Array<[string, string]> => [
            ['grantRole', db],
            ['revokeRole', db],
          ],
        ),
        ...(((base?.authenticationRestrictions as Document[] | undefined) ?? []).length > 0
          ? [['setAuthenticationRestriction', usersDb] as [string, string]]
          : []),
      ];
      const missing = needed.filter(([action, db]) => !allows(privileges, db, action));
      findings.push(
        missing.length > 0
          ? {
              check: 'privileges',
              status: 'fail',
              detail: `master "${settings.username}" lacks ${missing.map(([a, db]) => `${a} on "${db}"`).join(', ')} (userAdmin on those databases, or userAdminAnyDatabase, grants them)`,
            }
          : {
              check: 'privileges',
              status: 'pass',
              detail: `master "${settings.username}" may view, create and update users and grant their roles in "${usersDb}"`,
            },
      );
    }
    findings.push(
      base
        ? {
            check: 'base user',
            status: 'pass',
            detail: `User "${request.baseUsername}" exists in "${usersDb}"`,
          }
        : {
            check: 'base user',
            status: 'fail',
            detail: `User "${request.baseUsername}" does not exist in database "${usersDb}"; alternating users start from an existing base user`,
          },
      {
        check: 'clone',
        status: 'info',
        detail: clone
          ? `"${request.cloneUsername}" exists in "${usersDb}"; each rotation brings its roles level`
          : `"${request.cloneUsername}" does not exist yet; the first rotation creates it`,
      },
    );
    if (base && clone) findings.push(cloneRights(toUserInfo(base), toUserInfo(clone), request));
  }
  const product = ferretdb
    ? `FerretDB ${ferretdb} (MongoDB ${build.version} wire protocol)`
    : documentDb
      ? `Amazon DocumentDB (MongoDB ${build.version} API)`
      : `MongoDB ${build.version}`;
  return {
    server: product,
    tls: await probeTls(settings),
    usernameLimit: undefined,
    passwordRules: undefined,
    findings,
  };
}

/** True when one of the privileges allows `action` on database `db` (collection-wide). */
function allows(privileges: Privilege[], db: string, action: string): boolean {
  return privileges.some(
    (p) =>
      p.actions?.includes(action) &&
      (p.resource?.anyResource === true ||
        (p.resource?.collection === '' && (p.resource.db === db || p.resource.db === ''))),
  );
}

/** The clone's drift from the base, read-only: what testSecret would refuse. */
function cloneRights(
  base: UserInfo,
  clone: UserInfo,
  request: Extract<InspectionRequest, { role: 'master' }>,
): Finding {
  const names = { base: `"${request.baseUsername}"`, clone: `"${request.cloneUsername}"` };
  return cloneRightsFinding(
    names,
    userDifferences(base, clone, names),
    `has exactly the roles, authentication restrictions and custom data of ${names.base}`,
  );
}
