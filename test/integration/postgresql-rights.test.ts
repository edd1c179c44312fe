import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
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
