/**
 * Pair mode's parity check on MongoDB and DocumentDB: what the session's user may do, read in its
 * own session from what every user may read about itself, so neither user of a pair needs a right
 * for it (no viewUser, no viewRole). Two commands, both in the user's authentication database (the
 * secret's dbname):
 * - `connectionStatus` with `showPrivileges` (any logged-in user; no privilege needed):
 *   `authenticatedUserRoles`, every role the user has, granted directly or through another role,
 *   and `authenticatedUserPrivileges`, every action those roles allow, by resource.
 * - `usersInfo` for its own user with `showPrivileges` and `showAuthenticationRestrictions` ("users
 *   can always view their own information"): its direct `roles`, `inheritedRoles` and
 *   `inheritedPrivileges` (the same roles and privileges again, merged with the above), its own
 *   `authenticationRestrictions` and those of its roles (`inheritedAuthenticationRestrictions`).
 *   MongoDB Atlas does not offer usersInfo (users live in Atlas), so there a refusal of usersInfo
 *   leaves the restrictions unseen and the rest stands.
 * Each right is one line that names neither user of the pair, so the two users' lists compare as
 * text:
 * - `role <name>@<db>` for every role, direct or inherited (a role named exactly like either user
 *   of the pair is written `role (named after a user of the pair)@<db>`; what it grants is compared
 *   by the privilege lines);
 * - `<actions> on <resource>`: the sorted actions the user has on one resource, e.g.
 *   `find,insert on collection "orders" of database "app"`; a database or collection named like a
 *   user is a resource, and kept;
 * - `authentication restriction {…}` for each of its own (any one must be met to log in), or
 *   `no authentication restrictions of its own`; `authentication restriction through its roles
 *   […]` for each role's set. Any difference counts, in both directions.
 * Not compared, as they are not rights: its custom data, its SCRAM mechanisms, its user id. Never
 * read: credentials.
 * It cannot see: network access outside the server (bindIp, firewalls, security groups, an Atlas
 * access list), and what Atlas keeps outside the server (a database user's cluster scopes and
 * expiry). Where the server does not report a part (below), that part is listed as unseen instead.
 *
 * DocumentDB stores and authorizes its users in `admin`. Which of these fields it answers is not
 * checked against a DocumentDB server: a missing field becomes an unseen entry, a refused usersInfo
 * too, and only a refused connectionStatus (with and without showPrivileges) is an error.
 *
 * FerretDB 1.x, the local stand-in, stores no roles (createUser refuses any), enforces none, and
 * ignores authentication restrictions (createUser accepts them and keeps nothing): connectionStatus
 * answers `authenticatedUserRoles: []` and no `authenticatedUserPrivileges` at all, usersInfo no
 * inherited fields and no `authenticationRestrictions`. Every user there gives the same empty list,
 * with unseen entries that say so; the comparison is proved on mocked MongoDB replies only.
 */
import type { Document } from 'mongodb';
import { DatabaseStatementError } from '../../errors';
import type { OwnRights } from '../engine';

/** Runs one command in a database, as the session's user; the session's own `command`. */
export type MongoRun = (database: string, command: Document, name: string) => Promise<Document>;

export const MONGO_UNSEEN = [
  'network access outside the server (bindIp, firewalls, security groups, an Atlas access list)',
  "what MongoDB Atlas keeps outside the server (a database user's cluster scopes and expiry)",
];

/** The role lines' stand-in for a role named exactly like either user of the pair. */
const PAIR_NAMED_ROLE = '(named after a user of the pair)';

/** One privilege as the server lists it (connectionStatus, usersInfo). */
interface Privilege {
  resource?: Document;
  actions?: unknown;
}

/**
 * Every right, as lines; see the module comment. `database` is the user's authentication
 * database. Throws what `run` throws when connectionStatus fails (a server without it); a refused
 * usersInfo only makes the restrictions unseen.
 */
