import mysql2 from 'mysql2/promise';
import type { ConnectionSettings } from '../../shared/engines/engine';
import {
  authChain,
  createUserStatement,
  mariadbPasswordStatement,
  mysql,
} from '../../shared/engines/mysql';
import {
  type AccountRights,
  inheritedRestrictions,
  optionsQuery,
  parseRestrictions,
  type Right,
  readRights,
  staleDynamic,
  syncStatements,
} from '../../shared/engines/mysql/rights';
import { alternatingUsersFloor, parseServerVersion } from '../../shared/engines/mysql/server';

// Issue 23 on MySQL and MariaDB, without a server: which SQL each server version gets, the
// authentication chains MariaDB keeps, and the statements for PROXY grants and partial revokes.

const rights = (...items: Right[]): AccountRights => new Map(items.map((r) => [r.label, r]));
const priv = (privilege: string, object = '*.*'): Right => ({
  kind: 'privilege',
  label: `${privilege} ON ${object}`,
  object,
  privilege,
  dynamic: false,
});
const [payrollInsert] = parseRestrictions([{ Database: 'payroll', Privileges: ['insert'] }]);
const proxy = (account: string, grant = false): Right[] => [
  { kind: 'proxy', label: `PROXY ON ${account}`, account },
  ...(grant
    ? [{ kind: 'proxy-grant', label: `PROXY ON ${account} WITH GRANT OPTION`, account } as Right]
    : []),
];
const clone = "'app_clone'@'%'";

