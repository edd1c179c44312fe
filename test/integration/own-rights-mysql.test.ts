import fc from 'fast-check';
import type { DatabaseSession, OwnRights } from '../../shared/engines/engine';
import { mariadb as mariadbEngine, mysql as mysqlEngine } from '../../shared/engines/mysql';
import { type MysqlServer, readEnvironment } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import { ident, lit, type MysqlLogin, mysqlRoot, mysqlRun } from '../helpers/mysql-client';

// A generative test of pair mode's parity check on MySQL and MariaDB (mysql/own-rights.ts): two
// users start with the same grants; a seeded random sequence of grants, revokes, roles, default
// roles, PROXY grants and account options is applied to one, the other or both; after each step
// each user reads its own rights through the adapter (logged in as itself), and the two lists must
// be equal exactly when the server's own view as root (SHOW GRANTS FOR and SHOW CREATE USER of
// each, with the two names made neutral) is, and when they differ, the differing lines must name
// what the root view shows differs; no line may hold either user's name or password, or the
// password hash root sees. A failure prints the seed and the steps; replay with
// OWN_RIGHTS_SEED=<seed>. OWN_RIGHTS_RUNS sequences (default 5) of OWN_RIGHTS_STEPS steps (default
// 15) per server. MySQL's partial revokes are exercised when the server has partial_revokes=ON
// (the test does not change that server-wide setting: other suites toggle it), or with
// OWN_RIGHTS_PARTIAL_REVOKES=1, which turns it on for the run. OWN_RIGHTS_VERBOSE=1 prints each
// step and the lines that differ after it.

const env = readEnvironment();
const saved = { ...process.env };
afterAll(() => {
  process.env = saved;
});

const SEED = Number(process.env.OWN_RIGHTS_SEED) || Math.floor(Math.random() * 2 ** 31);
const RUNS = Number(process.env.OWN_RIGHTS_RUNS) || 5;
const STEPS = Number(process.env.OWN_RIGHTS_STEPS) || 15;
const servers = env.mysql.filter((server) => !server.requireSecureTransport);

/** Placeholders in a generated change. */
const T = '{target}';
const O = '{other}';
const DB = '{db}';
const R1 = '{role1}';
const R2 = '{role2}';
const PX = '{proxied}';

/** A change to one user of the pair, and who runs it: root, the other user, or the proxied account. */
interface Change {
  sql: string;
  as: 'root' | 'other' | 'proxied';
}

const TABLE_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'ALTER',
  'DROP',
  'ALL PRIVILEGES',
];
const DB_PRIVILEGES = [...TABLE_PRIVILEGES, 'CREATE TEMPORARY TABLES', 'EXECUTE', 'SHOW VIEW'];

