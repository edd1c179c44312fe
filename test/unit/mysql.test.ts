import { accountName, ownPasswordStatement, passwordStatement } from '../../shared/engines/mysql';
import { parseGrants } from '../../shared/engines/mysql/grants';
import {
  type AccountRights,
  type Right,
  requireClause,
  rightsDifferences,
  syncStatements,
} from '../../shared/engines/mysql/rights';
import {
  maxUsernameLength,
  parseServerVersion,
  supportsAlterUser,
  supportsDualPasswords,
  supportsReplace,
} from '../../shared/engines/mysql/server';

describe('server flavour and version', () => {
  it.each([
    ['8.0.36', { flavor: 'mysql', major: 8, minor: 0, patch: 36 }],
    ['8.4.3', { flavor: 'mysql', major: 8, minor: 4, patch: 3 }],
    ['5.7.44-log', { flavor: 'mysql', major: 5, minor: 7, patch: 44 }],
    ['8.0.mysql_aurora.3.05.2', { flavor: 'mysql', major: 8, minor: 0, patch: 0 }],
    ['5.6.51', { flavor: 'mysql', major: 5, minor: 6, patch: 51 }],
    ['10.11.19-MariaDB-0+deb12u1', { flavor: 'mariadb', major: 10, minor: 11, patch: 19 }],
    ['5.5.5-10.6.14-MariaDB-log', { flavor: 'mariadb', major: 10, minor: 6, patch: 14 }],
    ['10.1.48-MariaDB', { flavor: 'mariadb', major: 10, minor: 1, patch: 48 }],
    ['11.4.2-MariaDB', { flavor: 'mariadb', major: 11, minor: 4, patch: 2 }],
  ])('reads %s', (version, info) => {
    expect(parseServerVersion(version)).toEqual(info);
  });

  it.each([
    ['8.0.36', true, 32],
    ['8.4.3', true, 32],
    ['5.7.44', true, 32],
    ['5.7.5', false, 16],
    ['5.6.51', false, 16],
    ['10.11.19-MariaDB', true, 80],
    ['10.1.48-MariaDB', false, 80],
  ])('%s: ALTER USER %s, %s-character names', (version, alter, limit) => {
    const info = parseServerVersion(version);
    expect(supportsAlterUser(info)).toBe(alter);
    expect(maxUsernameLength(info)).toBe(limit);
  });

  it('changes its own password with ALTER USER where supported, PASSWORD() only on old servers', () => {
    const change = (newPassword: string, retainCurrent = false) => ({
      newPassword,
      currentPassword: 'old',
      retainCurrent,
    });
    expect(ownPasswordStatement(parseServerVersion('8.0.12'), change("p'w"))).toBe(
      "ALTER USER CURRENT_USER() IDENTIFIED BY 'p\\'w'",
    );
    // From 8.0.13 the password it replaces is named, so PASSWORD REQUIRE CURRENT accounts work
    // and the change happens only while the old password is still the account's.
    expect(ownPasswordStatement(parseServerVersion('8.0.36'), change("p'w"))).toBe(
      "ALTER USER CURRENT_USER() IDENTIFIED BY 'p\\'w' REPLACE 'old'",
    );
    expect(ownPasswordStatement(parseServerVersion('9.7.4'), change('pw', true))).toBe(
      "ALTER USER CURRENT_USER() IDENTIFIED BY 'pw' REPLACE 'old' RETAIN CURRENT PASSWORD",
    );
    // MySQL 8 removed PASSWORD(); AWS's template would pick it for a 9.x server.
    expect(ownPasswordStatement(parseServerVersion('9.1.0'), change('pw'))).toMatch(/^ALTER USER/);
    expect(ownPasswordStatement(parseServerVersion('5.6.51'), change('pw'))).toBe(
      "SET PASSWORD = PASSWORD('pw')",
    );
    expect(ownPasswordStatement(parseServerVersion('10.1.48-MariaDB'), change('pw'))).toBe(
      "SET PASSWORD = PASSWORD('pw')",
    );
    // MariaDB's ALTER USER needs CREATE USER even for one's own account; it has no REPLACE.
    expect(ownPasswordStatement(parseServerVersion('10.11.19-MariaDB'), change('pw'))).toBe(
      "SET PASSWORD = PASSWORD('pw')",
    );
  });

  it.each([
    ['8.0.13', true, false],
    ['8.0.14', true, true],
    ['9.7.4', true, true],
    ['5.7.44', false, false],
    ['11.8.9-MariaDB', false, false],
  ])('%s: REPLACE %s, dual passwords %s', (version, replace, dual) => {
    const info = parseServerVersion(version);
    expect(supportsReplace(info)).toBe(replace);
    expect(supportsDualPasswords(info)).toBe(dual);
  });

  it("keeps the base user's authentication plugin on MySQL, and MariaDB's default", () => {
    const acct = accountName('app_clone', '%');
    expect(
      passwordStatement(parseServerVersion('8.0.36'), acct, 'pw', 'caching_sha2_password'),
    ).toBe("ALTER USER 'app_clone'@'%' IDENTIFIED WITH caching_sha2_password BY 'pw'");
    expect(passwordStatement(parseServerVersion('8.0.36'), acct, 'pw', 'auth_socket')).toBe(
      "ALTER USER 'app_clone'@'%' IDENTIFIED BY 'pw'",
    );
    expect(
      passwordStatement(parseServerVersion('10.11.2-MariaDB'), acct, 'pw', 'mysql_native_password'),
    ).toBe("ALTER USER 'app_clone'@'%' IDENTIFIED BY 'pw'");
    expect(passwordStatement(parseServerVersion('5.6.51'), acct, 'pw')).toBe(
      "SET PASSWORD FOR 'app_clone'@'%' = PASSWORD('pw')",
    );
  });
});

