import fc from 'fast-check';
import {
  accountOptions,
  type OwnGrantsText,
  ownRightsLines,
  readOwnRights,
  unquote,
  type ViewPrivilege,
} from '../../shared/engines/mysql/own-rights';

// Pair mode's parity check on MySQL and MariaDB (mysql/own-rights.ts): the texts below are what
// MySQL 9.7 and MariaDB 10.11/11.8 printed to a user about itself (test/integration/own-rights-mysql
// checks the same against the servers).

const MYSQL_ESCAPES: Record<string, string> = {
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '\x1a': '\\Z',
};

const MYSQL_HASH = String.raw`'$A$005$#@S/RZB&2\\dUHW9o\'CLdS\"Xch1Wzxro REQUIRE X509 j60iLn.sNTY4'`;

function mysqlUser(name: string, hash = '<secret>'): OwnGrantsText {
  return {
    flavor: 'mysql',
    self: name,
    partner: name === 'app' ? 'app_b' : 'app',
    grants: [
      `GRANT SELECT, INSERT, PROCESS ON *.* TO \`${name}\`@\`%\``,
      `GRANT SESSION_VARIABLES_ADMIN ON *.* TO \`${name}\`@\`%\` WITH GRANT OPTION`,
      `GRANT XA_RECOVER_ADMIN ON *.* TO \`${name}\`@\`%\``,
      `GRANT ALL PRIVILEGES ON \`shop\`.* TO \`${name}\`@\`%\` WITH GRANT OPTION`,
      `GRANT SELECT, UPDATE (\`a\`, \`b\`) ON \`shop\`.\`t\` TO \`${name}\`@\`%\``,
      `GRANT EXECUTE, ALTER ROUTINE ON PROCEDURE \`shop\`.\`p1\` TO \`${name}\`@\`%\` WITH GRANT OPTION`,
      `GRANT PROXY ON \`${name === 'app' ? 'app_b' : 'app'}\`@\`%\` TO \`${name}\`@\`%\``,
      `GRANT PROXY ON \`other\`@\`%\` TO \`${name}\`@\`%\` WITH GRANT OPTION`,
      `GRANT \`r2\`@\`%\`,\`r3\`@\`%\` TO \`${name}\`@\`%\``,
      `GRANT \`r1\`@\`%\` TO \`${name}\`@\`%\` WITH ADMIN OPTION`,
      `REVOKE INSERT, UPDATE ON \`payroll\`.* FROM \`${name}\`@\`%\``,
    ],
    createUser: [
      `CREATE USER \`${name}\`@\`%\` IDENTIFIED WITH 'caching_sha2_password' AS ${hash} DEFAULT ROLE \`r3\`@\`%\`,\`r2\`@\`%\` REQUIRE SSL WITH MAX_USER_CONNECTIONS 5 PASSWORD EXPIRE INTERVAL 90 DAY ACCOUNT UNLOCK PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME UNBOUNDED ATTRIBUTE '{"comment": "${name} REQUIRE X509"}'`,
    ],
    privileges: [
      { level: 'global', db: '', table: '', privilege: 'SELECT' },
      { level: 'global', db: '', table: '', privilege: 'INSERT' },
      { level: 'global', db: '', table: '', privilege: 'PROCESS' },
      { level: 'global', db: '', table: '', privilege: 'SESSION_VARIABLES_ADMIN' },
      { level: 'global', db: '', table: '', privilege: 'XA_RECOVER_ADMIN' },
      ...['SELECT', 'INSERT', 'DROP'].map(
        (privilege): ViewPrivilege => ({ level: 'database', db: 'shop', table: '', privilege }),
      ),
      { level: 'table', db: 'shop', table: 't', privilege: 'SELECT' },
    ],
  };
}