function changes(flavor: 'mysql' | 'mariadb'): fc.Arbitrary<Change> {
  const root = (sql: fc.Arbitrary<string>) => sql.map((s): Change => ({ sql: s, as: 'root' }));
  const option = fc.constantFrom('', ' WITH GRANT OPTION');
  const level = fc.constantFrom('*.*', `${DB}.*`, `${DB}.\`t\``);
  const privilegeAt = fc.oneof(
    fc.tuple(fc.constantFrom('*.*', `${DB}.*`), fc.constantFrom(...DB_PRIVILEGES)),
    fc.tuple(fc.constant(`${DB}.\`t\``), fc.constantFrom(...TABLE_PRIVILEGES)),
  );
  const list: fc.Arbitrary<Change>[] = [
    root(fc.tuple(privilegeAt, option).map(([[on, p], o]) => `GRANT ${p} ON ${on} TO ${T}${o}`)),
    root(privilegeAt.map(([on, p]) => `REVOKE ${p} ON ${on} FROM ${T}`)),
    root(level.map((on) => `GRANT USAGE ON ${on} TO ${T} WITH GRANT OPTION`)),
    root(level.map((on) => `REVOKE GRANT OPTION ON ${on} FROM ${T}`)),
    root(
      fc
        .tuple(fc.constantFrom('SELECT', 'UPDATE'), fc.constantFrom('a', 'b'), option)
        .map(([p, c, o]) => `GRANT ${p} (\`${c}\`) ON ${DB}.\`t\` TO ${T}${o}`),
    ),
    root(
      fc
        .tuple(fc.constantFrom('SELECT', 'UPDATE'), fc.constantFrom('a', 'b'))
        .map(([p, c]) => `REVOKE ${p} (\`${c}\`) ON ${DB}.\`t\` FROM ${T}`),
    ),
    root(
      fc
        .tuple(fc.constantFrom('EXECUTE', 'ALTER ROUTINE'), option)
        .map(([p, o]) => `GRANT ${p} ON PROCEDURE ${DB}.\`p1\` TO ${T}${o}`),
    ),
    root(
      fc
        .constantFrom('EXECUTE', 'ALTER ROUTINE')
        .map((p) => `REVOKE ${p} ON PROCEDURE ${DB}.\`p1\` FROM ${T}`),
    ),
    root(
      fc
        .tuple(fc.constantFrom(R1, R2), fc.constantFrom('', ' WITH ADMIN OPTION'))
        .map(([r, o]) => `GRANT ${r} TO ${T}${o}`),
    ),
    root(fc.constantFrom(R1, R2).map((r) => `REVOKE ${r} FROM ${T}`)),
    root(
      fc
        .constantFrom(R1, R2, 'NONE', ...(flavor === 'mysql' ? [`${R1}, ${R2}`] : []))
        .map((r) => `SET DEFAULT ROLE ${r} ${flavor === 'mysql' ? 'TO' : 'FOR'} ${T}`),
    ),
    // PROXY is granted and revoked by the proxied account itself: the other user of the pair (so
    // the lines must name it neutrally), or a third account.
    fc
      .tuple(fc.constantFrom<Change['as']>('other', 'proxied'), option)
      .map(([as, o]) => ({ sql: `GRANT PROXY ON ${as === 'other' ? O : PX} TO ${T}${o}`, as })),
    fc
      .constantFrom<Change['as']>('other', 'proxied')
      .map((as) => ({ sql: `REVOKE PROXY ON ${as === 'other' ? O : PX} FROM ${T}`, as })),
    root(fc.constantFrom('SSL', 'NONE').map((r) => `ALTER USER ${T} REQUIRE ${r}`)),
    root(
      fc
        .tuple(
          fc.constantFrom(
            'MAX_QUERIES_PER_HOUR',
            'MAX_UPDATES_PER_HOUR',
            'MAX_CONNECTIONS_PER_HOUR',
            'MAX_USER_CONNECTIONS',
          ),
          fc.constantFrom(0, 1000, 2000),
        )
        .map(([limit, n]) => `ALTER USER ${T} WITH ${limit} ${n}`),
    ),
    root(
      fc
        .constantFrom('INTERVAL 30 DAY', 'INTERVAL 365 DAY', 'NEVER', 'DEFAULT')
        .map((e) => `ALTER USER ${T} PASSWORD EXPIRE ${e}`),
    ),
  ];
  if (flavor === 'mysql') {
    list.push(
      root(
        fc
          .tuple(fc.constantFrom('SESSION_VARIABLES_ADMIN', 'XA_RECOVER_ADMIN'), option)
          .map(([p, o]) => `GRANT ${p} ON *.* TO ${T}${o}`),
      ),
      root(
        fc
          .constantFrom('SESSION_VARIABLES_ADMIN', 'XA_RECOVER_ADMIN')
          .map((p) => `REVOKE ${p} ON *.* FROM ${T}`),
      ),
      root(
        fc
          .tuple(fc.constantFrom(0, 3), fc.constantFrom('1', 'UNBOUNDED'))
          .map(([n, t]) => `ALTER USER ${T} FAILED_LOGIN_ATTEMPTS ${n} PASSWORD_LOCK_TIME ${t}`),
      ),
      root(
        fc
          .constantFrom(
            'PASSWORD HISTORY 5',
            'PASSWORD HISTORY DEFAULT',
            'PASSWORD REUSE INTERVAL 10 DAY',
            'PASSWORD REUSE INTERVAL DEFAULT',
            'PASSWORD REQUIRE CURRENT',
            'PASSWORD REQUIRE CURRENT OPTIONAL',
            'PASSWORD REQUIRE CURRENT DEFAULT',
          )
          .map((clause) => `ALTER USER ${T} ${clause}`),
      ),
      // A partial revoke (partial_revokes=ON): what the user holds on *.*, narrowed on the database.
      root(fc.constantFrom('INSERT', 'UPDATE').map((p) => `REVOKE ${p} ON ${DB}.* FROM ${T}`)),
    );
  } else {
    list.push(
      root(
        fc
          .constantFrom('0', '1.5', '10')
          .map((n) => `ALTER USER ${T} WITH MAX_STATEMENT_TIME ${n}`),
      ),
      root(fc.constantFrom(R1, R2).map((r) => `REVOKE ADMIN OPTION FOR ${r} FROM ${T}`)),
    );
  }
  return fc.oneof(...list);
}

