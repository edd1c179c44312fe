import { loadConfig } from '../../shared/config';

describe('loadConfig', () => {
  it('uses AWS template defaults', () => {
    expect(loadConfig(':/@"\'\\', {})).toEqual({
      secretsManagerEndpoint: undefined,
      password: {
        length: 32,
        excludeCharacters: ':/@"\'\\',
        excludeNumbers: false,
        excludePunctuation: false,
        excludeUppercase: false,
        excludeLowercase: false,
        requireEachIncludedType: true,
      },
      tlsMode: 'verify-full',
      connectTimeoutMs: 5000,
      statementTimeoutMs: 15_000,
      retainCurrentPassword: false,
      usernameCharacterLimit: undefined,
      hostAliases: new Map(),
    });
  });

  it('reads every setting under its AWS name', () => {
    const config = loadConfig('x', {
      SECRETS_MANAGER_ENDPOINT: ' http://127.0.0.1:5000 ',
      PASSWORD_LENGTH: '64',
      EXCLUDE_CHARACTERS: '',
      EXCLUDE_NUMBERS: 'YES',
      EXCLUDE_PUNCTUATION: '1',
      EXCLUDE_UPPERCASE: 'y',
      EXCLUDE_LOWERCASE: 'false',
      REQUIRE_EACH_INCLUDED_TYPE: 'no',
      TLS_MODE: 'Verify-CA',
      DB_CONNECT_TIMEOUT_SECONDS: '12',
      DB_STATEMENT_TIMEOUT_SECONDS: '20',
      RETAIN_CURRENT_PASSWORD: 'yes',
      USERNAME_CHARACTER_LIMIT: '16',
      DATABASE_HOST_ALIASES:
        ' DB.Example.com = prod.abc.us-east-1.rds.amazonaws.com,ro.example.com=ro.abc ',
    });
    expect(config).toEqual({
      secretsManagerEndpoint: 'http://127.0.0.1:5000',
      password: {
        length: 64,
        excludeCharacters: '',
        excludeNumbers: true,
        excludePunctuation: true,
        excludeUppercase: true,
        excludeLowercase: false,
        requireEachIncludedType: false,
      },
      tlsMode: 'verify-ca',
      connectTimeoutMs: 12_000,
      statementTimeoutMs: 20_000,
      retainCurrentPassword: true,
      usernameCharacterLimit: 16,
      hostAliases: new Map([
        ['db.example.com', 'prod.abc.us-east-1.rds.amazonaws.com'],
        ['ro.example.com', 'ro.abc'],
      ]),
    });
  });

  it.each([
    [{ PASSWORD_LENGTH: 'thirty' }, 'PASSWORD_LENGTH'],
    [{ PASSWORD_LENGTH: '7' }, 'PASSWORD_LENGTH'],
    [{ PASSWORD_LENGTH: '-32' }, 'PASSWORD_LENGTH'],
    [{ PASSWORD_LENGTH: '4097' }, 'PASSWORD_LENGTH'],
    [{ USERNAME_CHARACTER_LIMIT: 'sixteen' }, 'USERNAME_CHARACTER_LIMIT'],
    [{ USERNAME_CHARACTER_LIMIT: '0' }, 'USERNAME_CHARACTER_LIMIT'],
    [{ DATABASE_HOST_ALIASES: 'db.example.com' }, 'DATABASE_HOST_ALIASES'],
    [{ DATABASE_HOST_ALIASES: 'a=b=c' }, 'DATABASE_HOST_ALIASES'],
    [{ EXCLUDE_NUMBERS: 'ture' }, 'EXCLUDE_NUMBERS'],
    [{ REQUIRE_EACH_INCLUDED_TYPE: 'maybe' }, 'REQUIRE_EACH_INCLUDED_TYPE'],
    [{ TLS_MODE: 'prefer' }, 'TLS_MODE'],
    [{ DB_CONNECT_TIMEOUT_SECONDS: '0' }, 'DB_CONNECT_TIMEOUT_SECONDS'],
  ])('refuses %j naming the setting', (env, name) => {
    expect(() => loadConfig('', env)).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.stringContaining(name),
      }),
    );
  });
});
