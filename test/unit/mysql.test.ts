import {
  accountName,
  hasRoles,
  maxUsernameLength,
  ownPasswordStatement,
  parseServerVersion,
  passwordStatement,
  requireClause,
  supportsAlterUser,
} from '../../shared/engines/mysql';
import { grantSyncStatements, parseGrants } from '../../shared/engines/mysql-grants';

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
    ['8.0.36', true, 32, true],
    ['8.4.3', true, 32, true],
    ['5.7.44', true, 32, false],
    ['5.7.5', false, 16, false],
    ['5.6.51', false, 16, false],
    ['10.11.19-MariaDB', true, 80, true],
    ['10.1.48-MariaDB', false, 80, true],
  ])('%s: ALTER USER %s, %s-character names, roles %s', (version, alter, limit, roles) => {
    const info = parseServerVersion(version);
    expect(supportsAlterUser(info)).toBe(alter);
    expect(maxUsernameLength(info)).toBe(limit);
    expect(hasRoles(info)).toBe(roles);
  });

  it('changes its own password with ALTER USER where supported, PASSWORD() only on old servers', () => {
    expect(ownPasswordStatement(parseServerVersion('8.0.36'), "p'w")).toBe(
      "ALTER USER CURRENT_USER() IDENTIFIED BY 'p\\'w'",
    );
    // MySQL 8 removed PASSWORD(); AWS's template would pick it for a 9.x server.
    expect(ownPasswordStatement(parseServerVersion('9.1.0'), 'pw')).toMatch(/^ALTER USER/);
    expect(ownPasswordStatement(parseServerVersion('5.6.51'), 'pw')).toBe(
      "SET PASSWORD = PASSWORD('pw')",
    );
    expect(ownPasswordStatement(parseServerVersion('10.1.48-MariaDB'), 'pw')).toBe(
      "SET PASSWORD = PASSWORD('pw')",
    );
    // MariaDB's ALTER USER needs CREATE USER even for one's own account.
    expect(ownPasswordStatement(parseServerVersion('10.11.19-MariaDB'), 'pw')).toBe(
      "SET PASSWORD = PASSWORD('pw')",
    );
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
    const statement = ownPasswordStatement(parseServerVersion('8.0.36'), `a'b"c\\d\`e\u0000f`);
    expect(statement).toBe("ALTER USER CURRENT_USER() IDENTIFIED BY 'a\\'b\\\"c\\\\d`e\\0f'");
  });
});

describe('REQUIRE options', () => {
  const row = { plugin: '', sslType: '', sslCipher: '', x509Issuer: '', x509Subject: '' };
  it.each([
    [{}, 'NONE'],
    [{ sslType: 'ANY' }, 'SSL'],
    [{ sslType: 'X509' }, 'X509'],
    [
      { sslType: 'SPECIFIED', x509Issuer: "/CN=o'ca", sslCipher: 'ECDHE' },
      "ISSUER '/CN=o\\'ca' AND CIPHER 'ECDHE'",
    ],
  ])('%j → REQUIRE %s', (fields, clause) => {
    expect(requireClause({ ...row, ...fields })).toBe(clause);
  });
});

