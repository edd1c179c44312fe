import {
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Document } from 'mongodb';
import { escapeIdentifier, escapeLiteral } from 'pg';
import type { MongoServer, MysqlServer, PostgresServer } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import { mongoAdmin, mongoCanLogIn, mongoCommand, mongoSecretFor } from '../helpers/mongo-client';
import { lit, mysqlCanLogIn, mysqlRoot, mysqlRun } from '../helpers/mysql-client';
import {
  canLogIn,
  createMasterAndBase,
  runAs,
  superuser,
  uniqueName,
} from '../helpers/postgres-client';
import { type Handler, loadBundle } from '../helpers/rotation-service';
import { secretOn, suiteContext } from '../helpers/suite-context';

// The pairing rule of alternating users, on every server: the master changes a user's password or
// rights only for a secret that holds that user's working password (or the other user's, whose
// clone it levels), and never for its own user. Found by review: a secret writer who can create
// "victim_clone" wrote {"username": "victim_clone"} with their own password, and the master handed
// them "victim". The adoption path (a pair AWS's multi-user function rotated) keeps working.

const { env, service } = suiteContext('pair-binding');

interface Login {
  username: string;
  password: string;
}

/** What each engine's cases need: users made by an administrator, logins, and secrets. */
interface Engine {
  name: string;
  caFile: string | undefined;
  bundle: Handler;
  /** A master that may create users and grant, and a base user, both new. */
  masterAndBase(): Promise<{ master: Login; base: Login }>;
  /**
   * A user with `password`, made as an attacker with the right to create users would; with
   * `creator`, made by that user (as AWS's function makes the clone, as the master).
   */
  createUser(username: string, password: string, creator?: Login): Promise<void>;
  canLogIn(login: Login): Promise<boolean>;
  /** Gives `username` a right of its own (a membership, a privilege, a role). */
  giveRight(username: string): Promise<void>;
  /**
   * FerretDB 1.x stores no roles, so any two of its users are level and the rule's first half
   * binds them (and any logged-in FerretDB user may do anything anyway).
   */
  levelsEveryPair?: boolean;
  secret(login: Login, extra?: Record<string, unknown>): Record<string, unknown>;
}

function postgresEngine(server: PostgresServer): Engine {
  const secretFor = secretOn('postgres', server, { dbname: 'postgres' });
  return {
    name: server.name,
    caFile: server.caFile,
    bundle: loadBundle('postgresql-alternating-users'),
    masterAndBase: () => createMasterAndBase(server),
    createUser: async (username, password, creator) => {
      await runAs(
        server,
        creator ?? superuser(server),
        `CREATE ROLE ${escapeIdentifier(username)} LOGIN PASSWORD ${escapeLiteral(password)}`,
      );
    },
    canLogIn: (login) => canLogIn(server, login),
    giveRight: async (username) => {
      await runAs(
        server,
        superuser(server),
        `GRANT pg_read_all_settings TO ${escapeIdentifier(username)}`,
      );
    },
    secret: (login, extra) => secretFor(login.username, login.password, extra),
  };
}

function mysqlEngine(server: MysqlServer): Engine {
  const secretFor = secretOn(server.flavor, server);
  const run = (...sql: string[]) => mysqlRun(server, mysqlRoot(server), ...sql);
  const createUser = async (username: string, password: string) => {
    await run(`CREATE USER ${lit(username)}@'%' IDENTIFIED BY ${lit(password)}`);
  };
  return {
    name: server.name,
    caFile: server.caFile,
    bundle: loadBundle(`${server.flavor}-alternating-users`),
    masterAndBase: async () => {
      const master = { username: uniqueName('rotator'), password: 'Master-password-1' };
      const base = { username: uniqueName('app'), password: 'Base-password-1' };
      await createUser(master.username, master.password);
      await run(`GRANT ALL PRIVILEGES ON *.* TO ${lit(master.username)}@'%' WITH GRANT OPTION`);
      await createUser(base.username, base.password);
      // A right of its own, so that a user made by someone else is not level with it.
      await run(`GRANT SELECT ON mysql.db TO ${lit(base.username)}@'%'`);
      return { master, base };
    },
    createUser,
    canLogIn: (login) => mysqlCanLogIn(server, login),
    giveRight: async (username) => {
      await run(`GRANT SELECT ON mysql.db TO ${lit(username)}@'%'`);
    },
    secret: (login, extra) => secretFor(login.username, login.password, extra),
  };
}