const MYSQL_LINES = [
  'ALTER ROUTINE ON PROCEDURE `shop`.`p1`',
  'DROP ON `shop`.*',
  'EXECUTE ON PROCEDURE `shop`.`p1`',
  'GRANT OPTION ON PROCEDURE `shop`.`p1`',
  'GRANT OPTION ON `shop`.*',
  'INSERT ON *.*',
  'INSERT ON `shop`.*',
  'PROCESS ON *.*',
  'PROXY ON <partner>',
  'PROXY ON `other`@`%`',
  'PROXY ON `other`@`%` WITH GRANT OPTION',
  'SELECT ON *.*',
  'SELECT ON `shop`.*',
  'SELECT ON `shop`.`t`',
  'SESSION_VARIABLES_ADMIN ON *.*',
  'SESSION_VARIABLES_ADMIN ON *.* WITH GRANT OPTION',
  'UPDATE (`a`) ON `shop`.`t`',
  'UPDATE (`b`) ON `shop`.`t`',
  'XA_RECOVER_ADMIN ON *.*',
  'account option ACCOUNT UNLOCK',
  'account option FAILED_LOGIN_ATTEMPTS 3',
  'account option MAX_CONNECTIONS_PER_HOUR 0',
  'account option MAX_QUERIES_PER_HOUR 0',
  'account option MAX_UPDATES_PER_HOUR 0',
  'account option MAX_USER_CONNECTIONS 5',
  'account option PASSWORD EXPIRE INTERVAL 90 DAY',
  'account option PASSWORD HISTORY DEFAULT',
  'account option PASSWORD REQUIRE CURRENT DEFAULT',
  'account option PASSWORD REUSE INTERVAL DEFAULT',
  'account option PASSWORD_LOCK_TIME UNBOUNDED',
  'account option REQUIRE SSL',
  'default roles `r2`@`%`, `r3`@`%`',
  'partial revoke INSERT ON `payroll`.*',
  'partial revoke UPDATE ON `payroll`.*',
  'role `r1`@`%`',
  'role `r1`@`%` WITH ADMIN OPTION',
  'role `r2`@`%`',
  'role `r3`@`%`',
];