describe('server floor and the columns read per version', () => {
  it.each([
    ['5.7.44', 'MySQL 8.0'],
    ['5.6.51', 'MySQL 8.0'],
    ['8.0.0', undefined],
    ['9.7.4', undefined],
    ['10.3.39-MariaDB', 'MariaDB 10.4'],
    ['10.4.0-MariaDB', undefined],
  ])('%s: floor %s', (version, floor) => {
    expect(alternatingUsersFloor(parseServerVersion(version))).toBe(floor);
  });

  it.each([
    ['8.0.2', [], ['Password_reuse', 'Password_require_current', 'User_attributes']],
    ['8.0.3', ['Password_reuse_history', 'Password_reuse_time'], ['Password_require_current']],
    ['8.0.13', ['Password_require_current'], ['User_attributes']],
    ['8.0.16', ['$.Restrictions'], ['Password_locking']],
    ['8.0.19', ['$.Restrictions', '$.Password_locking.failed_login_attempts'], []],
    ['9.7.4', ['Password_reuse_history', 'Password_require_current', '$.Restrictions'], []],
  ])('MySQL %s reads %j and not %j', (version, read, unread) => {
    const sql = optionsQuery(parseServerVersion(version), "('app', '%')");
    for (const column of read) expect(sql).toContain(column);
    for (const column of unread) expect(sql).not.toContain(column);
  });

  it('MariaDB reads global_priv, never MySQL-only columns', () => {
    const sql = optionsQuery(parseServerVersion('11.8.2-MariaDB'), "('app', '%')");
    expect(sql).toContain('mysql.global_priv');
    expect(sql).not.toMatch(/User_attributes|Password_re/);
  });

  /** A session answering the rights queries with one account row, recording every statement. */
  function fakeRights(row: Record<string, unknown>, globals: string[] = []) {
    const issued: string[] = [];
    return {
      issued,
      run: async (sql: string) => {
        issued.push(sql);
        if (sql.startsWith("SELECT 'global'")) {
          return globals.map((p) => ({ src: 'global', g: "'app'@'%'", a: '', b: '', c: '', p }));
        }
        return sql.startsWith('SELECT User AS u') ? [{ u: 'app', h: '%', ...row }] : [];
      },
    };
  }

  it('MySQL 8.0.12 neither compares nor sets the options it does not have; 9.7 does', async () => {
    const row = { ssl_type: '', account_locked: 'N', password_lifetime: null };
    const old = fakeRights(row);
    const [oldRights] = await readRights(old, parseServerVersion('8.0.12'), [
      { user: 'app', host: '%' },
    ]);
    const oldOptions = [...(oldRights?.values() ?? [])].find((r) => r.kind === 'options');
    expect(oldOptions?.label).toMatch(/PASSWORD HISTORY DEFAULT/);
    expect(oldOptions?.label).not.toMatch(/REQUIRE CURRENT|FAILED_LOGIN_ATTEMPTS/);
    const statements = syncStatements(rights(oldOptions as Right), rights(), clone, 'mysql');
    expect(statements.join('\n')).not.toMatch(/FAILED_LOGIN_ATTEMPTS|REQUIRE CURRENT/);

    const restricted = {
      ...row,
      restrictions: '[{"Database": "payroll", "Privileges": ["INSERT", "DELETE"]}]',
    };
    const now = fakeRights(restricted, ['INSERT']);
    const [nowRights] = await readRights(now, parseServerVersion('9.7.4'), [
      { user: 'app', host: '%' },
    ]);
    expect(nowRights?.has('partial revoke INSERT ON `payroll`.*')).toBe(true);
    // A restriction left behind by REVOKE DELETE ON *.* restricts nothing: not a right.
    expect(nowRights?.has('partial revoke DELETE ON `payroll`.*')).toBe(false);
    expect([...(nowRights?.keys() ?? [])].join('\n')).toMatch(
      /PASSWORD REQUIRE CURRENT DEFAULT FAILED_LOGIN_ATTEMPTS 0/,
    );
    // Three statements whatever the version: privilege views, mysql tables, options.
    expect(old.issued).toHaveLength(3);
    expect(now.issued).toHaveLength(3);
  });

  it('refuses MySQL 5.7 in applyAlternatingUsers after asking only its version', async () => {
    const issued: string[] = [];
    const connection = {
      on: () => undefined,
      end: async () => undefined,
      destroy: () => undefined,
      query: async ({ sql }: { sql: string }) => {
        issued.push(sql);
        return [sql.startsWith('SELECT VERSION()') ? [{ version: '5.7.44-log' }] : []];
      },
    };
    const spy = jest
      .spyOn(mysql2, 'createConnection')
      .mockResolvedValue(connection as unknown as mysql2.Connection);
    try {
      const settings: ConnectionSettings = {
        host: 'db.example',
        port: 3306,
        username: 'rotator',
        password: 'Master-password-1',
        database: undefined,
        tls: 'disable',
        connectTimeoutMs: 1000,
        statementTimeoutMs: 1000,
        flavor: 'mysql',
        parameters: {},
      };
      const session = await mysql.connect(settings);
      await expect(
        session.applyAlternatingUsers({
          baseUsername: 'app',
          cloneUsername: 'app_clone',
          target: 'app_clone',
          password: 'New-password-1',
          database: undefined,
        }),
      ).rejects.toMatchObject({
        name: 'UnsupportedServerError',
        message: expect.stringMatching(/MySQL 8\.0 or later.*MySQL 5\.7\.44.*Nothing was changed/),
      });
      expect(issued.map((sql) => sql.split(' ', 2).join(' '))).toEqual([
        'SET SESSION',
        'SELECT VERSION()',
      ]);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('MariaDB authentication chains', () => {
  const acct = "'app'@'%'";
  it('reads auth_or, where {} stands for the top-level plugin', () => {
    expect(
      authChain({
        plugin: 'mysql_native_password',
        authentication_string: '*HASH',
        auth_or: [{}, { plugin: 'unix_socket' }],
      }),
    ).toEqual([
      { plugin: 'mysql_native_password', authString: '*HASH' },
      { plugin: 'unix_socket', authString: '' },
    ]);
    expect(authChain('{"plugin": "ed25519", "authentication_string": "k"}')).toEqual([
      { plugin: 'ed25519', authString: 'k' },
    ]);
  });

  it('sets the password on every password plugin in its own form and keeps the others', () => {
    expect(
      mariadbPasswordStatement(
        acct,
        [
          { plugin: 'mysql_native_password', authString: '*OLD' },
          { plugin: 'unix_socket', authString: '' },
        ],
        "p'w",
      ),
    ).toBe(
      "ALTER USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('p\\'w') OR unix_socket",
    );
    expect(mariadbPasswordStatement(acct, [{ plugin: 'ed25519', authString: 'k' }], 'pw')).toBe(
      "ALTER USER 'app'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('pw')",
    );
    expect(
      mariadbPasswordStatement(
        acct,
        [
          { plugin: 'parsec', authString: 'salted' },
          { plugin: 'pam', authString: "svc'x" },
        ],
        'pw',
      ),
    ).toBe(
      "ALTER USER 'app'@'%' IDENTIFIED VIA parsec USING PASSWORD('pw') OR pam USING 'svc\\'x'",
    );
  });

  it("creates the clone with the base's password plugin", () => {
    const info = parseServerVersion('10.11.19-MariaDB');
    expect(createUserStatement(info, "'app_clone'@'%'", 'pw', 'ed25519')).toBe(
      "CREATE USER 'app_clone'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('pw')",
    );
    expect(createUserStatement(info, "'app_clone'@'%'", 'pw', undefined)).toBe(
      "CREATE USER 'app_clone'@'%' IDENTIFIED BY 'pw'",
    );
  });
});

describe('PROXY grants and partial revokes', () => {
  it('grants and revokes PROXY, with its GRANT OPTION', () => {
    expect(syncStatements(rights(...proxy("'px'@'%'", true)), rights(), clone, 'mysql')).toEqual([
      `GRANT PROXY ON 'px'@'%' TO ${clone} WITH GRANT OPTION`,
    ]);
    expect(
      syncStatements(
        rights(...proxy("'px'@'%'")),
        rights(...proxy("'px'@'%'", true)),
        clone,
        'mysql',
      ),
    ).toEqual([`REVOKE PROXY ON 'px'@'%' FROM ${clone}`, `GRANT PROXY ON 'px'@'%' TO ${clone}`]);
    expect(syncStatements(rights(), rights(...proxy("'py'@'%'")), clone, 'mariadb')).toEqual([
      `REVOKE PROXY ON 'py'@'%' FROM ${clone}`,
    ]);
  });

  it('copies a partial revoke after the global grant, and lifts one the base lacks', () => {
    expect(
      syncStatements(rights(priv('INSERT'), payrollInsert as Right), rights(), clone, 'mysql'),
    ).toEqual([`GRANT INSERT ON *.* TO ${clone}`, `REVOKE INSERT ON \`payroll\`.* FROM ${clone}`]);
    expect(
      syncStatements(
        rights(priv('INSERT')),
        rights(priv('INSERT'), payrollInsert as Right),
        clone,
        'mysql',
      ),
    ).toEqual([`GRANT INSERT ON \`payroll\`.* TO ${clone}`]);
    // Without the global privilege on the base, revoking it lifts the restriction with it.
    expect(
      syncStatements(rights(), rights(priv('INSERT'), payrollInsert as Right), clone, 'mysql'),
    ).toEqual([`REVOKE INSERT ON *.* FROM ${clone}`]);
  });

  it("names the master's partial revokes the clone would inherit", () => {
    const master = parseRestrictions(
      '[{"Database": "payroll", "Privileges": ["INSERT", "SELECT"]}]',
    );
    // The clone is about to get INSERT on *.*; the base has it unrestricted.
    expect(inheritedRestrictions(master, rights(priv('INSERT')), rights())).toEqual([
      'INSERT ON `payroll`.*',
    ]);
    // Already held: nothing is granted, nothing inherited.
    expect(inheritedRestrictions(master, rights(priv('INSERT')), rights(priv('INSERT')))).toEqual(
      [],
    );
    // The base has the same restriction: inheriting it is what levelling wants.
    expect(
      inheritedRestrictions(master, rights(priv('INSERT'), payrollInsert as Right), rights()),
    ).toEqual([]);
  });
});

describe("MySQL's dynamic privileges and the global GRANT OPTION", () => {
  const dyn = (privilege: string, grant = false): Right[] => [
    { kind: 'privilege', label: `${privilege} ON *.*`, object: '*.*', privilege, dynamic: true },
    ...(grant
      ? [
          {
            kind: 'dynamic-grant-option',
            label: `${privilege} ON *.* WITH GRANT OPTION`,
            privilege,
          } as Right,
        ]
      : []),
  ];
  const globalOption: Right = { kind: 'grant-option', label: 'GRANT OPTION ON *.*', object: '*.*' };

  it('revokes each dynamic privilege held WITH GRANT OPTION before the global GRANT OPTION, then gives it back as the base holds it', () => {
    const base = rights(priv('DELETE'), ...dyn('XA_RECOVER_ADMIN'), ...dyn('AUDIT_ADMIN', true));
    const have = rights(
      priv('DELETE'),
      globalOption,
      ...dyn('XA_RECOVER_ADMIN', true),
      ...dyn('AUDIT_ADMIN', true),
      ...dyn('BACKUP_ADMIN', true),
    );
    expect(syncStatements(base, have, clone, 'mysql')).toEqual([
      `REVOKE XA_RECOVER_ADMIN ON *.* FROM ${clone}`,
      `REVOKE AUDIT_ADMIN ON *.* FROM ${clone}`,
      `REVOKE BACKUP_ADMIN ON *.* FROM ${clone}`,
      `REVOKE GRANT OPTION ON *.* FROM ${clone}`,
      `GRANT XA_RECOVER_ADMIN ON *.* TO ${clone}`,
      `GRANT AUDIT_ADMIN ON *.* TO ${clone} WITH GRANT OPTION`,
    ]);
  });

  it('a dynamic grant option alone is narrowed by revoking and granting again, as before', () => {
    expect(
      syncStatements(
        rights(...dyn('XA_RECOVER_ADMIN')),
        rights(...dyn('XA_RECOVER_ADMIN', true)),
        clone,
        'mysql',
      ),
    ).toEqual([
      `REVOKE XA_RECOVER_ADMIN ON *.* FROM ${clone}`,
      `GRANT XA_RECOVER_ADMIN ON *.* TO ${clone}`,
    ]);
  });

  it('staleDynamic: each privilege where the running server and mysql.global_grants part', () => {
    const table = new Map([
      ['XA_RECOVER_ADMIN', false],
      ['AUDIT_ADMIN', true],
      ['BACKUP_ADMIN', true],
    ]);
    const running = new Map([
      ['XA_RECOVER_ADMIN', true],
      ['AUDIT_ADMIN', true],
      ['SYSTEM_USER', false],
    ]);
    expect(staleDynamic(table, running).map((r) => r.label)).toEqual([
      'XA_RECOVER_ADMIN ON *.*: the running server applies it WITH GRANT OPTION, mysql.global_grants holds it (FLUSH PRIVILEGES makes the server apply the table)',
      'BACKUP_ADMIN ON *.*: the running server applies nothing, mysql.global_grants holds it WITH GRANT OPTION (FLUSH PRIVILEGES makes the server apply the table)',
      'SYSTEM_USER ON *.*: the running server applies it, mysql.global_grants holds nothing (FLUSH PRIVILEGES makes the server apply the table)',
    ]);
    // No statement copies a stale right.
    expect(
      syncStatements(rights(...staleDynamic(table, running)), rights(), clone, 'mysql'),
    ).toEqual([]);
  });
});