function mongoEngine(server: MongoServer): Engine {
  const appDb = 'pairdb';
  const secretFor = mongoSecretFor(server, appDb);
  const createUser = async (username: string, password: string, roles: Document[] = []) => {
    await mongoCommand(server, mongoAdmin(server), appDb, {
      createUser: username,
      pwd: password,
      roles: server.supportsRoles ? roles : [],
    });
  };
  return {
    name: server.name,
    caFile: server.caFile,
    bundle: loadBundle('mongodb-alternating-users'),
    masterAndBase: async () => {
      const master = { username: uniqueName('rotator'), password: 'Master-password-1' };
      const base = { username: uniqueName('app'), password: 'Base-password-1' };
      await mongoCommand(server, mongoAdmin(server), 'admin', {
        createUser: master.username,
        pwd: master.password,
        roles: server.supportsRoles ? [{ role: 'userAdminAnyDatabase', db: 'admin' }] : [],
      });
      await createUser(base.username, base.password, [{ role: 'read', db: appDb }]);
      return { master, base };
    },
    createUser: (username, password) => createUser(username, password),
    levelsEveryPair: !server.supportsRoles,
    canLogIn: (login) => mongoCanLogIn(server, { ...login, database: appDb }),
    giveRight: async (username) => {
      if (!server.supportsRoles) return;
      await mongoCommand(server, mongoAdmin(server), appDb, {
        grantRolesToUser: username,
        roles: [{ role: 'read', db: appDb }],
      });
    },
    secret: (login, extra) => secretFor(login.username, login.password, extra),
  };
}

const engines: Engine[] = [
  ...env.postgres.map(postgresEngine),
  ...env.mysql.filter((s) => !s.requireSecureTransport).map(mysqlEngine),
  ...env.mongodb.map(mongoEngine),
];

