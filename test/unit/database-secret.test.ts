import { parseDatabaseSecret } from '../../shared/secrets/database-secret';

const shape = { secretEngines: ['postgres', 'aurora-postgresql'], defaultPort: 5432 };
const source = { secretId: 'arn:secret:app', label: 'AWSCURRENT' };
const valid = { engine: 'postgres', host: 'db.example', username: 'app', password: 'p@ss"word' };
const parse = (value: unknown) =>
  parseDatabaseSecret(typeof value === 'string' ? value : JSON.stringify(value), source, shape);

describe('parseDatabaseSecret', () => {
  it('reads AWS template secrets, with defaults and string ports', () => {
    expect(parse({ ...valid, port: '6543', dbname: 'app', ssl: 'TRUE', extra: 1 })).toMatchObject({
      engine: 'postgres',
      host: 'db.example',
      port: 6543,
      username: 'app',
      password: 'p@ss"word',
      dbname: 'app',
      ssl: true,
      masterarn: undefined,
      fields: { extra: 1 },
    });
    expect(parse(valid)).toMatchObject({ port: 5432, dbname: undefined, ssl: undefined });
    expect(parse({ ...valid, engine: 'aurora-postgresql', ssl: false }).ssl).toBe(false);
  });

  it.each([
    ['not json', /not valid JSON/],
    ['[1,2]', /must be a JSON object/],
    ['"text"', /must be a JSON object/],
    [{ ...valid, engine: 'mysql' }, /"engine" must be "postgres" or "aurora-postgresql"/],
    [{ ...valid, engine: undefined }, /"engine" is missing/],
    [{ ...valid, host: undefined }, /"host" is missing/],
    [{ ...valid, host: '' }, /"host" is empty/],
    [{ ...valid, host: 'a'.repeat(300) }, /"host" is longer than 253/],
    [{ ...valid, username: 42 }, /"username" must be a string, not a number/],
    [{ ...valid, username: 'ap\u0000p' }, /"username" contains control characters/],
    [{ ...valid, username: 'x'.repeat(2000) }, /"username" is longer/],
    [{ ...valid, password: undefined }, /"password" is missing/],
    [{ ...valid, password: ['a'] }, /"password" must be a string, not an array/],
    [{ ...valid, password: 'a\u0000b' }, /"password" contains a NUL/],
    [{ ...valid, password: 'x'.repeat(5000) }, /"password" is longer than 4096/],
    [{ ...valid, port: 'five' }, /"port" must be a whole number/],
    [{ ...valid, port: 70000 }, /"port" must be a whole number from 1 to 65535/],
    [{ ...valid, port: 54.5 }, /"port"/],
    [{ ...valid, ssl: 'maybe' }, /"ssl" must be true or false/],
    [{ ...valid, ssl: 1 }, /"ssl" must be true or false/],
    [{ ...valid, dbname: {} }, /"dbname" must be a string, not an object/],
    [{ ...valid, masterarn: 7 }, /"masterarn" must be a string/],
  ])('refuses %j naming the key, never the value', (value, message) => {
    let error: Error | undefined;
    try {
      parse(value);
    } catch (e) {
      error = e as Error;
    }
    expect(error?.name).toBe('SecretValueError');
    expect(error?.message).toMatch(message);
    expect(error?.message).toContain('arn:secret:app (AWSCURRENT)');
    expect(error?.message).not.toContain('p@ss"word');
  });

  it('accepts a master secret without an engine key', () => {
    const master = parseDatabaseSecret(
      JSON.stringify({ host: 'h', username: 'root', password: 'x' }),
      source,
      shape,
      {
        engineOptional: true,
      },
    );
    expect(master.username).toBe('root');
  });
});