describe('account names and literals with hostile input', () => {
  it.each([
    ["o'brien", '%', "'o\\'brien'@'%'"],
    ['back`tick', 'localhost', "'back`tick'@'localhost'"],
    ['back\\slash', '10.0.%', "'back\\\\slash'@'10.0.%'"],
    ['per%cent_under', '%', "'per%cent_under'@'%'"],
    ['"; DROP USER root; --', '%', "'\\\"; DROP USER root; --'@'%'"],
  ])('quotes %j at %j', (user, host, expected) => {
    expect(accountName(user, host)).toBe(expected);
  });

  it('escapes every quote and backslash in a password', () => {
    const statement = ownPasswordStatement(parseServerVersion('8.0.36'), {
      newPassword: `a'b"c\\d\`e\u0000f`,
      currentPassword: `x'y`,
      retainCurrent: false,
    });
    expect(statement).toBe(
      "ALTER USER CURRENT_USER() IDENTIFIED BY 'a\\'b\\\"c\\\\d`e\\0f' REPLACE 'x\\'y'",
    );
  });
});

/** Rights as readRights builds them, from short descriptions. */
function rights(...items: Right[]): AccountRights {
  return new Map(items.map((r) => [r.label, r]));
}
const priv = (privilege: string, object: string, dynamic = false): Right => ({
  kind: 'privilege',
  label: `${privilege} ON ${object}`,
  object,
  privilege,
  dynamic,
});
const grantOption = (object: string): Right => ({
  kind: 'grant-option',
  label: `GRANT OPTION ON ${object}`,
  object,
});
const dynamicGrantOption = (privilege: string): Right => ({
  kind: 'dynamic-grant-option',
  label: `${privilege} ON *.* WITH GRANT OPTION`,
  privilege,
});
const role = (name: string, admin = false): Right[] => [
  { kind: 'role', label: `role ${name}`, role: name },
  ...(admin
    ? [{ kind: 'role-admin', label: `role ${name} WITH ADMIN OPTION`, role: name } as Right]
    : []),
];
const defaults = (...roles: string[]): Right => ({
  kind: 'default-roles',
  label: `default roles ${roles.length > 0 ? roles.join(', ') : 'NONE'}`,
  roles,
});
const options = (text: string): Right => ({
  kind: 'options',
  label: `account options ${text}`,
  options: text,
});
/** Every static privilege a MySQL 9.7 server stores for a database, as information_schema lists them. */
const DB_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EVENT',
  'TRIGGER',
];
const app = '`app`.*';
const clone = "'app_clone'@'%'";
const plain = [defaults(), options('REQUIRE NONE')];