describe('own rights on MySQL', () => {
  it('is one line per right, sorted, with ALL PRIVILEGES spelled out from information_schema', () => {
    expect(ownRightsLines(mysqlUser('app'))).toEqual(MYSQL_LINES);
  });

  it('gives the same lines to the two users of a pair, each PROXY on the other included', () => {
    expect(ownRightsLines(mysqlUser('app_b'))).toEqual(ownRightsLines(mysqlUser('app')));
  });

  it('never shows the password hash, which MySQL prints to a user who may read mysql.user', () => {
    const lines = ownRightsLines(mysqlUser('app', MYSQL_HASH));
    expect(lines).toEqual(MYSQL_LINES);
    expect(lines.join('\n')).not.toMatch(/A\$005|caching_sha2|comment|X509/);
  });

  it('keeps the order of the server out of it: shuffled grant lines give the same list', () => {
    const user = mysqlUser('app');
    const shuffled = { ...user, grants: [...user.grants].reverse() };
    expect(ownRightsLines(shuffled)).toEqual(ownRightsLines(user));
  });

  it('tells the GRANT OPTION of static privileges (per level) from that of a dynamic one', () => {
    const base = mysqlUser('app');
    const staticOption = {
      ...base,
      grants: [
        'GRANT PROCESS ON *.* TO `app`@`%` WITH GRANT OPTION',
        'GRANT XA_RECOVER_ADMIN ON *.* TO `app`@`%`',
      ],
    };
    const dynamicOption = {
      ...base,
      grants: [
        'GRANT PROCESS ON *.* TO `app`@`%`',
        'GRANT XA_RECOVER_ADMIN ON *.* TO `app`@`%` WITH GRANT OPTION',
      ],
    };
    const a = ownRightsLines(staticOption);
    const b = ownRightsLines(dynamicOption);
    expect(a).toContain('GRANT OPTION ON *.*');
    expect(a).not.toContain('XA_RECOVER_ADMIN ON *.* WITH GRANT OPTION');
    expect(b).toContain('XA_RECOVER_ADMIN ON *.* WITH GRANT OPTION');
    expect(b).not.toContain('GRANT OPTION ON *.*');
  });

  it('keeps a GRANT OPTION held on a level without privileges (GRANT USAGE … WITH GRANT OPTION)', () => {
    const lines = ownRightsLines({
      ...mysqlUser('app'),
      grants: [
        'GRANT USAGE ON *.* TO `app`@`%`',
        'GRANT USAGE ON `shop`.`t` TO `app`@`%` WITH GRANT OPTION',
      ],
    });
    expect(lines.filter((l) => !l.startsWith('account option'))).toEqual([
      'GRANT OPTION ON `shop`.`t`',
      'default roles `r2`@`%`, `r3`@`%`',
    ]);
  });

  it('keeps ALL PRIVILEGES as such where information_schema does not list the level', () => {
    const lines = ownRightsLines({
      ...mysqlUser('app'),
      grants: ['GRANT ALL PRIVILEGES ON `other`.* TO `app`@`%`'],
    });
    expect(lines).toContain('ALL PRIVILEGES ON `other`.*');
  });

  it('names a role that is the other user, or the user itself, neutrally', () => {
    const lines = ownRightsLines({
      ...mysqlUser('app'),
      grants: ['GRANT `app_b`@`localhost`,`app`@`%` TO `app`@`%` WITH ADMIN OPTION'],
      createUser: [
        'CREATE USER `app`@`%` IDENTIFIED WITH x AS <secret> DEFAULT ROLE `app_b`@`localhost`',
      ],
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        'role <partner>',
        'role <partner> WITH ADMIN OPTION',
        'role <self>',
        'default roles <partner>',
      ]),
    );
  });

  it('skips every form of authentication clause, whatever its hash holds', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (hash) => {
        // How MySQL quotes the hash (escape_string_for_mysql).
        const quoted = `'${[...hash].map((c) => MYSQL_ESCAPES[c] ?? c).join('')}'`;
        const row = (auth: string) =>
          `CREATE USER \`app\`@\`%\` IDENTIFIED WITH 'caching_sha2_password' AS ${auth} AND IDENTIFIED WITH 'authentication_fido' REQUIRE NONE PASSWORD EXPIRE NEVER ACCOUNT LOCK`;
        const shown = accountOptions('mysql', [row(quoted)]);
        // The same lines as when the server hides the hash: nothing of it reaches a line.
        expect(shown).toEqual(accountOptions('mysql', [row('<secret>')]));
        expect(shown.lines).toContain('account option PASSWORD EXPIRE NEVER');
        expect(shown.lines).toContain('account option ACCOUNT LOCK');
      }),
    );
  });

  it('reads hexadecimal hashes (print_identified_with_as_hex) and an account without a password', () => {
    for (const auth of ['AS 0x2441243030', '']) {
      expect(
        accountOptions('mysql', [
          `CREATE USER \`app\`@\`%\` IDENTIFIED WITH 'caching_sha2_password' ${auth} REQUIRE X509 PASSWORD EXPIRE DEFAULT`,
        ]).lines,
      ).toContain('account option REQUIRE X509');
    }
  });

  it('reads each part of REQUIRE apart, whichever order and quoting the server uses', () => {
    const mysql = accountOptions('mysql', [
      "CREATE USER `app`@`%` IDENTIFIED WITH 'x' AS <secret> REQUIRE SUBJECT '/CN=a b' AND ISSUER '/CN=it\\'s' AND CIPHER 'AES256-SHA' PASSWORD EXPIRE DEFAULT",
    ]).lines;
    const mariadb = accountOptions('mariadb', [
      "CREATE USER `app`@`%` IDENTIFIED VIA mysql_native_password USING '*12' OR unix_socket REQUIRE ISSUER '/CN=it''s' SUBJECT '/CN=a b' CIPHER 'AES256-SHA'",
    ]).lines;
    const requires = (lines: string[]) =>
      lines.filter((l) => l.startsWith('account option REQUIRE')).sort();
    expect(requires(mysql)).toEqual([
      "account option REQUIRE CIPHER 'AES256-SHA'",
      "account option REQUIRE ISSUER '/CN=it\\'s'",
      "account option REQUIRE SUBJECT '/CN=a b'",
    ]);
    expect(requires(mariadb)).toEqual(requires(mysql));
  });

  it('reads PASSWORD REQUIRE CURRENT, reuse and history values', () => {
    const lines = accountOptions('mysql', [
      'CREATE USER `app`@`%` IDENTIFIED WITH x AS <secret> REQUIRE NONE PASSWORD EXPIRE ACCOUNT UNLOCK PASSWORD HISTORY 5 PASSWORD REUSE INTERVAL 10 DAY PASSWORD REQUIRE CURRENT',
    ]).lines;
    expect(lines).toEqual(
      expect.arrayContaining([
        'account option PASSWORD HISTORY 5',
        'account option PASSWORD REUSE INTERVAL 10 DAY',
        'account option PASSWORD REQUIRE CURRENT',
        // An expired password is not a right: the lifetime stays at its default.
        'account option PASSWORD EXPIRE DEFAULT',
      ]),
    );
    expect(lines.some((l) => l.includes('not understood'))).toBe(false);
  });
});

