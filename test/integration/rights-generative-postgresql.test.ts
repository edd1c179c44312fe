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

// The generative test of alternating users on PostgreSQL: whatever a DBA does between rotations
// (to the base user: privileges, memberships, settings per role and per database, the `role` it
// becomes, attributes, CONNECTION LIMIT, VALID UNTIL; to the clone: attributes; to the idle user:
// locking, unlocking and expiring it; and grants to the base between setSecret and testSecret),
// after each rotation AWSCURRENT logs in and the clone can do what the base can, as probes show
// (acting as the base, and after SET ROLE NONE). A rotation may fail only with
// IdleUserDisabledError, and only when the idle user was disabled; then AWSCURRENT still logs in
// and nothing changed. A failure prints the seed and the sequence (replay with RIGHTS_SEED=<seed>);
// RIGHTS_SEQUENCES sets the number of sequences per server (default 100). Half the sequences use
// a superuser master (the only one that may level SUPERUSER, REPLICATION and BYPASSRLS), half a
// CREATEROLE one (with CREATEDB on 16 and later, which it needs to give CREATEDB).

const { env, service } = suiteContext('rights-generative-postgresql');
const alternatingUsers = loadBundle('postgresql-alternating-users');

const SEQUENCES = Number(process.env.RIGHTS_SEQUENCES) || 100;
const SEED = Number(process.env.RIGHTS_SEED) || Math.floor(Math.random() * 2 ** 31);
const B = '{base}';
const T = '{table}';
const R1 = '{role1}';
const R2 = '{role2}';
const C = '{clone}';
const I = '{idle}';
/** What only a superuser master may give or take (a CREATEROLE one skips these changes). */
const SUPERUSER_ONLY = /REPLICATION|BYPASSRLS|SUPERUSER/;

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
  fc
    .tuple(fc.constantFrom('', ' IN DATABASE postgres'), fc.constantFrom(R1, R2, "'none'"))
    .map(([where, role]) => `ALTER ROLE ${B}${where} SET role TO ${role}`),
  fc.constantFrom('', ' IN DATABASE postgres').map((where) => `ALTER ROLE ${B}${where} RESET role`),
  fc
    .tuple(
      fc.constantFrom(B, C),
      fc.constantFrom('CREATEDB', 'CREATEROLE', 'INHERIT', 'REPLICATION', 'BYPASSRLS'),
      fc.boolean(),
    )
    .map(([who, attribute, on]) => `ALTER ROLE ${who} ${on ? '' : 'NO'}${attribute}`),
  fc.constantFrom(`ALTER ROLE ${C} SUPERUSER`, `ALTER ROLE ${C} NOSUPERUSER`),
  fc
    .constantFrom(
      'CONNECTION LIMIT 0',
      'CONNECTION LIMIT -1',
      "VALID UNTIL '2001-01-01 00:00:00+00'",
      "VALID UNTIL 'infinity'",
      'NOLOGIN',
      'LOGIN',
    )
    .map((state) => `ALTER ROLE ${I} ${state}`),
);

/** Grants to the base between setSecret and testSecret: the clone, acting as it, has them too. */
const grants: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('SELECT', 'INSERT', 'ALL').map((p) => `GRANT ${p} ON ${T} TO ${B}`),
  fc.constantFrom('SELECT', 'INSERT', 'ALL').map((p) => `REVOKE ${p} ON ${T} FROM ${B}`),
  fc.constantFrom(R1, R2).map((r) => `GRANT ${r} TO ${B}`),
  fc.constantFrom(R1, R2).map((r) => `REVOKE ${r} FROM ${B}`),
);

