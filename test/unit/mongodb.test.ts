import type { Document } from 'mongodb';
import type { ConnectionSettings } from '../../shared/engines/engine';
import { clientOptions, isDocumentDb, mongodb } from '../../shared/engines/mongodb';
import {
  describeResource,
  type MongoRun,
  readOwnRights,
} from '../../shared/engines/mongodb/own-rights';
import {
  differences,
  restrictionsBlocker,
  toUserInfo,
  userDifferences,
} from '../../shared/engines/mongodb/users';
import { DatabaseStatementError } from '../../shared/errors';
import { parseDatabaseSecret } from '../../shared/secrets/database-secret';
import { compareRights } from '../../shared/strategies/pair';

const settings = (overrides: Partial<ConnectionSettings> = {}): ConnectionSettings => ({
  host: 'db.example.com',
  port: 27017,
  username: 'app',
  password: 'pw',
  database: 'admin',
  tls: 'verify-full',
  connectTimeoutMs: 5000,
  statementTimeoutMs: 15_000,
  flavor: 'mongo',
  parameters: {},
  ...overrides,
});

describe('MongoDB connection options', () => {
  it('passes credentials through the driver, verifies TLS and fails fast', () => {
    const options = clientOptions(
      settings({ username: `we"ird$.user'\\`, password: 'p@ss:/word%', database: 'appdb' }),
    );
    expect(options).toMatchObject({
      auth: { username: `we"ird$.user'\\`, password: 'p@ss:/word%' },
      authSource: 'appdb',
      tls: true,
      tlsAllowInvalidHostnames: false,
      serverSelectionTimeoutMS: 5000,
      connectTimeoutMS: 5000,
      directConnection: true,
      retryWrites: true,
    });
    expect(options.ca?.length).toBeGreaterThan(100);
  });

  it('uses DocumentDB settings for engine "docdb" or a DocumentDB endpoint', () => {
    expect(clientOptions(settings({ flavor: 'docdb' })).retryWrites).toBe(false);
    expect(isDocumentDb(settings({ host: 'c.cluster-abc.eu-west-1.docdb.amazonaws.com' }))).toBe(
      true,
    );
    expect(isDocumentDb(settings())).toBe(false);
  });

  it('joins a replica set when the secret names one, and skips host-name checks only for verify-ca', () => {
    expect(clientOptions(settings({ parameters: { replicaSet: 'rs0' } }))).toMatchObject({
      replicaSet: 'rs0',
    });
    expect(clientOptions(settings({ parameters: { replicaSet: 'rs0' } }))).not.toHaveProperty(
      'directConnection',
    );
    expect(clientOptions(settings({ tls: 'verify-ca' })).tlsAllowInvalidHostnames).toBe(true);
    expect(clientOptions(settings({ tls: 'disable' }))).toMatchObject({ tls: false });
    expect(clientOptions(settings({ tls: 'disable' }))).not.toHaveProperty('ca');
  });

  it('refuses a host that would change the connection string', async () => {
    await expect(
      mongodb.connect(settings({ host: 'evil@other.example/?authSource=x' })),
    ).rejects.toMatchObject({
      name: 'DatabaseUnreachableError',
      message: expect.stringContaining('not a host name'),
    });
  });

  it('reads the replicaSet key from the secret', () => {
    const secret = parseDatabaseSecret(
      JSON.stringify({
        engine: 'mongo',
        host: 'h',
        username: 'u',
        password: 'p',
        replicaSet: 'rs0',
      }),
      { secretId: 's', label: 'AWSCURRENT' },
      mongodb,
    );
    expect(secret).toMatchObject({ port: 27017, parameters: { replicaSet: 'rs0' } });
    expect(() =>
      parseDatabaseSecret(
        JSON.stringify({ engine: 'mongo', host: 'h', username: 'u', password: 'p', replicaSet: 3 }),
        { secretId: 's', label: 'AWSCURRENT' },
        mongodb,
      ),
    ).toThrow(/"replicaSet" must be a string/);
  });
});