export async function readOwnRights(
  run: MongoRun,
  who: { username: string; database: string; partner: string },
): Promise<OwnRights> {
  const unseen = [...MONGO_UNSEEN];
  let status: Document;
  try {
    status = await run(
      who.database,
      { connectionStatus: 1, showPrivileges: true },
      'connectionStatus',
    );
  } catch (error) {
    // A server that takes connectionStatus but not showPrivileges: its roles still count.
    if (!(error instanceof DatabaseStatementError)) throw error;
    status = await run(who.database, { connectionStatus: 1 }, 'connectionStatus');
  }
  const authInfo = (status.authInfo ?? {}) as Document;
  let user: Document | undefined;
  let refusal: string | undefined;
  try {
    const reply = await run(
      who.database,
      {
        usersInfo: { user: who.username, db: who.database },
        showPrivileges: true,
        showAuthenticationRestrictions: true,
      },
      'usersInfo',
    );
    user = (reply.users as Document[] | undefined)?.[0];
    if (!user) refusal = 'usersInfo did not return the user itself';
  } catch (error) {
    if (!(error instanceof DatabaseStatementError)) throw error;
    // The server's message may quote the command, which names the user: only its code is kept.
    const cause = error.cause as { code?: unknown; codeName?: unknown } | undefined;
    refusal = `the server refused usersInfo on the user itself (code ${String(cause?.code ?? 'unknown')}${cause?.codeName ? ` ${String(cause.codeName)}` : ''})`;
  }

  const roleLists = [authInfo.authenticatedUserRoles, user?.roles, user?.inheritedRoles].filter(
    Array.isArray,
  ) as Document[][];
  const privilegeLists = [authInfo.authenticatedUserPrivileges, user?.inheritedPrivileges].filter(
    Array.isArray,
  ) as Privilege[][];
  const names = new Set([who.username, who.partner]);
  const roles = roleLists.flat().map((r) => roleLine(r, names));
  const privileges = privilegeLines(privilegeLists.flat());
  if (roleLists.length === 0) {
    unseen.push('its roles: the server did not report them (connectionStatus, usersInfo)');
  }
  if (privilegeLists.length === 0) {
    unseen.push(
      roles.length === 0
        ? 'its roles and privileges: the server reported no roles and listed no privileges (no authenticatedUserPrivileges from connectionStatus with showPrivileges), as a server without roles does (FerretDB 1.x), so what the user may do is not compared'
        : 'what its roles grant: the server listed no privileges (no authenticatedUserPrivileges from connectionStatus with showPrivileges); roles compare by name only',
    );
  }

  const restrictions: string[] = [];
  if (refusal !== undefined) {
    unseen.push(`its authentication restrictions: ${refusal}`);
  } else if (!Array.isArray(user?.authenticationRestrictions)) {
    unseen.push(
      'its authentication restrictions: the server did not report them (usersInfo with showAuthenticationRestrictions)',
    );
  } else {
    const own = user.authenticationRestrictions as unknown[];
    restrictions.push(
      ...(own.length === 0
        ? ['no authentication restrictions of its own']
        : own.map((r) => `authentication restriction ${canonical(r)}`)),
    );
    const inherited = user.inheritedAuthenticationRestrictions;
    if (Array.isArray(inherited)) {
      restrictions.push(
        ...inherited.map((r) => `authentication restriction through its roles ${canonical(r)}`),
      );
    }
  }
  return {
    rights: [...new Set([...roles, ...privileges])].sort(),
    // Restrictions narrow where it may log in from: they must be equal both ways.
    limits: [...new Set(restrictions)].sort(),
    unseen,
  };
}

function roleLine(role: Document, names: ReadonlySet<string>): string {
  const name = String(role.role);
  return `role ${names.has(name) ? PAIR_NAMED_ROLE : name}@${String(role.db)}`;
}

/** One line per resource, with every action on it (merged when listed more than once). */
function privilegeLines(privileges: readonly Privilege[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const { resource, actions } of privileges) {
    const key = describeResource(resource ?? {});
    const set = byResource.get(key) ?? new Set<string>();
    for (const action of Array.isArray(actions) ? actions : []) set.add(String(action));
    byResource.set(key, set);
  }
  return [...byResource]
    .filter(([, actions]) => actions.size > 0)
    .map(([resource, actions]) => `${[...actions].sort().join(',')} on ${resource}`);
}

/** A resource document in words (MongoDB's "Resource Document" reference). */
export function describeResource(resource: Document): string {
  const keys = Object.keys(resource).sort().join(',');
  const q = (value: unknown) => JSON.stringify(String(value));
  if (keys === 'cluster' && resource.cluster === true) return 'the cluster';
  if (keys === 'anyResource' && resource.anyResource === true) return 'any resource';
  if (keys === 'collection,db') {
    const { db, collection } = resource;
    if (db === '' && collection === '') return 'every database (non-system collections)';
    if (collection === '') return `database ${q(db)} (non-system collections)`;
    if (db === '') return `collection ${q(collection)} of every database`;
    return `collection ${q(collection)} of database ${q(db)}`;
  }
  if (keys === 'db,system_buckets' || keys === 'system_buckets') {
    const db = resource.db ?? '';
    const buckets = resource.system_buckets;
    const which = buckets === '' ? 'every time series collection' : `time series ${q(buckets)}`;
    return `the buckets of ${which} of ${db === '' ? 'every database' : `database ${q(db)}`}`;
  }
  return `resource ${canonical(resource)}`;
}

/**
 * JSON with every object's keys sorted and every list of plain values (addresses, ranges) sorted,
 * so equal restrictions and resources give equal text whatever order they were written in.
 */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (Array.isArray(v)) {
      return v.every((e) => typeof e !== 'object' || e === null)
        ? [...v].sort()
        : [...v].sort((a, b) => canonical(a).localeCompare(canonical(b)));
    }
    return v !== null && typeof v === 'object'
      ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => a.localeCompare(b)))
      : v;
  });
}