describe('own rights on MariaDB', () => {
  const mariadbUser = (name: string, hash: string): OwnGrantsText => ({
    flavor: 'mariadb',
    self: name,
    partner: 'nobody',
    grants: [
      `GRANT \`r2\` TO \`${name}\`@\`%\``,
      `GRANT \`r1\` TO \`${name}\`@\`%\` WITH ADMIN OPTION`,
      `GRANT PROCESS ON *.* TO \`${name}\`@\`%\` IDENTIFIED BY PASSWORD '${hash}' REQUIRE SSL WITH GRANT OPTION MAX_USER_CONNECTIONS 5`,
      `GRANT SELECT, INSERT ON \`d1\`.* TO \`${name}\`@\`%\``,
      `GRANT EXECUTE ON PROCEDURE \`d1\`.\`p1\` TO \`${name}\`@\`%\``,
      `SET DEFAULT ROLE \`r2\` FOR \`${name}\`@\`%\``,
    ],
    createUser: [
      `CREATE USER \`${name}\`@\`%\` IDENTIFIED BY PASSWORD '${hash}' REQUIRE SSL WITH MAX_USER_CONNECTIONS 5 MAX_STATEMENT_TIME 1.500000 ACCOUNT LOCK PASSWORD EXPIRE`,
      `ALTER USER \`${name}\`@\`%\` PASSWORD EXPIRE NEVER`,
    ],
    privileges: [],
  });

  it('reads the default role from SET DEFAULT ROLE, the options from both rows, and never the hash', () => {
    const lines = ownRightsLines(mariadbUser('app', '*52429F36BA4197497A2834EA99FA007E736DE022'));
    expect(lines).toEqual([
      'EXECUTE ON PROCEDURE `d1`.`p1`',
      'GRANT OPTION ON *.*',
      'INSERT ON `d1`.*',
      'PROCESS ON *.*',
      'SELECT ON `d1`.*',
      'account option ACCOUNT LOCK',
      'account option MAX_CONNECTIONS_PER_HOUR 0',
      'account option MAX_QUERIES_PER_HOUR 0',
      'account option MAX_STATEMENT_TIME 1.5',
      'account option MAX_UPDATES_PER_HOUR 0',
      'account option MAX_USER_CONNECTIONS 5',
      'account option PASSWORD EXPIRE NEVER',
      'account option REQUIRE SSL',
      'default roles `r2`',
      'role `r1`',
      'role `r1` WITH ADMIN OPTION',
      'role `r2`',
    ]);
    expect(lines).toEqual(
      ownRightsLines(mariadbUser('app_b', '*00000000000000000000000000000000000000')),
    );
  });
});

describe('what is not understood', () => {
  it('is kept as a line, with neither user named and every string literal blanked', () => {
    const lines = ownRightsLines({
      ...mysqlUser('app'),
      grants: ["GRANT FROBNICATE TO `app`@`%` IDENTIFIED BY 'sekrit'", 'FLUMMOX `app`@`%`'],
      createUser: ["CREATE USER `app`@`%` IDENTIFIED BY PASSWORD 'hash1' FROB 'sekrit' MAX_DWIM"],
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        'SHOW GRANTS line not understood: FLUMMOX <self>',
        "account option not understood: '…'",
        'account option not understood: FROB',
        'account option not understood: MAX_DWIM',
      ]),
    );
    expect(lines.join('\n')).not.toMatch(/sekrit|hash1/);
  });
});

describe('unquote', () => {
  it.each([
    ['`a``b`', 'a`b'],
    ["'it''s'", "it's"],
    ["'it\\'s \\\\ \"\"'", 'it\'s \\ ""'],
    ['"say ""hi"""', 'say "hi"'],
    ['plain', 'plain'],
  ])('%s → %s', (token, value) => {
    expect(unquote(token)).toBe(value);
  });
});

describe('readOwnRights', () => {
  it('names the account as CURRENT_USER() gives it, never FOR CURRENT_USER(), and filters information_schema to it', async () => {
    const statements: string[] = [];
    const rights = await readOwnRights(
      async (sql) => {
        statements.push(sql);
        if (sql.startsWith('SELECT CURRENT_USER()')) return [{ account: "o'brien@x@10.0.%" }];
        if (sql.startsWith('SHOW GRANTS'))
          return [{ g: "GRANT USAGE ON *.* TO `o'brien@x`@`10.0.%`" }];
        if (sql.startsWith('SHOW CREATE USER'))
          return [
            { c: "CREATE USER `o'brien@x`@`10.0.%` IDENTIFIED WITH 'p' AS <secret> REQUIRE NONE" },
          ];
        return [];
      },
      'mysql',
      'partner',
    );
    expect(statements[1]).toBe("SHOW GRANTS FOR 'o\\'brien@x'@'10.0.%'");
    expect(statements[2]).toBe("SHOW CREATE USER 'o\\'brien@x'@'10.0.%'");
    expect(statements[3]).toContain("= '\\'o\\'brien@x\\'@\\'10.0.%\\''");
    expect(rights.rights).toContain('default roles NONE');
    expect(rights.unseen.length).toBeGreaterThan(0);
  });
});