/**
 * A step: one change, applied to user `a`, to `b`, to both (they stay equal), or `mirror`: the
 * change before it, applied to whichever user it was not (they often become equal again).
 */
type Step = { change: Change; to: 'a' | 'b' | 'both' } | { to: 'mirror' };

function steps(flavor: 'mysql' | 'mariadb'): fc.Arbitrary<Step[]> {
  const step = fc.oneof(
    { arbitrary: fc.record({ change: changes(flavor), to: fc.constantFrom('a', 'b') }), weight: 4 },
    { arbitrary: fc.record({ change: changes(flavor), to: fc.constant('both') }), weight: 1 },
    { arbitrary: fc.constant({ to: 'mirror' as const }), weight: 2 },
  ) as fc.Arbitrary<Step>;
  return fc.array(step, { minLength: STEPS, maxLength: STEPS });
}

/** MySQL's "you need (at least one of) the … privilege(s) for this operation". */
const ER_SPECIFIC_ACCESS_DENIED = 1227;

/** Server errors that only mean a change had nothing to do (no such grant, role not granted, …). */
const NOTHING_TO_DO = new Set([
  1141, // ER_NONEXISTING_GRANT (also a partial revoke with partial_revokes=OFF)
  1147, // ER_NONEXISTING_TABLE_GRANT
  1403, // ER_NONEXISTING_PROC_GRANT
  1927, // MariaDB: role not granted
  1959, // MariaDB: ER_INVALID_ROLE
  1962, // MariaDB: ER_CANNOT_REVOKE_ROLE
  3523, // MySQL: ER_UNKNOWN_AUTHID
  3530, // MySQL: ER_ROLE_NOT_GRANTED
]);

/** The lines of `a` that `b` lacks, and of `b` that `a` lacks. */
function symmetricDifference(a: readonly string[], b: readonly string[]): string[] {
  const inA = new Set(a);
  const inB = new Set(b);
  return [...a.filter((l) => !inB.has(l)), ...b.filter((l) => !inA.has(l))];
}