const sequences = fc.record({
  superuserMaster: fc.boolean(),
  rounds: fc.array(
    fc.record({
      before: fc.array(changes, { minLength: 1, maxLength: 4 }),
      between: fc.array(grants, { maxLength: 2 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
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
    let superuserMasterArn = '';
    const major = Number(server.version.split('.')[0]);
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
        `CREATE TABLE ${id(schema)}.rls_only (v int)`,
        `INSERT INTO ${id(schema)}.rls_only VALUES (1)`,
        `ALTER TABLE ${id(schema)}.rls_only ENABLE ROW LEVEL SECURITY`,
        `GRANT SELECT ON ${id(schema)}.rls_only TO PUBLIC`,
        `GRANT USAGE ON SCHEMA ${id(schema)} TO PUBLIC`,
        ...roles.map((r) => `CREATE ROLE ${id(r)}`),
        `GRANT SELECT ON ${id(schema)}.roles_only TO ${id(roles[0] as string)}`,
        `GRANT INSERT ON ${id(schema)}.roles_only TO ${id(roles[1] as string)}`,
        ...(major >= 16 ? [`ALTER ROLE ${id(master.username)} CREATEDB`] : []),
      );
      masterArn = await service.createSecret(
        uniqueName('gen_master'),
        secretFor(master.username, master.password),
      );
      superuserMasterArn = await service.createSecret(
        uniqueName('gen_super_master'),
        secretFor(admin.username, admin.password),
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
        `SELECT rolconnlimit, coalesce(rolvaliduntil::text, 'infinity') AS valid_until, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = ${lit(role)}`,
        `SELECT coalesce(d.datname, '') AS db, s.setting FROM pg_db_role_setting rs JOIN pg_roles r ON r.oid = rs.setrole LEFT JOIN pg_database d ON d.oid = rs.setdatabase CROSS JOIN LATERAL unnest(rs.setconfig) AS s(setting) WHERE r.rolname = ${lit(role)} AND s.setting NOT LIKE 'role=%' ORDER BY 1, 2`,
        `SELECT b.rolname AS role FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = ${lit(role)} ORDER BY 1`,
      )) as Record<string, unknown>[][];
      return { attributes, settings, members };
    }

    /** Everything the catalogs hold of a role, for "nothing changed". */
    async function everything(role: string) {
      const [rows] = (await runAs(
        server,
        admin,
        `SELECT to_jsonb(r) - 'oid' AS role, (SELECT array_agg(setconfig::text ORDER BY setdatabase) FROM pg_db_role_setting WHERE setrole = r.oid) AS settings, (SELECT array_agg(roleid::regrole::text || ' ' || admin_option ORDER BY 1) FROM pg_auth_members WHERE member = r.oid) AS member_of FROM pg_roles r WHERE rolname = ${lit(role)}`,
      )) as Record<string, unknown>[][];
      return rows;
    }

    async function hasRoleSetting(role: string): Promise<boolean> {
      const [rows] = (await runAs(
        server,
        admin,
        `SELECT 1 FROM pg_db_role_setting rs CROSS JOIN LATERAL unnest(rs.setconfig) AS s(setting) WHERE rs.setrole = ${lit(role)}::regrole AND s.setting LIKE 'role=%'`,
      )) as unknown[][];
      return (rows?.length ?? 0) > 0;
    }

    /** Whether `role` cannot log in where `other` can: what makes a rotation refuse it. */
    async function disabledWhereOtherIsNot(role: string, other: string): Promise<boolean> {
      const [rows] = (await runAs(
        server,
        admin,
        `SELECT rolname, NOT rolcanlogin AS nologin, rolconnlimit = 0 AS locked, coalesce(rolvaliduntil <= now(), false) AS expired FROM pg_roles WHERE rolname IN (${lit(role)}, ${lit(other)})`,
      )) as Record<string, unknown>[][];
      const of = (name: string) => rows?.find((r) => r.rolname === name);
      const [idle, live] = [of(role), of(other)];
      if (!idle || !live) return false;
      return ['nologin', 'locked', 'expired'].some((k) => idle[k] === true && live[k] !== true);
    }

    /**
     * What a login sees and may do: who it acts as, its settings, who owns what it creates; and,
     * after SET ROLE NONE, what its own attributes and inherited privileges let it do.
     */
    async function probe(user: Login) {
      const client = await connect(server, user);
      const attempt = (sql: string, read = false) =>
        client.query(sql).then(
          (r) => (read ? r.rows[0]?.v : 'ok'),
          (error: { code?: string }) => `error ${error.code}`,
        );
      try {
        const outcomes: Record<string, unknown> = {};
        for (const sql of [
          'SELECT current_user AS v',
          "SELECT current_setting('search_path') AS v",
          "SELECT current_setting('statement_timeout') AS v",
          "SELECT current_setting('work_mem') AS v",
          "SELECT current_setting('lock_timeout') AS v",
          "SELECT current_setting('application_name') AS v",
        ]) {
          outcomes[sql] = await attempt(sql, true);
        }
        for (const sql of [
          `SELECT count(*) AS v FROM ${table}`,
          `INSERT INTO ${table} VALUES (1) RETURNING 1 AS v`,
          `UPDATE ${table} SET v = v WHERE false RETURNING 1 AS v`,
          `DELETE FROM ${table} WHERE false RETURNING 1 AS v`,
          `SELECT count(*) AS v FROM ${id(schema)}.roles_only`,
          `INSERT INTO ${id(schema)}.roles_only VALUES (1) RETURNING 1 AS v`,
        ]) {
          outcomes[sql] = await attempt(sql);
        }
        outcomes.owner = await attempt('CREATE TEMP TABLE gen_probe (v int)').then(() =>
          attempt(
            "SELECT pg_get_userbyid(relowner) AS v FROM pg_class WHERE oid = 'pg_temp.gen_probe'::regclass",
            true,
          ),
        );
        await client.query('DROP TABLE IF EXISTS pg_temp.gen_probe');
        await client.query('SET ROLE NONE');
        outcomes.own = {
          superuser: await attempt("SELECT current_setting('is_superuser') AS v", true),
          inherited: await attempt(`SELECT count(*) AS v FROM ${table}`),
          rls: await attempt(`SELECT count(*)::int AS v FROM ${id(schema)}.rls_only`, true),
          createdb: await attempt('CREATE DATABASE gen_probe_db TEMPLATE gen_no_such_template'),
          replication: await attempt("SELECT pg_drop_replication_slot('gen_no_such_slot')"),
          createrole: await client
            .query('BEGIN')
            .then(() => attempt('CREATE ROLE gen_probe_role'))
            .finally(() => client.query('ROLLBACK')),
        };
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
          fc.asyncProperty(sequences, async ({ superuserMaster, rounds }) => {
            sequence++;
            const base = { username: `${prefix}_u${sequence}`, password: 'Base-password-1' };
            const clone = `${base.username}_clone`;
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
                secretFor(base.username, base.password, {
                  masterarn: superuserMaster ? superuserMasterArn : masterArn,
                }),
              );
              let rotated = false;
              const run = async (change: string, idle: string) => {
                if (!superuserMaster && SUPERUSER_ONLY.test(change)) return;
                // The clone exists from the first rotation on.
                if (!rotated && (change.includes(C) || change.includes(I))) return;
                const statement = change
                  .replaceAll(B, id(base.username))
                  .replaceAll(C, id(clone))
                  .replaceAll(I, id(idle))
                  .replaceAll(T, table)
                  .replaceAll(R1, id(roles[0] as string))
                  .replaceAll(R2, id(roles[1] as string))
                  .replaceAll('{schema}', id(schema));
                await runAs(server, admin, statement);
              };
              for (const round of rounds) {
                const live = String((await service.value(arn, 'AWSCURRENT')).username);
                const idle = live === base.username ? clone : base.username;
                for (const change of round.before) await run(change, idle);
                const disabled = rotated && (await disabledWhereOtherIsNot(idle, live));
                const before = [await everything(base.username), await everything(clone)];
                const token = await service.startRotation(arn);
                await service.invoke(alternatingUsers, 'createSecret', arn, token);
                const refused = await service
                  .invoke(alternatingUsers, 'setSecret', arn, token)
                  .then(
                    () => undefined,
                    (error: Error) => error,
                  );
                if (refused) {
                  // Allowed only when the idle user was disabled: then nothing changed.
                  expect({ name: refused.name, disabled }).toEqual({
                    name: 'IdleUserDisabledError',
                    disabled: true,
                  });
                  await service.removeStage(arn, 'AWSPENDING', token);
                  const current = await service.value(arn, 'AWSCURRENT');
                  await probe({
                    username: String(current.username),
                    password: String(current.password),
                  });
                  expect([await everything(base.username), await everything(clone)]).toEqual(
                    before,
                  );
                  continue;
                }
                expect(disabled).toBe(false);
                for (const change of round.between) await run(change, idle);
                const drift = await service.invoke(alternatingUsers, 'testSecret', arn, token).then(
                  () => undefined,
                  (error: Error) => error,
                );
                if (drift) {
                  // Allowed only when a membership changed after setSecret while the base has a
                  // `role` setting: where the base lands at login moved, and the clone follows
                  // only at the next setSecret, which the retry runs.
                  expect({
                    name: drift.name,
                    roleMoved:
                      round.between.some(
                        (change) =>
                          / TO \{base\}| FROM \{base\}/.test(change) && /\{role[12]\}/.test(change),
                      ) && (await hasRoleSetting(base.username)),
                  }).toEqual({ name: 'PrivilegeDriftError', roleMoved: true });
                  // As the error advises: rotate again. The retried setSecret levels the pair.
                  await service.invoke(alternatingUsers, 'setSecret', arn, token);
                  await service.invoke(alternatingUsers, 'testSecret', arn, token);
                }
                await service.invoke(alternatingUsers, 'finishSecret', arn, token);
                rotated = true;
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
                // AWSCURRENT logs in (a probe is a login), and both can do the same things.
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