describe('clone differences', () => {
  const user = (roles: object[], restrictions: object[] = [], customData?: object) =>
    toUserInfo({ roles, authenticationRestrictions: restrictions, customData });
  const names = { base: '"app"', clone: '"app_clone"' };

  it('needs nothing when roles, restrictions and custom data match in any order', () => {
    const base = user(
      [
        { role: 'read', db: 'a' },
        { db: 'b', role: 'readWrite' },
      ],
      [{ clientSource: ['10.0.0.0/8'], serverAddress: ['10.1.0.1'] }],
      { team: 'x', tags: { a: 1, b: 2 } },
    );
    const clone = user(
      [
        { role: 'readWrite', db: 'b' },
        { role: 'read', db: 'a' },
      ],
      [{ serverAddress: ['10.1.0.1'], clientSource: ['10.0.0.0/8'] }],
      { tags: { b: 2, a: 1 }, team: 'x' },
    );
    expect(differences(base, clone)).toEqual({});
    expect(userDifferences(base, clone, names)).toEqual([]);
  });

  it('treats no custom data and an empty document as the same', () => {
    expect(differences(user([], [], {}), user([]))).toEqual({});
  });

  it("sets the base user's roles, restrictions and custom data when they differ", () => {
    const base = user([{ role: 'readWrite', db: 'app' }], [{ clientSource: ['10.0.0.0/8'] }], {
      owner: 'payments',
    });
    expect(differences(base, user([{ role: 'root', db: 'admin' }]))).toEqual({
      roles: [{ role: 'readWrite', db: 'app' }],
      authenticationRestrictions: [{ clientSource: ['10.0.0.0/8'] }],
      customData: { owner: 'payments' },
    });
    expect(differences(user([]), user([], [], { stale: true }))).toEqual({ customData: {} });
  });

  it('names each role the clone lacks or has beyond the base, on every database', () => {
    const base = user([
      { role: 'readWrite', db: 'app' },
      { role: 'read', db: 'reporting' },
    ]);
    const clone = user([
      { role: 'readWrite', db: 'app' },
      { role: 'dbAdmin', db: 'reporting' },
    ]);
    expect(userDifferences(base, clone, names)).toEqual([
      '"app_clone" lacks role "read" on database "reporting"',
      '"app_clone" has role "dbAdmin" on database "reporting" ("app" does not)',
    ]);
  });

  it('names differing restrictions, and says only that custom data differs', () => {
    const base = user([], [{ clientSource: ['10.0.0.0/8'] }], { apiKey: 'not-for-logs' });
    const drift = userDifferences(base, user([]), names);
    expect(drift).toEqual([
      'their authentication restrictions differ: "app" has {"clientSource":["10.0.0.0/8"]}, "app_clone" has none',
      'their custom data differs',
    ]);
    expect(drift.join(' ')).not.toContain('not-for-logs');
  });

  it('blocks copying restrictions the live clone lacks onto it, and nothing else', () => {
    const narrow = [{ clientSource: ['192.0.2.1/32'] }];
    expect(restrictionsBlocker(user([], narrow), user([]), names)).toBe(
      '"app" has authentication restrictions {"clientSource":["192.0.2.1/32"]} that "app_clone", the live user, does not have',
    );
    expect(restrictionsBlocker(user([], narrow), user([], narrow), names)).toBeUndefined();
    // Removing restrictions from the live clone narrows nothing.
    expect(restrictionsBlocker(user([]), user([], narrow), names)).toBeUndefined();
  });
});

