import type { ConnectionSettings } from '../../shared/engines/engine';
import { postgresql } from '../../shared/engines/postgresql';

/** Every statement the fake server was sent, and the version it reports. */
const server = {
  version: '9.6.24',
  num: 90624,
  statements: [] as string[],
  sessionUser: 'app',
  currentUser: 'app',
};

jest.mock('pg', () => {
  const actual = jest.requireActual('pg');
  class FakeClient {
    public on(): void {}
    public async connect(): Promise<void> {}
    public async end(): Promise<void> {}
    public async query(sql: string) {
      server.statements.push(sql);
      if (sql.includes('server_version_num')) {
        return { rows: [{ num: server.num, version: server.version }] };
      }
      if (sql.includes('session_user AS s'))
        return { rows: [{ s: server.sessionUser, c: server.currentUser }] };
      return { rows: [] };
    }
  }
  return { ...actual, Client: FakeClient };
});

const settings: ConnectionSettings = {
  host: 'db.example.com',
  port: 5432,
  username: 'app',
  password: 'pw',
  database: 'postgres',
  tls: 'verify-full',
  connectTimeoutMs: 5000,
  statementTimeoutMs: 15_000,
  flavor: 'postgres',
  parameters: {},
};

beforeEach(() => {
  server.statements.length = 0;
});

describe('PostgreSQL before 10 (no SCRAM verifiers)', () => {
  it('refuses single-user before any ALTER ROLE, naming the version', async () => {
    const session = await postgresql.connect(settings);
    await expect(
      session.changeOwnPassword({ newPassword: 'n', currentPassword: 'pw', retainCurrent: false }),
    ).rejects.toMatchObject({
      name: 'UnsupportedServerError',
      message: expect.stringContaining('PostgreSQL 9.6.24'),
    });
    expect(server.statements.filter((s) => /ALTER|CREATE|GRANT|BEGIN/.test(s))).toEqual([]);
  });

  it('refuses alternating users before anything is changed', async () => {
    const session = await postgresql.connect(settings);
    await expect(
      session.applyAlternatingUsers({
        baseUsername: 'app',
        cloneUsername: 'app_clone',
        target: 'app_clone',
        password: 'n',
        database: 'postgres',
      }),
    ).rejects.toMatchObject({ name: 'UnsupportedServerError' });
    expect(server.statements.filter((s) => /ALTER|CREATE|GRANT|BEGIN/.test(s))).toEqual([]);
  });

  it('goes ahead on PostgreSQL 10', async () => {
    server.num = 100_023;
    server.version = '10.23';
    const session = await postgresql.connect(settings);
    await session.changeOwnPassword({
      newPassword: 'n',
      currentPassword: 'pw',
      retainCurrent: false,
    });
    expect(server.statements.some((s) => s.startsWith('ALTER ROLE CURRENT_USER'))).toBe(true);
    // Back to the login role first: a `role` setting would make CURRENT_USER another role.
    expect(server.statements.indexOf('SET ROLE NONE')).toBeLessThan(
      server.statements.findIndex((s) => s.startsWith('ALTER ROLE CURRENT_USER')),
    );
  });

  it("changes nothing when the session is not the secret's user", async () => {
    server.num = 100_023;
    server.currentUser = 'app_owner';
    try {
      const session = await postgresql.connect(settings);
      await expect(
        session.changeOwnPassword({
          newPassword: 'n',
          currentPassword: 'pw',
          retainCurrent: false,
        }),
      ).rejects.toMatchObject({
        name: 'DatabaseStatementError',
        message: expect.stringContaining('runs as "app_owner"'),
      });
      expect(server.statements.some((s) => s.startsWith('ALTER ROLE'))).toBe(false);
    } finally {
      server.currentUser = 'app';
    }
  });
});
