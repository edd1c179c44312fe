import type { ConnectionSettings } from '../../shared/engines/engine';
import { clientOptions, isDocumentDb, mongodb } from '../../shared/engines/mongodb';
import {
  differences,
  restrictionsBlocker,
  toUserInfo,
  userDifferences,
} from '../../shared/engines/mongodb-users';
import { parseDatabaseSecret } from '../../shared/secrets/database-secret';

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
