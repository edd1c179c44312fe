import fc from 'fast-check';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import type { PostgresServer } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import {
  connect,
  createMasterAndBase,
  type Login,
  runAs,
  superuser,
  uniqueName,
} from '../helpers/postgres-client';
import { loadBundle } from '../helpers/rotation-service';
import { secretOn, suiteContext } from '../helpers/suite-context';

// The generative test of alternating users on PostgreSQL: whatever a DBA does to the base user
// between rotations (privileges, memberships, settings per role and per database, CONNECTION
// LIMIT, VALID UNTIL), after each rotation the clone logs in to the same session as the base, as
// the catalogs report it and as probes show. A failure prints the seed and the sequence (replay
// with RIGHTS_SEED=<seed>); RIGHTS_SEQUENCES sets the number of sequences per server (default 100).

const { env, service } = suiteContext('rights-generative-postgresql');
const alternatingUsers = loadBundle('postgresql-alternating-users');

const SEQUENCES = Number(process.env.RIGHTS_SEQUENCES) || 100;
const SEED = Number(process.env.RIGHTS_SEED) || Math.floor(Math.random() * 2 ** 31);
const B = '{base}';
const T = '{table}';
const R1 = '{role1}';
const R2 = '{role2}';

const changes: fc.Arbitrary<string> = fc.oneof(
  fc
    .constantFrom('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'ALL')
    .map((p) => `GRANT ${p} ON ${T} TO ${B}`),
  fc
    .constantFrom('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'ALL')
    .map((p) => `REVOKE ${p} ON ${T} FROM ${B}`),
  fc.constantFrom(R1, R2).map((r) => `GRANT ${r} TO ${B}`),
  fc.constantFrom(R1, R2).map((r) => `REVOKE ${r} FROM ${B}`),
  fc
    .tuple(
      fc.constantFrom('', ' IN DATABASE postgres'),
      fc.constantFrom(
        'search_path = {schema}, public',
        'search_path = public',
        "statement_timeout = '5s'",
        'statement_timeout = 7000',
        'work_mem = 65536',
        "work_mem = '32MB'",
        "lock_timeout = '2s'",
        "application_name = 'app one'",
        "application_name = 'o''brien'",
      ),
    )
    .map(([where, setting]) => `ALTER ROLE ${B}${where} SET ${setting}`),
  fc
    .tuple(
      fc.constantFrom('', ' IN DATABASE postgres'),
      fc.constantFrom('search_path', 'statement_timeout', 'work_mem', 'ALL'),
    )
    .map(([where, name]) => `ALTER ROLE ${B}${where} RESET ${name}`),
  fc
    .integer({ min: -1, max: 50 })
    .map((n) => `ALTER ROLE ${B} CONNECTION LIMIT ${n === 0 ? 20 : n}`),
  fc
    .constantFrom("'2099-01-01 00:00:00+00'", "'infinity'", "'2100-06-30 12:00:00+00'")
    .map((v) => `ALTER ROLE ${B} VALID UNTIL ${v}`),
);

const sequences = fc.array(fc.array(changes, { minLength: 1, maxLength: 4 }), {
  minLength: 1,
  maxLength: 3,
});

describe.each(env.postgres.map((s) => [s.name, s] as const))(
  'generated changes to the base user on %s',
  (_name, server: PostgresServer) => {
    const admin = superuser(server);
    const prefix = `gen${server.port}`;
    const schema = `${prefix}_schema`;
    const table = `${id(schema)}.items`;
    const roles = [`${prefix}_r1`, `${prefix}_r2`];
    let master: Login = { username: '', password: '' };
    let masterArn = '';
    const secretFor = secretOn('postgres', server, { dbname: 'postgres' });

    beforeAll(async () => {
      // The master gets ADMIN OPTION on each base user as it is created (createMasterAndBase);
      // here one master serves every sequence, so it gets it per base user below.
      master = (await createMasterAndBase(server, { prefix })).master;
      await runAs(
        server,
        admin,
        `CREATE SCHEMA ${id(schema)}`,
        `CREATE TABLE ${table} (v int)`,
        `CREATE TABLE ${id(schema)}.roles_only (v int)`,
        `GRANT USAGE ON SCHEMA ${id(schema)} TO PUBLIC`,
        ...roles.map((r) => `CREATE ROLE ${id(r)}`),
        `GRANT SELECT ON ${id(schema)}.roles_only TO ${id(roles[0] as string)}`,
        `GRANT INSERT ON ${id(schema)}.roles_only TO ${id(roles[1] as string)}`,
      );
      masterArn = await service.createSecret(
        uniqueName('gen_master'),
        secretFor(master.username, master.password),
      );
    });
    beforeEach(() => setHandlerEnvironment(env, server.caFile));

    /**
     * The catalogs' view of a role, its name left out: attributes, settings, memberships. No
     * expiry is NULL until someone sets `infinity`, the only way back from a date: the same.
     */
    async function catalog(role: string) {
      const [attributes, settings, members] = (await runAs(
        server,
        admin,
        `SELECT rolconnlimit, coalesce(rolvaliduntil::text, 'infinity') AS valid_until, rolcanlogin, rolinherit FROM pg_roles WHERE rolname = ${lit(role)}`,
        `SELECT coalesce(d.datname, '') AS db, s.setting FROM pg_db_role_setting rs JOIN pg_roles r ON r.oid = rs.setrole LEFT JOIN pg_database d ON d.oid = rs.setdatabase CROSS JOIN LATERAL unnest(rs.setconfig) AS s(setting) WHERE r.rolname = ${lit(role)} AND s.setting NOT LIKE 'role=%' ORDER BY 1, 2`,
        `SELECT b.rolname AS role FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = ${lit(role)} ORDER BY 1`,
      )) as Record<string, unknown>[][];
      return { attributes, settings, members };
    }

    /** What a login sees: who it acts as, its settings, and what it may do. */
    async function probe(user: Login) {
      const client = await connect(server, user);
      try {
        const outcomes: Record<string, unknown> = {};
        for (const sql of [
          'SELECT current_user AS v',
          "SELECT current_setting('search_path') AS v",
          "SELECT current_setting('statement_timeout') AS v",
          "SELECT current_setting('work_mem') AS v",
          "SELECT current_setting('lock_timeout') AS v",
          "SELECT current_setting('application_name') AS v",
          `SELECT count(*) AS v FROM ${table}`,
          `INSERT INTO ${table} VALUES (1) RETURNING 1 AS v`,
          `UPDATE ${table} SET v = v WHERE false RETURNING 1 AS v`,
          `DELETE FROM ${table} WHERE false RETURNING 1 AS v`,
          `SELECT count(*) AS v FROM ${id(schema)}.roles_only`,
          `INSERT INTO ${id(schema)}.roles_only VALUES (1) RETURNING 1 AS v`,
        ]) {
          outcomes[sql] = await client.query(sql).then(
            (r) => (sql.startsWith('SELECT current') ? r.rows[0]?.v : 'ok'),
            (error: { code?: string }) => `error ${error.code}`,
          );
        }
        return outcomes;
      } finally {
        await client.end();
      }
    }

    it(
      `keeps the clone's login equal to the base's through ${SEQUENCES} seeded sequences (seed ${SEED})`,
      async () => {
        let sequence = 0;
        await fc.assert(
          fc.asyncProperty(sequences, async (rounds) => {
            sequence++;
            const base = { username: `${prefix}_u${sequence}`, password: 'Base-password-1' };
            const clone = `${base.username}_clone`;
            const major = Number(server.version.split('.')[0]);
            await runAs(
              server,
              admin,
              `CREATE ROLE ${id(base.username)} LOGIN PASSWORD ${lit(base.password)}`,
              ...(major >= 16
                ? [`GRANT ${id(base.username)} TO ${id(master.username)} WITH ADMIN OPTION`]
                : []),
            );
            try {
              const arn = await service.createSecret(
                uniqueName('gen'),
                secretFor(base.username, base.password, { masterarn: masterArn }),
              );
              for (const round of rounds) {
                for (const change of round) {
                  const statement = change
                    .replaceAll(B, id(base.username))
                    .replaceAll(T, table)
                    .replaceAll(R1, id(roles[0] as string))
                    .replaceAll(R2, id(roles[1] as string))
                    .replaceAll('{schema}', id(schema));
                  await runAs(server, admin, statement);
                }
                await service.rotate(alternatingUsers, arn);
                const values = await Promise.all([
                  service.value(arn, 'AWSCURRENT'),
                  service.value(arn, 'AWSPREVIOUS'),
                ]);
                const byUser = new Map(
                  values.map((v) => [
                    String(v.username),
                    { username: String(v.username), password: String(v.password) },
                  ]),
                );
                const [baseLogin, cloneLogin] = [byUser.get(base.username), byUser.get(clone)];
                if (!baseLogin || !cloneLogin)
                  throw new Error('the two users are not the labelled ones');
                const [want, have] = [await catalog(base.username), await catalog(clone)];
                expect(have.attributes).toEqual(want.attributes);
                expect(have.settings).toEqual(want.settings);
                expect(have.members).toEqual([{ role: base.username }]);
                expect(await probe(cloneLogin)).toEqual(await probe(baseLogin));
              }
            } finally {
              await runAs(
                server,
                admin,
                `DROP ROLE IF EXISTS ${id(clone)}`,
                `REVOKE ALL ON ${table} FROM ${id(base.username)}`,
                `DROP ROLE IF EXISTS ${id(base.username)}`,
              );
            }
          }),
          { numRuns: SEQUENCES, seed: SEED, endOnFailure: true, verbose: 1 },
        );
      },
      40 * 60_000,
    );
  },
);