describe('SHOW GRANTS parsing and sync', () => {
  const clone = "'app_clone'@'%'";

  it('keeps WITH GRANT OPTION, column grants and roles (MySQL 8)', () => {
    const base = parseGrants([
      'GRANT USAGE ON *.* TO `app`@`%`',
      'GRANT SELECT, INSERT ON `shop`.* TO `app`@`%` WITH GRANT OPTION',
      'GRANT SELECT (`id`, `name`), UPDATE (`name`) ON `shop`.`customers` TO `app`@`%`',
      'GRANT EXECUTE ON PROCEDURE `shop`.`refund` TO `app`@`%`',
      'GRANT `reader`@`%`,`writer`@`%` TO `app`@`%` WITH ADMIN OPTION',
    ]);
    expect(base.unparsed).toEqual([]);
    const target = parseGrants(['GRANT USAGE ON *.* TO `app_clone`@`%`']);
    expect(grantSyncStatements(base, target, clone)).toEqual([
      `GRANT SELECT, INSERT ON \`shop\`.* TO ${clone} WITH GRANT OPTION`,
      `GRANT SELECT (\`id\`), SELECT (\`name\`), UPDATE (\`name\`) ON \`shop\`.\`customers\` TO ${clone}`,
      `GRANT EXECUTE ON PROCEDURE \`shop\`.\`refund\` TO ${clone}`,
      `GRANT \`reader\`@\`%\` TO ${clone} WITH ADMIN OPTION`,
      `GRANT \`writer\`@\`%\` TO ${clone} WITH ADMIN OPTION`,
    ]);
  });

  it('adds what is missing before it revokes what is extra, including GRANT OPTION and roles', () => {
    const base = parseGrants([
      "GRANT USAGE ON *.* TO 'app'@'%'",
      'GRANT SELECT, UPDATE ON `db`.* TO `app`@`%`',
    ]);
    const target = parseGrants([
      "GRANT USAGE ON *.* TO 'app_clone'@'%'",
      'GRANT SELECT, DELETE ON `db`.* TO `app_clone`@`%` WITH GRANT OPTION',
      'GRANT ALL PRIVILEGES ON `other`.* TO `app_clone`@`%`',
      'GRANT `admin_role` TO `app_clone`@`%`',
    ]);
    expect(grantSyncStatements(base, target, clone)).toEqual([
      `GRANT UPDATE ON \`db\`.* TO ${clone}`,
      `REVOKE DELETE ON \`db\`.* FROM ${clone}`,
      `REVOKE GRANT OPTION ON \`db\`.* FROM ${clone}`,
      `REVOKE ALL PRIVILEGES ON \`other\`.* FROM ${clone}`,
      `REVOKE \`admin_role\` FROM ${clone}`,
    ]);
  });

  it('ignores password hashes and REQUIRE in MariaDB lines, and needs nothing when equal', () => {
    const base = parseGrants([
      "GRANT USAGE ON *.* TO `app`@`localhost` IDENTIFIED BY PASSWORD '*A4B6157319038724E3560894F7F932C8886EBFCF' REQUIRE SSL",
      'GRANT SELECT ON `db`.`t` TO `app`@`localhost` WITH GRANT OPTION',
      'GRANT `role with space` TO `app`@`localhost`',
    ]);
    const same = parseGrants([
      "GRANT USAGE ON *.* TO `app_clone`@`localhost` IDENTIFIED BY PASSWORD '*0000000000000000000000000000000000000000'",
      'GRANT SELECT ON `db`.`t` TO `app_clone`@`localhost` WITH GRANT OPTION',
      'GRANT `role with space` TO `app_clone`@`localhost`',
    ]);
    expect(grantSyncStatements(base, same, "'app_clone'@'localhost'")).toEqual([]);
    expect(base.privileges.get('*.*')).toEqual(new Set());
  });

  it('is not fooled by quoted names that contain TO, ON or commas', () => {
    const base = parseGrants(['GRANT SELECT ON `a TO b`.`c, ON d` TO `we``ird`@`%`']);
    expect([...base.privileges.keys()]).toEqual(['`a TO b`.`c, ON d`']);
    expect(grantSyncStatements(base, parseGrants([]), clone)).toEqual([
      `GRANT SELECT ON \`a TO b\`.\`c, ON d\` TO ${clone}`,
    ]);
  });

  it('reports lines it does not understand', () => {
    expect(
      parseGrants([
        'SET DEFAULT ROLE `r` FOR `app`@`%`',
        'GRANT nonsense',
        'REVOKE INSERT ON `mysql`.* FROM `app`@`%`',
      ]).unparsed,
    ).toEqual(['GRANT nonsense', 'REVOKE INSERT ON `mysql`.* FROM `app`@`%`']);
  });
});