describe('ownRights (pair mode), from what each user reads about itself', () => {
  // The built-in readWrite role's privileges on database "app" (MongoDB 7.0's built-in roles:
  // readWrite's actions on the database and on its system.js collection).
  const readActions = [
    'changeStream',
    'collStats',
    'dbHash',
    'dbStats',
    'find',
    'killCursors',
    'listCollections',
    'listIndexes',
    'planCacheRead',
  ];
  const readWriteActions = [
    ...readActions,
    'compactStructuredEncryptionData',
    'convertToCapped',
    'createCollection',
    'createIndex',
    'dropCollection',
    'dropIndex',
    'insert',
    'remove',
    'renameCollectionSameDB',
    'update',
  ];
  const readWrite = {
    roles: [{ role: 'readWrite', db: 'app' }],
    privileges: [
      { resource: { db: 'app', collection: '' }, actions: readWriteActions },
      { resource: { db: 'app', collection: 'system.js' }, actions: readWriteActions },
    ],
  };

  interface Grants {
    /** Direct roles (usersInfo `roles`). */
    roles: Document[];
    /** Roles through those roles, if any, beyond the direct ones. */
    through?: Document[];
    privileges: Document[];
    restrictions?: Document[];
    inheritedRestrictions?: Document[];
  }

  /**
   * A session's replies, shaped as MongoDB documents them:
   * connectionStatus, https://www.mongodb.com/docs/manual/reference/command/connectionStatus/
   * ("Output": authInfo.authenticatedUsers, authenticatedUserRoles, authenticatedUserPrivileges
   * with resource and actions); usersInfo, https://www.mongodb.com/docs/manual/reference/command/usersInfo/
   * ("Output": _id, userId, user, db, mechanisms, customData, roles, inheritedRoles,
   * inheritedPrivileges, inheritedAuthenticationRestrictions, authenticationRestrictions).
   * Every user gets a different userId and custom data: neither is a right.
   */
  function mongoReplies(user: string, grants: Grants): MongoRun & { calls: Document[] } {
    const all = [...grants.roles, ...(grants.through ?? [])];
    const calls: Document[] = [];
    const run = async (_database: string, command: Document) => {
      calls.push(command);
      if ('connectionStatus' in command) {
        return {
          authInfo: {
            authenticatedUsers: [{ user, db: 'app' }],
            authenticatedUserRoles: all,
            ...(command.showPrivileges ? { authenticatedUserPrivileges: grants.privileges } : {}),
          },
          ok: 1,
        };
      }
      return {
        users: [
          {
            _id: `app.${user}`,
            userId: `uuid-of-${user}`,
            user,
            db: 'app',
            mechanisms: ['SCRAM-SHA-1', 'SCRAM-SHA-256'],
            customData: { owner: user },
            roles: grants.roles,
            inheritedRoles: all,
            inheritedPrivileges: grants.privileges,
            inheritedAuthenticationRestrictions: grants.inheritedRestrictions ?? [],
            authenticationRestrictions: grants.restrictions ?? [],
          },
        ],
        ok: 1,
      };
    };
    return Object.assign(run, { calls });
  }

  const pair = { live: 'app_blue', idle: 'app_green' };
  const read = (user: string, partner: string, grants: Grants) =>
    readOwnRights(mongoReplies(user, grants), { username: user, database: 'app', partner });
  /** The live and the idle user's lists, compared as the pair strategy does. */
  async function compare(live: Grants, idle: Grants) {
    const a = await read(pair.live, pair.idle, live);
    const b = await read(pair.idle, pair.live, idle);
    return { live: a, idle: b, ...compareRights(a, b) };
  }

  it('gives equal lists for equal users, whatever their names, ids, custom data and order', async () => {
    const shuffled: Grants = {
      roles: [...readWrite.roles],
      privileges: readWrite.privileges
        .map((p) => ({ resource: p.resource, actions: [...p.actions].reverse() }))
        .reverse(),
    };
    const result = await compare(readWrite, shuffled);
    expect(result.live.rights).toEqual(result.idle.rights);
    expect(result).toMatchObject({ lacking: [], extra: [], limits: [] });
    expect(result.live.rights).toEqual([
      `${[...readWriteActions].sort().join(',')} on collection "system.js" of database "app"`,
      `${[...readWriteActions].sort().join(',')} on database "app" (non-system collections)`,
      'role readWrite@app',
    ]);
    expect(result.live.limits).toEqual(['no authentication restrictions of its own']);
  });

  it('names a role the idle user lacks, direct or through another role', async () => {
    const reporting = {
      resource: { db: 'reporting', collection: '' },
      actions: readActions,
    };
    const live: Grants = {
      roles: [...readWrite.roles, { role: 'analyst', db: 'app' }],
      through: [{ role: 'read', db: 'reporting' }],
      privileges: [...readWrite.privileges, reporting],
    };
    const { lacking, extra } = await compare(live, readWrite);
    expect(lacking).toEqual([
      `${[...readActions].sort().join(',')} on database "reporting" (non-system collections)`,
      'role analyst@app',
      'role read@reporting',
    ]);
    expect(extra).toEqual([]);
  });

  it('counts a role had directly and through another role once: what the user may do is equal', async () => {
    const direct = await read(pair.live, pair.idle, {
      roles: [
        { role: 'analyst', db: 'app' },
        { role: 'read', db: 'reporting' },
      ],
      privileges: [],
    });
    const through = await read(pair.idle, pair.live, {
      roles: [{ role: 'analyst', db: 'app' }],
      through: [{ role: 'read', db: 'reporting' }],
      privileges: [],
    });
    expect(direct.rights).toEqual(through.rights);
  });

  it('names the resource where the idle user lacks an action, and warns of one it has beyond', async () => {
    const narrower: Grants = {
      roles: readWrite.roles,
      privileges: [
        {
          resource: { db: 'app', collection: '' },
          actions: readWriteActions.filter((a) => a !== 'remove'),
        },
        readWrite.privileges[1] as Document,
      ],
    };
    const { lacking, extra } = await compare(readWrite, narrower);
    expect(lacking).toEqual([
      expect.stringMatching(/,remove,.* on database "app" \(non-system collections\)$/),
    ]);
    expect(extra).toEqual([expect.not.stringContaining('remove')]);
    expect(extra[0]).toMatch(/ on database "app" \(non-system collections\)$/);
  });

  it('tells authentication restrictions apart, in either direction and through roles', async () => {
    const office = { clientSource: ['10.0.0.0/8', '192.0.2.7'], serverAddress: ['10.1.0.1'] };
    const restricted = { ...readWrite, restrictions: [office] };
    // Restrictions are limits: any difference is refused, either way.
    expect((await compare(readWrite, restricted)).limits).toEqual([
      'only the live user: no authentication restrictions of its own',
      'only the idle user: authentication restriction {"clientSource":["10.0.0.0/8","192.0.2.7"],"serverAddress":["10.1.0.1"]}',
    ]);
    const elsewhere = { ...readWrite, restrictions: [{ clientSource: ['198.51.100.0/24'] }] };
    expect((await compare(restricted, elsewhere)).limits).toEqual([
      'only the live user: authentication restriction {"clientSource":["10.0.0.0/8","192.0.2.7"],"serverAddress":["10.1.0.1"]}',
      'only the idle user: authentication restriction {"clientSource":["198.51.100.0/24"]}',
    ]);
    expect((await compare(restricted, readWrite)).limits).toHaveLength(2);
    // The same restriction written in another order is the same line.
    const reordered = {
      ...readWrite,
      restrictions: [{ serverAddress: ['10.1.0.1'], clientSource: ['192.0.2.7', '10.0.0.0/8'] }],
    };
    expect(await compare(restricted, reordered)).toMatchObject({
      lacking: [],
      extra: [],
      limits: [],
    });
    // A role's restrictions (usersInfo lists each role's set as one entry).
    const viaRole = { ...readWrite, inheritedRestrictions: [[{ clientSource: ['10.0.0.0/8'] }]] };
    expect((await compare(viaRole, readWrite)).limits).toEqual([
      'only the live user: authentication restriction through its roles [{"clientSource":["10.0.0.0/8"]}]',
    ]);
    // …and a role's restriction only the idle user has (a narrower login) is refused too.
    expect((await compare(readWrite, viaRole)).limits).toEqual([
      'only the idle user: authentication restriction through its roles [{"clientSource":["10.0.0.0/8"]}]',
    ]);
  });

  it('never names either user of the pair, even in a role named after one of them', async () => {
    const named: Grants = {
      roles: [
        { role: pair.live, db: 'app' },
        { role: pair.idle, db: 'app' },
      ],
      privileges: [{ resource: { db: 'app', collection: '' }, actions: ['changeOwnPassword'] }],
    };
    const { live, idle, lacking, extra } = await compare(named, named);
    for (const rights of [live, idle]) {
      const text = JSON.stringify(rights);
      expect(text).not.toContain(pair.live);
      expect(text).not.toContain(pair.idle);
    }
    expect(live.rights).toContain('role (named after a user of the pair)@app');
    expect({ lacking, extra }).toEqual({ lacking: [], extra: [] });
  });

  it('reads only what a user may read about itself: connectionStatus and usersInfo on its own user', async () => {
    const run = mongoReplies(pair.live, readWrite);
    await readOwnRights(run, { username: pair.live, database: 'app', partner: pair.idle });
    expect(run.calls).toEqual([
      { connectionStatus: 1, showPrivileges: true },
      {
        usersInfo: { user: pair.live, db: 'app' },
        showPrivileges: true,
        showAuthenticationRestrictions: true,
      },
    ]);
  });

  it('leaves the restrictions unseen when usersInfo is refused (MongoDB Atlas), without naming the user', async () => {
    const replies = mongoReplies(pair.live, readWrite);
    const refused: MongoRun = async (database, command, name) => {
      if ('usersInfo' in command) {
        throw new DatabaseStatementError(
          `MongoDB refused usersInfo in database "app" as user "${pair.live}": not authorized (code 13)`,
          {
            cause: Object.assign(new Error('not authorized'), {
              code: 13,
              codeName: 'Unauthorized',
            }),
          },
        );
      }
      return replies(database, command, name);
    };
    const result = await readOwnRights(refused, {
      username: pair.live,
      database: 'app',
      partner: pair.idle,
    });
    expect(result.rights).toContain('role readWrite@app');
    expect(result.limits.some((l) => l.includes('authentication restriction'))).toBe(false);
    expect(result.unseen).toContain(
      'its authentication restrictions: the server refused usersInfo on the user itself (code 13 Unauthorized)',
    );
    expect(JSON.stringify(result)).not.toContain(pair.live);
  });

  it('keeps the roles when the server takes connectionStatus but not showPrivileges', async () => {
    const replies = mongoReplies(pair.live, readWrite);
    const noShow: MongoRun = async (database, command, name) => {
      if (command.showPrivileges === true && 'connectionStatus' in command) {
        throw new DatabaseStatementError('MongoDB refused connectionStatus', {
          cause: Object.assign(new Error('unknown field'), { code: 40415 }),
        });
      }
      return replies(database, command, name);
    };
    const result = await readOwnRights(noShow, {
      username: pair.live,
      database: 'app',
      partner: pair.idle,
    });
    expect(result.rights).toContain('role readWrite@app');
    // usersInfo's inheritedPrivileges still say what the roles grant.
    expect(result.rights).toContain(
      `${[...readWriteActions].sort().join(',')} on database "app" (non-system collections)`,
    );
  });

  it('throws when the server has no connectionStatus at all', async () => {
    const missing: MongoRun = async () => {
      throw new DatabaseStatementError(
        'MongoDB refused connectionStatus: no such command (code 59)',
      );
    };
    await expect(
      readOwnRights(missing, { username: 'u', database: 'app', partner: 'v' }),
    ).rejects.toThrow('no such command');
  });

  it("says what it could not see on a server without roles (FerretDB 1.x's replies)", async () => {
    // What FerretDB 1.24 answers (test/integration/mongodb.test.ts checks it against the server).
    const ferret: MongoRun = async (_database, command) =>
      'connectionStatus' in command
        ? {
            authInfo: {
              authenticatedUsers: [{ user: 'u', db: 'app' }],
              authenticatedUserRoles: [],
            },
            ok: 1,
          }
        : {
            users: [
              {
                _id: 'app.u',
                user: 'u',
                db: 'app',
                roles: [],
                userId: 'x',
                mechanisms: ['SCRAM-SHA-256'],
              },
            ],
            ok: 1,
          };
    const result = await readOwnRights(ferret, { username: 'u', database: 'app', partner: 'v' });
    expect(result.rights).toEqual([]);
    expect(result.unseen).toEqual(
      expect.arrayContaining([
        expect.stringContaining('the server reported no roles and listed no privileges'),
        expect.stringContaining('its authentication restrictions: the server did not report them'),
      ]),
    );
  });

  it('describes every kind of resource', () => {
    expect(describeResource({ db: 'app', collection: 'orders' })).toBe(
      'collection "orders" of database "app"',
    );
    expect(describeResource({ db: '', collection: 'system.js' })).toBe(
      'collection "system.js" of every database',
    );
    expect(describeResource({ db: '', collection: '' })).toBe(
      'every database (non-system collections)',
    );
    expect(describeResource({ cluster: true })).toBe('the cluster');
    expect(describeResource({ anyResource: true })).toBe('any resource');
    expect(describeResource({ db: '', system_buckets: '' })).toBe(
      'the buckets of every time series collection of every database',
    );
    expect(describeResource({ db: 'app', system_buckets: 'm' })).toBe(
      'the buckets of time series "m" of database "app"',
    );
    expect(describeResource({ cluster: false, db: 'x' })).toBe(
      'resource {"cluster":false,"db":"x"}',
    );
  });
});