describe.each(engines.map((engine) => [engine.name, engine] as const))(
  'the pair is bound to its secret on %s',
  (_name, engine) => {
    beforeEach(() => setHandlerEnvironment(env, engine.caFile));

    async function masterSecret(master: Login): Promise<string> {
      // The master logs in to its own database (MongoDB: admin).
      return service.createSecret(
        uniqueName('master'),
        engine.name.startsWith('ferretdb') || engine.name.startsWith('mongo')
          ? engine.secret(master, { dbname: 'admin' })
          : engine.secret(master),
      );
    }

    /**
     * A new version labelled AWSCURRENT, the old one AWSPREVIOUS, as PutSecretValue does in
     * Secrets Manager (moto's PutSecretValue with AWSCURRENT leaves two versions labelled so).
     */
    async function makeCurrent(arn: string, value: Record<string, unknown>): Promise<void> {
      const before = await service.labels(arn);
      const put = await service.client.send(
        new PutSecretValueCommand({
          SecretId: arn,
          SecretString: JSON.stringify(value),
          VersionStages: ['REPAIRED'],
        }),
      );
      await service.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: put.VersionId,
          RemoveFromVersionId: before.AWSCURRENT,
        }),
      );
      const after = await service.labels(arn);
      if (after.AWSPREVIOUS !== before.AWSCURRENT) {
        await service.client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: arn,
            VersionStage: 'AWSPREVIOUS',
            MoveToVersionId: before.AWSCURRENT,
            ...(after.AWSPREVIOUS ? { RemoveFromVersionId: after.AWSPREVIOUS } : {}),
          }),
        );
      }
    }

    /** Runs createSecret and setSecret; returns setSecret's error (or undefined) and the token. */
    async function setSecret(arn: string) {
      const token = await service.startRotation(arn);
      await service.invoke(engine.bundle, 'createSecret', arn, token);
      const run = await service.invokeCaptured(engine.bundle, 'setSecret', arn, token);
      return { error: run.error, token };
    }

    it('refuses a secret that names a clone its writer made: the victim keeps its password', async () => {
      if (engine.levelsEveryPair) return;
      const { master, base: victim } = await engine.masterAndBase();
      const attacker = { username: `${victim.username}_clone`, password: 'Attacker-password-1' };
      await engine.createUser(attacker.username, attacker.password);
      const arn = await service.createSecret(
        uniqueName('theirs'),
        engine.secret(attacker, { masterarn: await masterSecret(master) }),
      );

      const { error, token } = await setSecret(arn);

      expect(error).toMatchObject({
        name: 'UnboundPairError',
        message: expect.stringMatching(
          new RegExp(`They are not level .*AWSPREVIOUS does not name "${victim.username}"`),
        ),
      });
      expect(await engine.canLogIn(victim)).toBe(true);
      const pending = await service.value(arn, 'AWSPENDING');
      expect(await engine.canLogIn({ ...victim, password: String(pending.password) })).toBe(false);
      expect((await service.stages(arn))[token]).toEqual(['AWSPENDING']);
    });

    it('refuses a secret that names a base its writer made: an existing clone (someone else’s user) keeps its password and rights', async () => {
      if (engine.levelsEveryPair) return;
      const { master } = await engine.masterAndBase();
      const attacker = { username: uniqueName('report'), password: 'Attacker-password-1' };
      const victim = { username: `${attacker.username}_clone`, password: 'Victim-password-1' };
      // The victim's user, made by the master as a DBA would (PostgreSQL 16+: so the master may
      // manage it), with a right of its own; the attacker's base, made by them, without it.
      await engine.createUser(victim.username, victim.password, master);
      await engine.giveRight(victim.username);
      await engine.createUser(attacker.username, attacker.password);
      const arn = await service.createSecret(
        uniqueName('theirs'),
        engine.secret(attacker, { masterarn: await masterSecret(master) }),
      );

      const { error, token } = await setSecret(arn);

      expect(error).toMatchObject({
        name: 'UnboundPairError',
        message: expect.stringContaining(`AWSPREVIOUS does not name "${victim.username}"`),
      });
      expect(await engine.canLogIn(victim)).toBe(true);
      expect((await service.stages(arn))[token]).toEqual(['AWSPENDING']);
    });

    it('refuses a secret whose pair holds the master’s own user: the master keeps its password', async () => {
      const { master } = await engine.masterAndBase();
      const attacker = { username: `${master.username}_clone`, password: 'Attacker-password-1' };
      await engine.createUser(attacker.username, attacker.password);
      const arn = await service.createSecret(
        uniqueName('theirs'),
        engine.secret(attacker, { masterarn: await masterSecret(master) }),
      );

      const { error } = await setSecret(arn);

      expect(error).toMatchObject({
        name: 'UnboundPairError',
        message: expect.stringContaining('the master never rotates or levels its own user'),
      });
      expect(
        engine.name.startsWith('ferretdb') || engine.name.startsWith('mongo')
          ? await mongoCanLogIn(env.mongodb.find((s) => s.name === engine.name) as MongoServer, {
              ...master,
              database: 'admin',
            })
          : await engine.canLogIn(master),
      ).toBe(true);
    });

    it('binds a level pair whose base password no labelled version holds (the clone’s password repaired by hand)', async () => {
      const { master, base } = await engine.masterAndBase();
      const masterarn = await masterSecret(master);
      const arn = await service.createSecret(
        uniqueName('repaired'),
        engine.secret(base, { masterarn }),
      );
      await service.rotate(engine.bundle, arn);
      const clone = await service.value(arn, 'AWSCURRENT');
      // A person puts the clone's working password in AWSCURRENT again: AWSPREVIOUS then names
      // the clone, and no labelled version holds the base's password.
      await makeCurrent(arn, clone);
      expect((await service.value(arn, 'AWSPREVIOUS')).username).toBe(clone.username);

      await service.rotate(engine.bundle, arn);

      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(base.username);
      expect(await engine.canLogIn({ ...base, password: String(current.password) })).toBe(true);
    });

    it('adopts a pair AWS’s multi-user function rotated: AWSCURRENT the clone, AWSPREVIOUS the base', async () => {
      const { master, base } = await engine.masterAndBase();
      const clone = { username: `${base.username}_clone`, password: 'Clone-password-1' };
      await engine.createUser(clone.username, clone.password, master);
      const masterarn = await masterSecret(master);
      const arn = await service.createSecret(
        uniqueName('adopted'),
        engine.secret(base, { masterarn }),
      );
      // The state AWS's function leaves after one rotation: the clone current, the base previous.
      await makeCurrent(arn, engine.secret(clone, { masterarn }));
      expect((await service.value(arn, 'AWSPREVIOUS')).username).toBe(base.username);

      await service.rotate(engine.bundle, arn);

      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(base.username);
      expect(await engine.canLogIn({ ...base, password: String(current.password) })).toBe(true);
      expect(await engine.canLogIn(clone)).toBe(true);
    });
  },
);