describe('rights: sync to equality (effective rights, not grant text)', () => {
  it('case 1: ALL on app.* narrowed by REVOKE DROP: the clone loses DROP only, and keeps SELECT', () => {
    const base = rights(
      ...DB_PRIVILEGES.filter((p) => p !== 'DROP').map((p) => priv(p, app)),
      ...plain,
    );
    const have = rights(...DB_PRIVILEGES.map((p) => priv(p, app)), ...plain);
    expect(syncStatements(base, have, clone, 'mysql')).toEqual([
      `REVOKE DROP ON ${app} FROM ${clone}`,
    ]);
  });

  it('case 2: SELECT widened to ALL: the clone gets every privilege, and SELECT is never revoked', () => {
    const base = rights(...DB_PRIVILEGES.map((p) => priv(p, app)), ...plain);
    const have = rights(priv('SELECT', app), ...plain);
    const statements = syncStatements(base, have, clone, 'mysql');
    expect(statements).toEqual([
      `GRANT ${DB_PRIVILEGES.filter((p) => p !== 'SELECT').join(', ')} ON ${app} TO ${clone}`,
    ]);
    expect(statements.join()).not.toMatch(/REVOKE/);
  });

  it('case 3: GRANT OPTION stays per level and per dynamic privilege (MySQL prints them on separate lines)', () => {
    const base = rights(
      priv('SELECT', '*.*'),
      grantOption('*.*'),
      priv('SESSION_VARIABLES_ADMIN', '*.*', true),
      ...plain,
    );
    const statements = syncStatements(base, rights(...plain), clone, 'mysql');
    expect(statements).toEqual([
      `GRANT SELECT ON *.* TO ${clone} WITH GRANT OPTION`,
      `GRANT SESSION_VARIABLES_ADMIN ON *.* TO ${clone}`,
    ]);
    // and the other way round: only the dynamic privilege is grantable
    const other = rights(
      priv('SELECT', '*.*'),
      priv('SESSION_VARIABLES_ADMIN', '*.*', true),
      dynamicGrantOption('SESSION_VARIABLES_ADMIN'),
      ...plain,
    );
    expect(syncStatements(other, rights(...plain), clone, 'mysql')).toEqual([
      `GRANT SELECT ON *.* TO ${clone}`,
      `GRANT SESSION_VARIABLES_ADMIN ON *.* TO ${clone} WITH GRANT OPTION`,
    ]);
    // a dynamic grant option too many: revoke and grant again (MySQL has no narrower REVOKE)
    expect(
      syncStatements(
        rights(priv('XA_RECOVER_ADMIN', '*.*', true), ...plain),
        rights(
          priv('XA_RECOVER_ADMIN', '*.*', true),
          dynamicGrantOption('XA_RECOVER_ADMIN'),
          ...plain,
        ),
        clone,
        'mysql',
      ),
    ).toEqual([
      `REVOKE XA_RECOVER_ADMIN ON *.* FROM ${clone}`,
      `GRANT XA_RECOVER_ADMIN ON *.* TO ${clone}`,
    ]);
  });

  it('grants GRANT OPTION on a level where the base holds nothing else, and revokes one too many', () => {
    const table = '`app`.`t`';
    expect(
      syncStatements(rights(grantOption(table), ...plain), rights(...plain), clone, 'mysql'),
    ).toEqual([`GRANT USAGE ON ${table} TO ${clone} WITH GRANT OPTION`]);
    expect(
      syncStatements(
        rights(priv('SELECT', app), ...plain),
        rights(priv('SELECT', app), grantOption(app), ...plain),
        clone,
        'mysql',
      ),
    ).toEqual([`REVOKE GRANT OPTION ON ${app} FROM ${clone}`]);
  });

  it('copies column and routine privileges, grants before revokes', () => {
    const t = '`app`.`t`';
    const p = 'PROCEDURE `app`.`p`';
    const base = rights(priv('SELECT (`a`)', t), priv('EXECUTE', p), ...plain);
    const have = rights(priv('SELECT (`b`)', t), ...plain);
    expect(syncStatements(base, have, clone, 'mysql')).toEqual([
      `GRANT SELECT (\`a\`) ON ${t} TO ${clone}`,
      `GRANT EXECUTE ON ${p} TO ${clone}`,
      `REVOKE SELECT (\`b\`) ON ${t} FROM ${clone}`,
    ]);
  });

  it('case 5: a MariaDB default role with a dot in its name is one quoted name', () => {
    const name = '`role.name`';
    const base = rights(...role(name), defaults(name), options(''));
    expect(syncStatements(base, rights(defaults(), options('')), clone, 'mariadb')).toEqual([
      `GRANT ${name} TO ${clone}`,
      `SET DEFAULT ROLE ${name} FOR ${clone}`,
    ]);
  });

  it('roles with host parts and ADMIN OPTION; default roles set again after a role is revoked', () => {
    const reader = "'reader'@'apps.example'";
    const old = "'old'@'%'";
    const base = rights(...role(reader, true), defaults(reader), ...plain.slice(1));
    const have = rights(...role(old), defaults(old, reader), ...plain.slice(1));
    expect(syncStatements(base, have, clone, 'mysql')).toEqual([
      `GRANT ${reader} TO ${clone} WITH ADMIN OPTION`,
      `REVOKE ${old} FROM ${clone}`,
      `SET DEFAULT ROLE ${reader} TO ${clone}`,
    ]);
  });

  it('case 7: account options (resource limits, ACCOUNT LOCK, password policy) are copied whole', () => {
    // (MySQL 9.7 needs NEVER on the way from an interval to DEFAULT; see readOptions.)
    expect(
      syncStatements(
        rights(defaults(), options('REQUIRE NONE PASSWORD EXPIRE DEFAULT')),
        rights(defaults(), options('REQUIRE NONE PASSWORD EXPIRE INTERVAL 30 DAY')),
        clone,
        'mysql',
      ),
    ).toEqual([
      `ALTER USER ${clone} PASSWORD EXPIRE NEVER`,
      `ALTER USER ${clone} REQUIRE NONE PASSWORD EXPIRE DEFAULT`,
    ]);
    const wanted =
      'REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 10 PASSWORD EXPIRE INTERVAL 30 DAY ACCOUNT LOCK';
    expect(
      syncStatements(
        rights(defaults(), options(wanted)),
        rights(defaults(), options('REQUIRE NONE')),
        clone,
        'mysql',
      ),
    ).toEqual([`ALTER USER ${clone} ${wanted}`]);
  });

  it('needs nothing when equal, and names each difference without a password', () => {
    const base = rights(priv('SELECT', app), ...role("'r'@'%'"), ...plain);
    expect(syncStatements(base, new Map(base), clone, 'mysql')).toEqual([]);
    expect(
      rightsDifferences(base, rights(priv('INSERT', app), ...plain), {
        base: '"app"@"%"',
        clone: '"app_clone"@"%"',
      }),
    ).toEqual([
      '"app_clone"@"%" lacks SELECT ON `app`.* ("app"@"%" has it)',
      `"app_clone"@"%" lacks role 'r'@'%' ("app"@"%" has it)`,
      '"app_clone"@"%" has INSERT ON `app`.* ("app"@"%" does not)',
    ]);
  });
});