describe.each(servers.map((server) => [server.name, server] as const))(
  'own rights (pair mode) on %s',
  (_name, server: MysqlServer) => {
    const root = mysqlRoot(server);
    const flavor = server.flavor;
    const db = `own_rights_${server.port}`;
    const roles =
      flavor === 'mysql'
        ? [`'own_r1_${server.port}'@'%'`, `'own_r2_${server.port}'@'%'`]
        : [`\`own_r1_${server.port}\``, `\`own_r2_${server.port}\``];
    const proxied = { username: `own_px_${server.port}`, password: 'Proxied-password-1' };
    let savedPartialRevokes: string | undefined;

    beforeAll(async () => {
      await mysqlRun(
        server,
        root,
        `CREATE DATABASE IF NOT EXISTS ${ident(db)}`,
        `CREATE TABLE IF NOT EXISTS ${ident(db)}.t (a int, b int)`,
        `CREATE PROCEDURE IF NOT EXISTS ${ident(db)}.p1() SELECT 1`,
        `CREATE ROLE IF NOT EXISTS ${roles[0]}`,
        `CREATE ROLE IF NOT EXISTS ${roles[1]}`,
        // What the roles grant, neither user holds directly at the start: were a role's grants read
        // as the user's own (SHOW GRANTS FOR CURRENT_USER() on MySQL merges the active roles'), a
        // change of default roles would show as privileges the root view does not.
        `GRANT UPDATE ON ${ident(db)}.t TO ${roles[0]}`,
        `GRANT DELETE ON ${ident(db)}.* TO ${roles[1]}`,
        `CREATE USER IF NOT EXISTS ${lit(proxied.username)}@'%' IDENTIFIED BY ${lit(proxied.password)}`,
      );
      if (flavor === 'mysql') {
        const [[row]] = (await mysqlRun(server, root, 'SELECT @@GLOBAL.partial_revokes AS v')) as [
          Array<{ v: number }>,
        ];
        savedPartialRevokes = String(row?.v ?? 0);
        if (process.env.OWN_RIGHTS_PARTIAL_REVOKES === '1' && savedPartialRevokes !== '1') {
          await mysqlRun(server, root, 'SET GLOBAL partial_revokes = ON');
        }
      }
    });
    afterAll(async () => {
      if (savedPartialRevokes === '0' && process.env.OWN_RIGHTS_PARTIAL_REVOKES === '1') {
        // Refused while any account holds a restriction; the users are dropped by then.
        await mysqlRun(server, root, 'SET GLOBAL partial_revokes = OFF').catch(() => undefined);
      }
    });
    beforeEach(() => setHandlerEnvironment(env, server.caFile));

    /**
     * The adapter, logged in as `user` over TLS (the changes may REQUIRE SSL). Its rights and its
     * limits together, as `rights`: this suite checks that every difference shows, whichever part
     * it is in; which lines are limits is checked here too.
     */
    async function ownRights(user: MysqlLogin, partner: string): Promise<OwnRights> {
      const own = await readOwn(user, partner);
      for (const line of own.limits) {
        expect(line).toMatch(/^(account option|partial revoke) /);
      }
      return { ...own, rights: [...own.rights, ...own.limits], limits: [] };
    }

    async function readOwn(user: MysqlLogin, partner: string): Promise<OwnRights> {
      const session: DatabaseSession = await (flavor === 'mysql'
        ? mysqlEngine
        : mariadbEngine
      ).connect({
        host: server.host,
        port: server.port,
        username: user.username,
        password: user.password,
        database: undefined,
        tls: 'verify-ca',
        connectTimeoutMs: 5000,
        statementTimeoutMs: 10_000,
        flavor,
        parameters: {},
      });
      try {
        return await session.ownRights({ partner });
      } finally {
        await session.close();
      }
    }

    /**
     * The server's own view of `user` as root, independent of mysql/own-rights.ts: SHOW GRANTS FOR
     * and SHOW CREATE USER, with the pair's names made neutral, the authentication and the options
     * MariaDB repeats on the `*.*` line cut, lists the server may print in any order sorted, and
     * lines granting nothing (`GRANT USAGE ON db.* TO …`) left out. Also the authentication text it
     * cut, which no line of ownRights may hold.
     */
    async function rootView(
      user: string,
      other: string,
    ): Promise<{ lines: string[]; secrets: string[] }> {
      const account = `${lit(user)}@'%'`;
      const [grants, created] = (await mysqlRun(
        server,
        root,
        `SHOW GRANTS FOR ${account}`,
        `SHOW CREATE USER ${account}`,
      )) as [Record<string, string>[], Record<string, string>[]];
      // Accounts are printed in backquotes, and MariaDB's PROXY lines in single quotes.
      const names = (line: string) =>
        line
          .replaceAll(`\`${user}\`@\`%\``, '<self>')
          .replaceAll(`\`${other}\`@\`%\``, '<partner>')
          .replaceAll(`'${user}'@'%'`, '<self>')
          .replaceAll(`'${other}'@'%'`, '<partner>');
      const sortList = (list: string) => list.split(/,\s*/).sort().join(', ');
      const lines: string[] = [];
      for (const row of grants) {
        const line = names(String(Object.values(row)[0]));
        const match = /^(GRANT|REVOKE) (.*) (TO|FROM) <self>(.*)$/.exec(line);
        if (!match) {
          lines.push(line);
          continue;
        }
        const [, verb, what = '', , rest = ''] = match;
        const suffix = ['WITH GRANT OPTION', 'WITH ADMIN OPTION']
          .filter((s) => rest.includes(s))
          .map((s) => ` ${s}`)
          .join('');
        if (verb === 'GRANT' && !/ ON /.test(what)) {
          // Roles: one line each.
          for (const role of what.split(',')) lines.push(`GRANT ${role.trim()} TO <self>${suffix}`);
          continue;
        }
        const columnsSorted = what.replace(
          /\(([^()]*)\)/g,
          (_all, list: string) => `(${sortList(list)})`,
        );
        if (/^USAGE ON (?!\*\.\*)/.test(columnsSorted) && suffix === '') continue;
        lines.push(`${verb} ${columnsSorted} ${verb === 'GRANT' ? 'TO' : 'FROM'} <self>${suffix}`);
      }
      const secrets: string[] = [];
      const authentication =
        /( IDENTIFIED (?:WITH '[^']*'(?: AS (?:<secret>|0x[0-9A-F]+|'(?:[^'\\]|\\.|'')*'))?|BY PASSWORD '[^']*'|VIA .*?(?= REQUIRE| WITH| PASSWORD| ACCOUNT| DEFAULT ROLE|$)))/s;
      for (const row of created) {
        let line = names(String(Object.values(row)[0]));
        const auth = authentication.exec(line)?.[1];
        if (auth) {
          const quoted = /'((?:[^'\\]|\\.|'')*)'\s*$/.exec(auth)?.[1];
          if (quoted && quoted.length >= 8) secrets.push(quoted);
          line = line.replace(auth, '');
        }
        lines.push(
          line.replace(
            / DEFAULT ROLE (\S+(?:,\S+)*)/,
            (_all, list: string) => ` DEFAULT ROLE ${sortList(list)}`,
          ),
        );
      }
      return { lines: lines.sort(), secrets };
    }

    it(
      `the two users' own lists are equal exactly when the server's view is, through ${RUNS} seeded sequences of ${STEPS} steps (seed ${SEED})`,
      async () => {
        let sequence = 0;
        await fc.assert(
          fc.asyncProperty(steps(flavor), async (generated) => {
            sequence++;
            const a = {
              username: `own_a_${server.port}_${sequence}`,
              password: 'Pair-password-A1',
            };
            const b = {
              username: `own_b_${server.port}_${sequence}`,
              password: 'Pair-password-B1',
            };
            const start = (user: MysqlLogin) => [
              `CREATE USER ${lit(user.username)}@'%' IDENTIFIED BY ${lit(user.password)}`,
              `GRANT SELECT ON ${ident(db)}.t TO ${lit(user.username)}@'%'`,
              `GRANT ${roles[0]} TO ${lit(user.username)}@'%'`,
              `GRANT ${roles[1]} TO ${lit(user.username)}@'%'`,
              `SET DEFAULT ROLE ${roles[0]} ${flavor === 'mysql' ? 'TO' : 'FOR'} ${lit(user.username)}@'%'`,
              ...(flavor === 'mysql'
                ? [`GRANT INSERT, UPDATE ON *.* TO ${lit(user.username)}@'%'`]
                : []),
            ];
            await mysqlRun(server, root, ...start(a), ...start(b));
            const trace: string[] = [];
            let previous: { change: Change; to: 'a' | 'b' | 'both' } | undefined;
            try {
              for (const [index, step] of generated.entries()) {
                let applied: { change: Change; to: 'a' | 'b' | 'both' } | undefined;
                if (step.to === 'mirror') {
                  if (previous && previous.to !== 'both') {
                    applied = { change: previous.change, to: previous.to === 'a' ? 'b' : 'a' };
                  }
                } else {
                  applied = step;
                }
                if (applied) {
                  const targets = applied.to === 'both' ? [a, b] : applied.to === 'a' ? [a] : [b];
                  for (const target of targets) {
                    const other = target === a ? b : a;
                    const done = await apply(applied.change, target, other);
                    const named = done.sql
                      .replaceAll(`${lit(a.username)}@'%'`, 'A')
                      .replaceAll(`${lit(b.username)}@'%'`, 'B');
                    trace.push(`${index + 1}. ${named} (as ${applied.change.as})${done.note}`);
                  }
                  previous = applied;
                } else {
                  trace.push(`${index + 1}. (mirror: nothing to mirror)`);
                }
                await check(a, b, trace);
              }
            } finally {
              await mysqlRun(
                server,
                root,
                `DROP USER IF EXISTS ${lit(a.username)}@'%', ${lit(b.username)}@'%'`,
              );
            }
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: true },
        );
      },
      10 * 60_000,
    );

    /** Runs one change on `target`: the statement, and a note when it had nothing to do. */
    async function apply(
      change: Change,
      target: MysqlLogin,
      other: MysqlLogin,
    ): Promise<{ sql: string; note: string }> {
      const sql = change.sql
        .replaceAll(T, `${lit(target.username)}@'%'`)
        .replaceAll(O, `${lit(other.username)}@'%'`)
        .replaceAll(PX, `${lit(proxied.username)}@'%'`)
        .replaceAll(DB, ident(db))
        .replaceAll(R1, roles[0] as string)
        .replaceAll(R2, roles[1] as string);
      const login = change.as === 'root' ? root : change.as === 'other' ? other : proxied;
      try {
        await mysqlRun(server, login, sql);
        return { sql, note: '' };
      } catch (error) {
        const errno = (error as { errno?: number }).errno;
        if (errno !== undefined && NOTHING_TO_DO.has(errno)) {
          return { sql, note: ` → nothing to do (${errno})` };
        }
        // A PROXY grant made by a user of the pair is refused once its target holds SYSTEM_USER
        // (GRANT ALL PRIVILEGES ON *.* as root gives it): MySQL's rule, not a finding.
        if (errno === ER_SPECIFIC_ACCESS_DENIED && change.as !== 'root') {
          return { sql, note: ` → refused (${errno})` };
        }
        throw new Error(`the generated change failed: ${sql}: ${(error as Error).message}`);
      }
    }

    /** The property, after each step. */
    async function check(a: MysqlLogin, b: MysqlLogin, trace: string[]): Promise<void> {
      const [ownA, ownB, viewA, viewB] = await Promise.all([
        ownRights(a, b.username),
        ownRights(b, a.username),
        rootView(a.username, b.username),
        rootView(b.username, a.username),
      ]);
      const ownDiff = symmetricDifference(ownA.rights, ownB.rights);
      const viewDiff = symmetricDifference(viewA.lines, viewB.lines);
      const problems: string[] = [];
      if ((ownDiff.length === 0) !== (viewDiff.length === 0)) {
        problems.push(
          ownDiff.length === 0
            ? 'the own lists are equal, but the root view differs'
            : 'the own lists differ, but the root view is equal',
        );
      }
      // Every line one user's list has and the other's lacks names something the root view shows
      // differs, and everything the root view shows differs is named by such a line.
      const viewText = viewDiff.join('\n');
      const options = viewDiff.some((l) => /^(CREATE|ALTER) USER/.test(l));
      for (const line of ownDiff) {
        const subject = subjectOf(line);
        const named =
          subject === 'account option'
            ? options
            : subject === 'DEFAULT ROLE'
              ? /DEFAULT ROLE/.test(viewText)
              : viewText.includes(subject);
        if (!named)
          problems.push(`"${line}" differs, but the root view shows no difference in ${subject}`);
      }
      for (const line of viewDiff) {
        const object = / ON (.*) (?:TO|FROM) <self>/.exec(line)?.[1];
        const role = /^GRANT (\S+) TO <self>/.exec(line)?.[1];
        const wanted = object ?? role;
        const named = wanted
          ? ownDiff.some((l) => l.includes(wanted))
          : /^SET DEFAULT ROLE/.test(line)
            ? ownDiff.some((l) => l.startsWith('default roles'))
            : ownDiff.some((l) => l.startsWith('account option') || l.startsWith('default roles'));
        if (!named)
          problems.push(`the root view differs in "${line}", which no differing own line names`);
      }
      // Neither user's name, password or hash.
      for (const own of [ownA, ownB]) {
        const text = own.rights.join('\n');
        for (const secret of [
          a.username,
          b.username,
          a.password,
          b.password,
          ...viewA.secrets,
          ...viewB.secrets,
        ]) {
          if (text.includes(secret)) problems.push(`a line holds "${secret.slice(0, 12)}…"`);
        }
        if (own.unseen.length === 0) problems.push('nothing listed as unseen');
      }
      if (process.env.OWN_RIGHTS_VERBOSE === '1') {
        process.stdout.write(
          `${server.name} ${trace.at(-1)}\n   own ${ownDiff.length === 0 ? 'equal' : `differ: ${JSON.stringify(ownDiff)}`}\n`,
        );
      }
      if (problems.length > 0) {
        throw new Error(
          [
            `own rights on ${server.name}, seed ${SEED} (replay: OWN_RIGHTS_SEED=${SEED}): ${problems.join('; ')}`,
            `steps (A = ${a.username}, B = ${b.username}):`,
            ...trace,
            `own lines only one user has: ${JSON.stringify(ownDiff)}`,
            `root view lines only one user has: ${JSON.stringify(viewDiff)}`,
            `A's own lines: ${JSON.stringify(ownA.rights)}`,
          ].join('\n'),
        );
      }
    }

    it('reads the same from both users of a fresh pair, needing no privilege', async () => {
      const a = { username: `own_fresh_a_${server.port}`, password: 'Pair-password-A1' };
      const b = { username: `own_fresh_b_${server.port}`, password: 'Pair-password-B1' };
      await mysqlRun(
        server,
        root,
        `CREATE USER ${lit(a.username)}@'%' IDENTIFIED BY ${lit(a.password)}`,
        `CREATE USER ${lit(b.username)}@'%' IDENTIFIED BY ${lit(b.password)}`,
      );
      try {
        const [ownA, ownB] = await Promise.all([
          ownRights(a, b.username),
          ownRights(b, a.username),
        ]);
        expect(ownA).toEqual(ownB);
        expect(ownA.rights).toContain('default roles NONE');
        expect(ownA.rights).toContain('account option REQUIRE NONE');
        expect(ownA.rights.some((l) => l.includes('not understood'))).toBe(false);
      } finally {
        await mysqlRun(
          server,
          root,
          `DROP USER IF EXISTS ${lit(a.username)}@'%', ${lit(b.username)}@'%'`,
        );
      }
    });
  },
);

/** What an own line is about: its object, its role, `DEFAULT ROLE` or `account option`. */
function subjectOf(line: string): string {
  if (line.startsWith('account option')) return 'account option';
  if (line.startsWith('default roles')) return 'DEFAULT ROLE';
  const role = /^role (\S+)/.exec(line)?.[1];
  if (role) return role;
  return / ON (.*?)(?: WITH GRANT OPTION)?$/.exec(line)?.[1] ?? line;
}
