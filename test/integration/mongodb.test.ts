import { join } from 'node:path';
import type { Document } from 'mongodb';
import { mongodb } from '../../shared/engines/mongodb';
import { compareRights } from '../../shared/strategies/pair';
import { type MongoServer, readEnvironment } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import {
  type MongoLogin,
  mongoAdmin,
  mongoCanLogIn,
  mongoCommand,
  mongoRoles,
  mongoSecretFor,
} from '../helpers/mongo-client';
import { uniqueName } from '../helpers/postgres-client';
import { loadBundle, RotationService } from '../helpers/rotation-service';

const env = readEnvironment();
const service = new RotationService(
  env.secretsManagerEndpoint,
  join(env.runDir, 'captured-logs', `mongodb-${process.pid}.log`),
);
const saved = { ...process.env };
afterAll(() => {
  process.env = saved;
});

const singleUser = loadBundle('mongodb-single-user');
const alternatingUsers = loadBundle('mongodb-alternating-users');

describe.each(env.mongodb.map((s) => [s.name, s] as const))('%s', (_name, server: MongoServer) => {
  const admin = mongoAdmin(server);
  const appDb = 'appdb';
  const secretFor = mongoSecretFor(server, appDb);
  const login = (value: Record<string, unknown>): MongoLogin => ({
    username: String(value.username),
    password: String(value.password),
    database: String(value.dbname ?? 'admin'),
  });

  /**
   * On MongoDB a user needs the changeOwnPassword action to rotate itself. FerretDB 1.x stores no
   * roles (and enforces none), so there users are created without any.
   */
  async function createUser(
    username: string,
    password: string,
    roles: Document[] = [],
  ): Promise<void> {
    if (!server.supportsRoles) {
      await mongoCommand(server, admin, appDb, { createUser: username, pwd: password, roles: [] });
      return;
    }
    const ownPassword = uniqueName('own_password');
    await mongoCommand(server, admin, appDb, {
      createRole: ownPassword,
      privileges: [{ resource: { db: appDb, collection: '' }, actions: ['changeOwnPassword'] }],
      roles: [],
    });
    await mongoCommand(server, admin, appDb, {
      createUser: username,
      pwd: password,
      roles: [...roles, { role: ownPassword, db: appDb }],
    });
  }

  beforeEach(() => setHandlerEnvironment(env, server.caFile));

  describe('single-user', () => {
    async function newUser(username = uniqueName('su')) {
      const password = 'Initial-password-1';
      await createUser(username, password);
      const arn = await service.createSecret(uniqueName('secret'), secretFor(username, password));
      return { username, password, database: appDb, arn };
    }

    it('rotates over verified TLS: the new password logs in, the old one is refused, AWSPREVIOUS holds it', async () => {
      const user = await newUser();
      const token = await service.rotate(singleUser, user.arn, { twice: true });
      const current = await service.value(user.arn, 'AWSCURRENT');
      expect(await mongoCanLogIn(server, login(current))).toBe(true);
      expect(await mongoCanLogIn(server, user)).toBe(false);
      expect((await service.value(user.arn, 'AWSPREVIOUS')).password).toBe(user.password);
      expect(await service.labels(user.arn)).toEqual({
        AWSCURRENT: token,
        AWSPREVIOUS: expect.any(String),
      });
    });

    it('rotates a hostile username with every printable character in the password', async () => {
      setHandlerEnvironment(env, server.caFile, { EXCLUDE_CHARACTERS: '', PASSWORD_LENGTH: '96' });
      const user = await newUser(`o'b"r\\i$e.n@x:${Math.random().toString(36).slice(2, 6)}`);
      for (let i = 0; i < 2; i++) {
        await service.rotate(singleUser, user.arn);
        expect(
          await mongoCanLogIn(server, login(await service.value(user.arn, 'AWSCURRENT'))),
        ).toBe(true);
      }
    });

    it('rotates in plain text when the secret says "ssl": false', async () => {
      const plainPort = server.plainPort;
      if (plainPort === undefined) throw new Error(`${server.name} has no plain-text port`);
      const user = await newUser();
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(user.username, user.password, { ssl: false, port: plainPort }),
      );
      await service.rotate(singleUser, arn);
      expect(
        await mongoCanLogIn(server, {
          ...login(await service.value(arn, 'AWSCURRENT')),
          tls: false,
        }),
      ).toBe(true);
    });

    it('says an unreachable server is unreachable, within the connect timeout', async () => {
      setHandlerEnvironment(env, server.caFile, { DB_CONNECT_TIMEOUT_SECONDS: '2' });
      const user = await newUser();
      // A port nothing listens on (the plain port of a TLS-only check would be ambiguous).
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(user.username, user.password, { port: 1 }),
      );
      const token = await service.startRotation(arn);
      await service.invoke(singleUser, 'createSecret', arn, token);
      const started = Date.now();
      await expect(service.invoke(singleUser, 'setSecret', arn, token)).rejects.toMatchObject({
        name: 'DatabaseUnreachableError',
        message: expect.stringContaining('Could not reach MongoDB'),
      });
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('runs testSecret alone (RotateImmediately=false) without changing anything', async () => {
      const user = await newUser();
      await service.testOnly(singleUser, user.arn);
      expect(await mongoCanLogIn(server, user)).toBe(true);
    });
  });

  describe('pair mode', () => {
    const appRoles = [{ role: 'readWrite', db: appDb }];

    /**
     * Two users a DBA made equal: the same roles (on MongoDB, readWrite and one shared role with
     * changeOwnPassword; FerretDB 1.x takes no roles) and `extra` fields for the second.
     */
    async function makePair(extra: Document = {}) {
      const blue = { username: uniqueName('blue'), password: 'Blue-password-1', database: appDb };
      const green = {
        username: uniqueName('green'),
        password: 'Green-password-1',
        database: appDb,
      };
      let roles: Document[] = [];
      if (server.supportsRoles) {
        const ownPassword = uniqueName('own_password');
        await mongoCommand(server, admin, appDb, {
          createRole: ownPassword,
          privileges: [{ resource: { db: appDb, collection: '' }, actions: ['changeOwnPassword'] }],
          roles: [],
        });
        roles = [...appRoles, { role: ownPassword, db: appDb }];
      }
      for (const [user, fields] of [
        [blue, {}],
        [green, extra],
      ] as const) {
        await mongoCommand(server, admin, appDb, {
          createUser: user.username,
          pwd: user.password,
          roles,
          ...fields,
        });
      }
      return { blue, green };
    }

    /** The adapter's ownRights, logged in as `user` (what testSecret reads for each of the two). */
    async function ownRights(user: MongoLogin, partner: string) {
      const session = await mongodb.connect({
        host: server.host,
        port: server.port,
        username: user.username,
        password: user.password,
        database: user.database,
        tls: server.caFile ? 'verify-full' : 'disable',
        connectTimeoutMs: 5000,
        statementTimeoutMs: 15_000,
        flavor: 'mongo',
        parameters: {},
      });
      try {
        return await session.ownRights({ partner });
      } finally {
        await session.close();
      }
    }

    it('ownRights reads what each user may do in its own session, naming neither user', async () => {
      const { blue, green } = await makePair();
      const live = await ownRights(blue, green.username);
      const idle = await ownRights(green, blue.username);
      expect(compareRights(live, idle)).toEqual({ lacking: [], extra: [], limits: [] });
      for (const rights of [live, idle]) {
        expect(JSON.stringify(rights)).not.toContain(blue.username);
        expect(JSON.stringify(rights)).not.toContain(green.username);
      }
      if (!server.supportsRoles) {
        // FerretDB 1.x: connectionStatus lists no roles and no privileges at all, usersInfo no
        // restrictions, so every user has the same (empty) list and the parity check proves
        // nothing here; it says so instead of failing.
        expect(live.rights).toEqual([]);
        expect(live.unseen).toEqual(
          expect.arrayContaining([
            expect.stringContaining('the server reported no roles and listed no privileges'),
            expect.stringContaining('its authentication restrictions: the server did not report'),
          ]),
        );
        return;
      }
      expect(live.rights).toEqual(
        expect.arrayContaining([
          `role readWrite@${appDb}`,
          expect.stringMatching(new RegExp(`(^|,)insert,.* on database "${appDb}" `)),
        ]),
      );
      expect(live.limits).toEqual(['no authentication restrictions of its own']);
      expect(live.unseen).not.toEqual(
        expect.arrayContaining([expect.stringContaining('did not report')]),
      );
    });

    it('ownRights tells a missing role and a narrower authentication restriction (MongoDB; FerretDB ignores both)', async () => {
      // FerretDB 1.x accepts authenticationRestrictions in createUser and keeps nothing.
      const anywhere = [{ clientSource: ['0.0.0.0/0', '::/0'] }];
      const { blue, green } = await makePair({ authenticationRestrictions: anywhere });
      const differs = compareRights(
        await ownRights(blue, green.username),
        await ownRights(green, blue.username),
      );
      if (!server.supportsRoles) {
        expect(differs).toEqual({ lacking: [], extra: [], limits: [] });
        return;
      }
      expect(differs.limits).toEqual(
        expect.arrayContaining(['only the live user: no authentication restrictions of its own']),
      );
      await mongoCommand(server, admin, appDb, {
        revokeRolesFromUser: green.username,
        roles: appRoles,
      });
      const after = compareRights(
        await ownRights(blue, green.username),
        await ownRights(green, blue.username),
      );
      expect(after.lacking).toEqual(expect.arrayContaining([`role readWrite@${appDb}`]));
      expect(after.limits).toEqual(
        expect.arrayContaining(['only the live user: no authentication restrictions of its own']),
      );
    });

    it('rotates a pair: the idle user gets the new password and becomes live, the live one stays as it was', async () => {
      const { blue, green } = await makePair();
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(blue.username, blue.password, {
          alternate_username: green.username,
          alternate_password: green.password,
        }),
      );
      await service.rotate(singleUser, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current).toMatchObject({
        username: green.username,
        alternate_username: blue.username,
        alternate_password: blue.password,
      });
      expect(await mongoCanLogIn(server, login(current))).toBe(true);
      expect(await mongoCanLogIn(server, green)).toBe(false);
      expect(await mongoCanLogIn(server, blue)).toBe(true);
    });
  });

  describe('alternating-users', () => {
    async function setUp(roles: Document[] = [{ role: 'read', db: appDb }]) {
      const master = { username: uniqueName('rotator'), password: 'Master-password-1' };
      const base = { username: uniqueName('app'), password: 'Base-password-1', database: appDb };
      await mongoCommand(server, admin, 'admin', {
        createUser: master.username,
        pwd: master.password,
        roles: server.supportsRoles ? [{ role: 'userAdminAnyDatabase', db: 'admin' }] : [],
      });
      await createUser(base.username, base.password, roles);
      const masterArn = await service.createSecret(
        uniqueName('master'),
        secretFor(master.username, master.password, { dbname: 'admin' }),
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      return { base, arn };
    }

    it('flips user → clone → user in the same authentication database; AWSPREVIOUS keeps logging in', async () => {
      const { base, arn } = await setUp();
      const clone = `${base.username}_clone`;
      await service.rotate(alternatingUsers, arn, { twice: true });
      const first = await service.value(arn, 'AWSCURRENT');
      expect(first).toMatchObject({ username: clone, dbname: appDb });
      expect(await mongoCanLogIn(server, login(first))).toBe(true);
      expect(await mongoCanLogIn(server, login(await service.value(arn, 'AWSPREVIOUS')))).toBe(
        true,
      );

      await service.rotate(alternatingUsers, arn);
      const second = await service.value(arn, 'AWSCURRENT');
      expect(second.username).toBe(base.username);
      expect(await mongoCanLogIn(server, login(second))).toBe(true);
      expect(await mongoCanLogIn(server, base)).toBe(false);
      expect(await mongoCanLogIn(server, login(await service.value(arn, 'AWSPREVIOUS')))).toBe(
        true,
      );

      await service.rotate(alternatingUsers, arn);
      expect(await mongoCanLogIn(server, login(first))).toBe(false);
      expect(await mongoCanLogIn(server, login(await service.value(arn, 'AWSCURRENT')))).toBe(true);
    });

    it("re-syncs the clone's roles with the base user's on every rotation (read back with usersInfo)", async () => {
      const { base, arn } = await setUp();
      const clone = `${base.username}_clone`;
      await service.rotate(alternatingUsers, arn);
      expect(await mongoRoles(server, clone, appDb)).toEqual(
        await mongoRoles(server, base.username, appDb),
      );
      if (!server.supportsRoles) return; // FerretDB 1.x stores no roles: both lists are empty.

      // The base user gains a role and the clone is tampered with; the next rotations repair it.
      await mongoCommand(server, admin, appDb, {
        grantRolesToUser: base.username,
        roles: [{ role: 'readWrite', db: 'other' }],
      });
      await mongoCommand(server, admin, appDb, {
        grantRolesToUser: clone,
        roles: [{ role: 'dbAdmin', db: appDb }],
      });
      await service.rotate(alternatingUsers, arn);
      const want = await mongoRoles(server, base.username, appDb);
      expect(want).toContain('readWrite@other');
      expect(await mongoRoles(server, clone, appDb)).toEqual(want);
    });

    it('testSecret refuses a clone whose roles drifted, naming the role, and passes once level', async () => {
      const { base, arn } = await setUp();
      const clone = `${base.username}_clone`;
      await service.rotate(alternatingUsers, arn);
      await service.testOnly(alternatingUsers, arn);
      if (!server.supportsRoles) return; // FerretDB 1.x stores no roles to differ.

      await mongoCommand(server, admin, appDb, {
        revokeRolesFromUser: clone,
        roles: [{ role: 'read', db: appDb }],
      });
      await expect(service.testOnly(alternatingUsers, arn)).rejects.toThrow(
        `lacks role "read" on database "${appDb}"`,
      );
      await service.rotate(alternatingUsers, arn);
      expect(await mongoRoles(server, clone, appDb)).toEqual(
        await mongoRoles(server, base.username, appDb),
      );
      await service.testOnly(alternatingUsers, arn);
    });

    it('refuses to copy authentication restrictions a DBA put on the idle base onto the live clone, changing nothing', async () => {
      const { base, arn } = await setUp();
      const clone = `${base.username}_clone`;
      await service.rotate(alternatingUsers, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(clone);
      // FerretDB 1.x keeps no authentication restrictions: on real MongoDB only.
      if (!server.supportsRoles) return;
      // The DBA shuts the idle base out of every client but one address that is not this one.
      await mongoCommand(server, admin, appDb, {
        updateUser: base.username,
        authenticationRestrictions: [{ clientSource: ['192.0.2.1/32'] }],
      });
      const token = await service.startRotation(arn);
      await service.invoke(alternatingUsers, 'createSecret', arn, token);
      const run = await service.invokeCaptured(alternatingUsers, 'setSecret', arn, token);
      expect(run.error).toMatchObject({
        name: 'IdleUserDisabledError',
        message: expect.stringContaining('192.0.2.1/32'),
      });
      expect(await mongoCanLogIn(server, login(current))).toBe(true);
      expect((await service.stages(arn))[token]).toEqual(['AWSPENDING']);
    });

    it('runs testSecret alone (RotateImmediately=false)', async () => {
      const { base, arn } = await setUp();
      await service.testOnly(alternatingUsers, arn);
      expect(await mongoCanLogIn(server, base)).toBe(true);
    });
  });
});
