import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import { postgresql } from '../../shared/engines/postgresql';
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

// Alternating users on PostgreSQL: what applies at login to the user who logs in (settings,
// CONNECTION LIMIT, VALID UNTIL) must be the same for the clone, which logs in as itself and then
// becomes the base; SET ROLE does not carry those over. On every PostgreSQL server.

const { env, service } = suiteContext('postgresql-rights');
const alternatingUsers = loadBundle('postgresql-alternating-users');

describe.each(env.postgres.map((s) => [s.name, s] as const))(
  'clone login on %s',
  (_name, server) => {
    const admin = superuser(server);
    const secretFor = secretOn('postgres', server, { dbname: 'postgres' });
    const login = (value: Record<string, unknown>): Login => ({
      username: String(value.username),
      password: String(value.password),
    });
    beforeEach(() => setHandlerEnvironment(env, server.caFile));

    async function setUp() {
      const { master, base } = await createMasterAndBase(server);
      const schema = `${base.username}_schema`;
      await runAs(
        server,
        admin,
        `CREATE SCHEMA ${id(schema)} AUTHORIZATION ${id(base.username)}`,
        `CREATE TABLE ${id(schema)}.items (v int)`,
        `ALTER TABLE ${id(schema)}.items OWNER TO ${id(base.username)}`,
        `INSERT INTO ${id(schema)}.items VALUES (7)`,
      );
      const masterArn = await service.createSecret(
        uniqueName('master'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      return { base, clone: `${base.username}_clone`, schema, arn };
    }

    /** What a session of `user` sees at login: its settings, and an unqualified query. */
    async function session(user: Login) {
      const client = await connect(server, user);
      try {
        const { rows } = await client.query(
          "SELECT current_user AS acting, current_setting('search_path') AS search_path, current_setting('statement_timeout') AS statement_timeout, current_setting('work_mem') AS work_mem",
        );
        const items = await client.query('SELECT v FROM items').then(
          (r) => r.rows.map((row) => row.v),
          (error: { code?: string }) => `error ${error.code}`,
        );
        return { ...rows[0], items };
      } finally {
        await client.end();
      }
    }

    async function attributes(role: string) {
      const [rows] = (await runAs(
        server,
        admin,
        `SELECT rolconnlimit, rolvaliduntil::text AS valid_until FROM pg_roles WHERE rolname = ${lit(role)}`,
      )) as [Record<string, unknown>[]];
      return rows[0];
    }

    it('case 6: the clone gets the base user’s settings (per role and per database), CONNECTION LIMIT and VALID UNTIL', async () => {
      const { base, clone, schema, arn } = await setUp();
      await runAs(
        server,
        admin,
        `ALTER ROLE ${id(base.username)} SET search_path = ${id(schema)}, public`,
        `ALTER ROLE ${id(base.username)} IN DATABASE postgres SET statement_timeout = '5s'`,
        // Stored as written (65536, in kB); read back as 64MB.
        `ALTER ROLE ${id(base.username)} SET work_mem = 65536`,
        `ALTER ROLE ${id(base.username)} CONNECTION LIMIT 7 VALID UNTIL '2099-01-01 00:00:00+00'`,
      );
      await service.rotate(alternatingUsers, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(clone);
      const seen = await session(login(current));
      expect(seen).toEqual({
        acting: base.username,
        search_path: `${schema}, public`,
        statement_timeout: '5s',
        work_mem: '64MB',
        items: [7],
      });
      expect(await session(base)).toEqual(seen);
      expect(await attributes(clone)).toEqual(await attributes(base.username));

      // A setting removed from the base is removed from the clone at the next rotation.
      await runAs(server, admin, `ALTER ROLE ${id(base.username)} RESET work_mem`);
      await service.rotate(alternatingUsers, arn);
      const previous = await service.value(arn, 'AWSPREVIOUS');
      expect(previous.username).toBe(clone);
      expect((await session(login(previous))).work_mem).toBe(
        (await session(login(await service.value(arn, 'AWSCURRENT')))).work_mem,
      );
    });

    it('a setting only a superuser may give: setSecret says which GRANT lets the master copy it, changes nothing, and succeeds once granted', async () => {
      const { base, clone, arn } = await setUp();
      await runAs(server, admin, `ALTER ROLE ${id(base.username)} SET myapp.tenant = 'acme'`);
      const token = await service.startRotation(arn);
      await service.invoke(alternatingUsers, 'createSecret', arn, token);
      await expect(service.invoke(alternatingUsers, 'setSecret', arn, token)).rejects.toThrow(
        /GRANT SET ON PARAMETER "myapp\.tenant"/,
      );
      const [rows] = (await runAs(
        server,
        admin,
        `SELECT 1 FROM pg_roles WHERE rolname = ${lit(clone)}`,
      )) as [unknown[]];
      expect(rows).toEqual([]);
      const masterName = String(
        (
          await service.value(
            String((await service.value(arn, 'AWSCURRENT')).masterarn),
            'AWSCURRENT',
          )
        ).username,
      );
      await runAs(server, admin, `GRANT SET ON PARAMETER myapp.tenant TO ${id(masterName)}`);
      for (const step of ['setSecret', 'testSecret', 'finishSecret'])
        await service.invoke(alternatingUsers, step, arn, token);
      const client = await connect(server, login(await service.value(arn, 'AWSCURRENT')));
      try {
        const { rows: seen } = await client.query("SELECT current_setting('myapp.tenant') AS v");
        expect(seen).toEqual([{ v: 'acme' }]);
      } finally {
        await client.end();
      }
    });

    it('testSecret refuses a clone whose login settings drifted, naming the setting', async () => {
      const { base, clone, schema, arn } = await setUp();
      await runAs(server, admin, `ALTER ROLE ${id(base.username)} SET search_path = ${id(schema)}`);
      await service.rotate(alternatingUsers, arn);
      await service.testOnly(alternatingUsers, arn);
      await runAs(server, admin, `ALTER ROLE ${id(clone)} SET search_path = public`);
      await expect(service.testOnly(alternatingUsers, arn)).rejects.toMatchObject({
        name: 'PrivilegeDriftError',
        message: expect.stringContaining('search_path=public'),
      });
    });
  },
);

// Issue 23, alternating users you can trust: a disabled idle user, a clone someone else could take
// over, the base's own `role` setting, role attributes, and what the clone holds of its own.
describe.each(env.postgres.map((s) => [s.name, s] as const))(
  'trusted alternating users on %s',
  (_name, server) => {
    const admin = superuser(server);
    const major = Number(server.version.split('.')[0]);
    const secretFor = secretOn('postgres', server, { dbname: 'postgres' });
    const login = (value: Record<string, unknown>): Login => ({
      username: String(value.username),
      password: String(value.password),
    });
    beforeEach(() => setHandlerEnvironment(env, server.caFile));

    /** A base user with a schema it owns and a secret whose master is `master` (default: CREATEROLE). */
    async function setUp(options: { superuserMaster?: boolean } = {}) {
      const { master, base } = await createMasterAndBase(server);
      const schema = `${base.username}_schema`;
      await runAs(
        server,
        admin,
        `CREATE SCHEMA ${id(schema)} AUTHORIZATION ${id(base.username)}`,
        `CREATE TABLE ${id(schema)}.items (v int)`,
        `ALTER TABLE ${id(schema)}.items OWNER TO ${id(base.username)}`,
      );
      const masterLogin = options.superuserMaster ? admin : master;
      const masterArn = await service.createSecret(
        uniqueName('master'),
        secretFor(masterLogin.username, masterLogin.password),
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      return { master, base, clone: `${base.username}_clone`, schema, arn };
    }

    /** Everything pg_roles and pg_db_role_setting say of a role, and its memberships. */
    async function snapshot(role: string) {
      const [attributes, settings, members] = (await runAs(
        server,
        admin,
        `SELECT rolcanlogin, rolconnlimit, rolvaliduntil::text AS valid_until, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit FROM pg_roles WHERE rolname = ${lit(role)}`,
        `SELECT coalesce(d.datname, '') AS db, rs.setconfig FROM pg_db_role_setting rs JOIN pg_roles r ON r.oid = rs.setrole LEFT JOIN pg_database d ON d.oid = rs.setdatabase WHERE r.rolname = ${lit(role)} ORDER BY 1`,
        `SELECT b.rolname AS role, m.admin_option FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = ${lit(role)} ORDER BY 1, 2`,
      )) as Record<string, unknown>[][];
      return { attributes, settings, members };
    }

    /** Who a session of `user` acts as, and who owns a table it creates in `schema`. */
    async function acting(user: Login, schema: string) {
      const client = await connect(server, user);
      try {
        const table = `${id(schema)}.${id(uniqueName('t'))}`;
        const { rows } = await client.query('SELECT current_user AS v');
        await client.query(`CREATE TABLE ${table} (v int)`);
        const owner = await client.query(
          `SELECT tableowner AS v FROM pg_tables WHERE schemaname || '.' || tablename = ${lit(table.replaceAll('"', ''))}`,
        );
        await client.query(`DROP TABLE ${table}`);
        return { currentUser: rows[0]?.v, owner: owner.rows[0]?.v };
      } finally {
        await client.end();
      }
    }

    async function logsIn(user: Login) {
      const client = await connect(server, user);
      await client.end();
    }

    it('a disabled idle user stops the rotation before anything changes; AWSCURRENT still logs in', async () => {
      const { base, clone, arn } = await setUp();
      await service.rotate(alternatingUsers, arn);
      const live = login(await service.value(arn, 'AWSCURRENT'));
      expect(live.username).toBe(clone);
      const token = await service.startRotation(arn);
      await service.invoke(alternatingUsers, 'createSecret', arn, token);
      for (const [disable, state, enable] of [
        ['CONNECTION LIMIT 0', /CONNECTION LIMIT 0/, 'CONNECTION LIMIT -1'],
        ["VALID UNTIL '2001-01-01 00:00:00+00'", /VALID UNTIL/, "VALID UNTIL 'infinity'"],
        ['NOLOGIN', /NOLOGIN/, 'LOGIN'],
      ] as const) {
        await runAs(server, admin, `ALTER ROLE ${id(base.username)} ${disable}`);
        const before = [await snapshot(base.username), await snapshot(clone)];
        const refused = service.invoke(alternatingUsers, 'setSecret', arn, token);
        await expect(refused).rejects.toMatchObject({ name: 'IdleUserDisabledError' });
        await expect(refused).rejects.toThrow(state);
        await expect(refused).rejects.toThrow(`"${base.username}"`);
        await expect(refused).rejects.toThrow(/ALTER ROLE/);
        await logsIn(live);
        expect([await snapshot(base.username), await snapshot(clone)]).toEqual(before);
        await runAs(server, admin, `ALTER ROLE ${id(base.username)} ${enable}`);
      }
      for (const step of ['setSecret', 'testSecret', 'finishSecret'])
        await service.invoke(alternatingUsers, step, arn, token);
      expect((await service.value(arn, 'AWSCURRENT')).username).toBe(base.username);

      // The other way round: the idle user is the clone.
      await runAs(server, admin, `ALTER ROLE ${id(clone)} CONNECTION LIMIT 0`);
      const before = [await snapshot(base.username), await snapshot(clone)];
      await expect(service.rotate(alternatingUsers, arn)).rejects.toMatchObject({
        name: 'IdleUserDisabledError',
        message: expect.stringContaining(`"${clone}"`),
      });
      await logsIn(login(await service.value(arn, 'AWSCURRENT')));
      expect([await snapshot(base.username), await snapshot(clone)]).toEqual(before);
    });

    it('a clone someone else holds ADMIN OPTION on is refused by setSecret and testSecret, naming the REVOKE', async () => {
      const { master, base, clone, arn } = await setUp();
      const attacker = { username: uniqueName('attacker'), password: 'Attacker-password-1' };
      await runAs(
        server,
        admin,
        `CREATE ROLE ${id(attacker.username)} LOGIN CREATEROLE PASSWORD ${lit(attacker.password)}`,
      );
      // On 16 and later, a CREATEROLE role that creates a role keeps ADMIN OPTION on it; before,
      // someone grants it. The DBA then gives the master what preflight asks for.
      await runAs(server, attacker, `CREATE ROLE ${id(clone)} LOGIN PASSWORD 'Attacker-chosen-1'`);
      await runAs(
        server,
        admin,
        ...(major >= 16
          ? []
          : [`GRANT ${id(clone)} TO ${id(attacker.username)} WITH ADMIN OPTION`]),
        `GRANT ${id(clone)} TO ${id(master.username)} WITH ADMIN OPTION`,
      );
      await expect(service.testOnly(alternatingUsers, arn)).rejects.toMatchObject({
        name: 'UnboundPairError',
      });
      const before = await snapshot(clone);
      const token = await service.startRotation(arn);
      await service.invoke(alternatingUsers, 'createSecret', arn, token);
      const refused = service.invoke(alternatingUsers, 'setSecret', arn, token);
      await expect(refused).rejects.toMatchObject({ name: 'UnboundPairError' });
      await expect(refused).rejects.toThrow(`"${attacker.username}"`);
      await expect(refused).rejects.toThrow(/REVOKE/);
      expect(await snapshot(clone)).toEqual(before);
      await logsIn(base);
      // Without the attacker's hold, the clone is still not this secret's: not level with the
      // base, and no version holds its password (the pairing rule). The DBA drops it; the
      // rotation then makes a clone of its own.
      await runAs(server, admin, `REVOKE ${id(clone)} FROM ${id(attacker.username)}`);
      await expect(service.invoke(alternatingUsers, 'setSecret', arn, token)).rejects.toMatchObject(
        {
          name: 'UnboundPairError',
          message: expect.stringContaining(`AWSPREVIOUS does not name "${clone}"`),
        },
      );
      await runAs(server, admin, `DROP ROLE ${id(clone)}`);
      for (const step of ['setSecret', 'testSecret', 'finishSecret'])
        await service.invoke(alternatingUsers, step, arn, token);
      expect((await service.value(arn, 'AWSCURRENT')).username).toBe(clone);
    });

    it('the clone acts as the role the base is set to become (ALTER ROLE … SET role), per database too', async () => {
      const { base, clone, schema, arn } = await setUp();
      const [owner1, owner2] = [uniqueName('owner'), uniqueName('owner')];
      await runAs(
        server,
        admin,
        `CREATE ROLE ${id(owner1)}`,
        `CREATE ROLE ${id(owner2)}`,
        `GRANT ${id(owner1)}, ${id(owner2)} TO ${id(base.username)}`,
        `GRANT CREATE, USAGE ON SCHEMA ${id(schema)} TO ${id(owner1)}, ${id(owner2)}`,
        `ALTER ROLE ${id(base.username)} SET role TO ${lit(owner1)}`,
      );
      await service.rotate(alternatingUsers, arn);
      const cloneLogin = login(await service.value(arn, 'AWSCURRENT'));
      expect(cloneLogin.username).toBe(clone);
      expect(await acting(base, schema)).toEqual({ currentUser: owner1, owner: owner1 });
      expect(await acting(cloneLogin, schema)).toEqual(await acting(base, schema));
      await service.testOnly(alternatingUsers, arn);

      await runAs(
        server,
        admin,
        `ALTER ROLE ${id(base.username)} IN DATABASE postgres SET role TO ${lit(owner2)}`,
      );
      await expect(service.testOnly(alternatingUsers, arn)).rejects.toMatchObject({
        name: 'PrivilegeDriftError',
      });
      await service.rotate(alternatingUsers, arn);
      const baseLogin = login(await service.value(arn, 'AWSCURRENT'));
      const previous = login(await service.value(arn, 'AWSPREVIOUS'));
      expect([baseLogin.username, previous.username]).toEqual([base.username, clone]);
      expect(await acting(baseLogin, schema)).toEqual({ currentUser: owner2, owner: owner2 });
      expect(await acting(previous, schema)).toEqual(await acting(baseLogin, schema));
    });

    it('role attributes are levelled both ways (superuser master)', async () => {
      const { base, clone, arn } = await setUp({ superuserMaster: true });
      await runAs(server, admin, `ALTER ROLE ${id(base.username)} REPLICATION CREATEDB`);
      await service.rotate(alternatingUsers, arn);
      expect((await snapshot(clone)).attributes).toEqual(
        (await snapshot(base.username)).attributes,
      );
      await runAs(
        server,
        admin,
        `ALTER ROLE ${id(base.username)} NOREPLICATION NOCREATEDB NOINHERIT`,
        `ALTER ROLE ${id(clone)} CREATEROLE BYPASSRLS`,
      );
      await expect(service.testOnly(alternatingUsers, arn)).rejects.toMatchObject({
        name: 'PrivilegeDriftError',
        message: expect.stringMatching(/BYPASSRLS/),
      });
      // Its testSecret compares the pair again. The clone keeps INHERIT: after SET ROLE NONE it
      // has the base's own privileges, as the NOINHERIT base has.
      await service.rotate(alternatingUsers, arn);
      const want = (await snapshot(base.username)).attributes?.[0];
      expect(want?.rolinherit).toBe(false);
      expect((await snapshot(clone)).attributes).toEqual([{ ...want, rolinherit: true }]);
    });

    it('an attribute the master may not give stops setSecret, naming it; nothing changed', async () => {
      const { base, clone, arn } = await setUp();
      await runAs(server, admin, `ALTER ROLE ${id(base.username)} BYPASSRLS`);
      const token = await service.startRotation(arn);
      await service.invoke(alternatingUsers, 'createSecret', arn, token);
      const refused = service.invoke(alternatingUsers, 'setSecret', arn, token);
      await expect(refused).rejects.toThrow(/BYPASSRLS/);
      await expect(refused).rejects.toThrow(/superuser/);
      const [rows] = (await runAs(
        server,
        admin,
        `SELECT 1 FROM pg_roles WHERE rolname = ${lit(clone)}`,
      )) as [unknown[]];
      expect(rows).toEqual([]);
    });

    it('what the clone holds of its own (owned objects, direct grants, ADMIN OPTION on the base) is reported and levelled', async () => {
      const { base, clone, schema, arn } = await setUp({ superuserMaster: true });
      await service.rotate(alternatingUsers, arn);
      const cloneLogin = login(await service.value(arn, 'AWSCURRENT'));
      await runAs(
        server,
        admin,
        `CREATE TABLE ${id(schema)}.secret_stuff (v int)`,
        `GRANT SELECT ON ${id(schema)}.secret_stuff TO ${id(clone)}`,
        `GRANT ${id(base.username)} TO ${id(clone)} WITH ADMIN OPTION`,
      );
      await runAs(
        server,
        cloneLogin,
        'SET ROLE NONE',
        `CREATE TABLE ${id(schema)}.clone_owned (v int)`,
      );
      const drift = service.testOnly(alternatingUsers, arn);
      await expect(drift).rejects.toMatchObject({ name: 'PrivilegeDriftError' });
      await expect(drift).rejects.toThrow(/owns/);
      await expect(drift).rejects.toThrow(/privileges granted directly/);
      await expect(drift).rejects.toThrow(/ADMIN OPTION/);
      // Its testSecret compares the pair again.
      await service.rotate(alternatingUsers, arn);
      const [owners, grants, admins] = (await runAs(
        server,
        admin,
        `SELECT tableowner AS owner FROM pg_tables WHERE schemaname = ${lit(schema)} AND tablename = 'clone_owned'`,
        `SELECT has_table_privilege(${lit(clone)}, ${lit(`${schema}.secret_stuff`)}, 'SELECT') AS direct`,
        `SELECT m.admin_option FROM pg_auth_members m WHERE m.member = ${lit(clone)}::regrole AND m.roleid = ${lit(base.username)}::regrole`,
      )) as Record<string, unknown>[][];
      expect(owners).toEqual([{ owner: base.username }]);
      expect(grants).toEqual([{ direct: false }]);
      expect(admins?.every((row) => row.admin_option === false)).toBe(true);
    });

    it('applyAlternatingUsers called again once the password is set levels again (a retried setSecret)', async () => {
      // A superuser master: on 16 and later only a master with CREATEDB may give it.
      const { base, clone, schema } = await setUp();
      const session = await postgresql.connect({
        host: server.host,
        port: server.port,
        username: admin.username,
        password: admin.password,
        database: 'postgres',
        tls: server.caFile ? 'verify-full' : 'disable',
        connectTimeoutMs: 5000,
        statementTimeoutMs: 15_000,
        flavor: 'postgres',
        parameters: {},
      });
      const change = {
        baseUsername: base.username,
        cloneUsername: clone,
        target: clone,
        password: 'Clone-password-1',
        database: 'postgres',
      };
      const users = { baseUsername: base.username, cloneUsername: clone, database: 'postgres' };
      try {
        await session.applyAlternatingUsers(change);
        expect(await session.compareAlternatingUsers(users)).toEqual([]);
        const owner = uniqueName('owner');
        await runAs(
          server,
          admin,
          `CREATE ROLE ${id(owner)}`,
          `GRANT ${id(owner)} TO ${id(base.username)}`,
          `GRANT CREATE, USAGE ON SCHEMA ${id(schema)} TO ${id(owner)}`,
          `ALTER ROLE ${id(base.username)} SET role TO ${lit(owner)}`,
          `ALTER ROLE ${id(base.username)} CREATEDB CONNECTION LIMIT 9`,
          `ALTER ROLE ${id(clone)} SET work_mem = '8MB'`,
        );
        expect(await session.compareAlternatingUsers(users)).not.toEqual([]);
        await session.applyAlternatingUsers(change);
        expect(await session.compareAlternatingUsers(users)).toEqual([]);
        const cloneLogin = { username: clone, password: change.password };
        expect(await acting(cloneLogin, schema)).toEqual({ currentUser: owner, owner });
        expect((await snapshot(clone)).attributes).toEqual(
          (await snapshot(base.username)).attributes,
        );
      } finally {
        await session.close();
      }
    });

    it('a master that may not level what the clone owns says what to run; nothing changed', async () => {
      const { base, clone, schema, arn } = await setUp();
      await service.rotate(alternatingUsers, arn);
      const cloneLogin = login(await service.value(arn, 'AWSCURRENT'));
      await runAs(
        server,
        cloneLogin,
        'SET ROLE NONE',
        `CREATE TABLE ${id(schema)}.clone_owned (v int)`,
      );
      const before = [await snapshot(base.username), await snapshot(clone)];
      await expect(service.rotate(alternatingUsers, arn)).rejects.toThrow(
        `REASSIGN OWNED BY ${id(clone)} TO ${id(base.username)}`,
      );
      expect([await snapshot(base.username), await snapshot(clone)]).toEqual(before);
      await logsIn(cloneLogin);
    });
  },
);