describe('REQUIRE options', () => {
  it.each([
    [{}, 'NONE'],
    [{ ssl_type: 'ANY' }, 'SSL'],
    [{ ssl_type: 'X509' }, 'X509'],
    [
      { ssl_type: 'SPECIFIED', x509_issuer: Buffer.from("/CN=o'ca"), ssl_cipher: 'ECDHE' },
      "ISSUER '/CN=o\\'ca' AND CIPHER 'ECDHE'",
    ],
  ])('%j → REQUIRE %s', (row, clause) => {
    expect(requireClause(row)).toBe(clause);
  });
});

describe('SHOW GRANTS parsing (preflight)', () => {
  it('keeps WITH GRANT OPTION, column grants and roles (MySQL 8)', () => {
    const base = parseGrants([
      'GRANT USAGE ON *.* TO `app`@`%`',
      'GRANT SELECT, INSERT ON `shop`.* TO `app`@`%` WITH GRANT OPTION',
      'GRANT SELECT (`id`, `name`), UPDATE (`name`) ON `shop`.`customers` TO `app`@`%`',
      'GRANT `reader`@`%`,`writer`@`%` TO `app`@`%` WITH ADMIN OPTION',
    ]);
    expect(base.unparsed).toEqual([]);
    expect(base.privileges.get('`shop`.`customers`')).toEqual(
      new Set(['SELECT (`id`)', 'SELECT (`name`)', 'UPDATE (`name`)']),
    );
    expect(base.grantOption).toEqual(new Set(['`shop`.*']));
    expect(base.roles).toEqual(
      new Map([
        ['`reader`@`%`', true],
        ['`writer`@`%`', true],
      ]),
    );
  });

  it('is not fooled by quoted names that contain TO, ON or commas', () => {
    const base = parseGrants(['GRANT SELECT ON `a TO b`.`c, ON d` TO `we``ird`@`%`']);
    expect([...base.privileges.keys()]).toEqual(['`a TO b`.`c, ON d`']);
  });

  it('reports lines it does not understand, and keeps partial revokes apart (the rotation copies them)', () => {
    const parsed = parseGrants([
      'SET DEFAULT ROLE `r` FOR `app`@`%`',
      'GRANT nonsense',
      'REVOKE INSERT ON `mysql`.* FROM `app`@`%`',
    ]);
    expect(parsed.unparsed).toEqual(['GRANT nonsense']);
    expect(parsed.partialRevokes).toEqual(['REVOKE INSERT ON `mysql`.* FROM `app`@`%`']);
  });
});
