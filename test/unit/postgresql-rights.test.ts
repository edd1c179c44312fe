import {
  expectedRoleSettings,
  parseSettingKey,
  settingAssignment,
  settingKey,
  splitList,
  splitSetting,
} from '../../shared/engines/postgresql/rights';

describe('PostgreSQL role settings, stored and given back', () => {
  it('splits name=value at the first =', () => {
    expect(splitSetting('search_path=app_schema, public')).toEqual([
      'search_path',
      'app_schema, public',
    ]);
    expect(splitSetting('myapp.filter=a=b')).toEqual(['myapp.filter', 'a=b']);
  });

  it('keys settings by database and lower-cased name', () => {
    expect(parseSettingKey(settingKey('', 'Work_Mem'))).toEqual({ database: '', name: 'work_mem' });
    expect(parseSettingKey(settingKey('app db', 'search_path'))).toEqual({
      database: 'app db',
      name: 'search_path',
    });
  });

  it.each([
    ['app_schema, public', ['app_schema', 'public']],
    ['"$user", public', ['$user', 'public']],
    ['"My ""odd"", schema", x', ['My "odd", schema', 'x']],
    ['', []],
  ])('splits the list %j as the server does', (value, items) => {
    expect(splitList(value)).toEqual(items);
  });

  it('case 6: gives search_path back as a list of names, and other settings as one literal', () => {
    expect(settingAssignment('search_path', 'app_schema, public')).toBe(
      `"search_path" TO 'app_schema', 'public'`,
    );
    expect(settingAssignment('search_path', '"$user", public')).toBe(
      `"search_path" TO '$user', 'public'`,
    );
    expect(settingAssignment('statement_timeout', '5s')).toBe(`"statement_timeout" TO '5s'`);
    expect(settingAssignment('myapp.tenant', "o'brien")).toBe(`"myapp"."tenant" TO 'o''brien'`);
  });
});

describe('the role setting the clone takes from the base', () => {
  const settings = (entries: [string, string, string][]) =>
    new Map(entries.map(([db, name, value]) => [settingKey(db, name), value]));

  it('is the base itself when the base has none', () => {
    expect(expectedRoleSettings('app', settings([['', 'work_mem', '64MB']]), new Set())).toEqual(
      new Map([['', 'app']]),
    );
  });

  it('is the role the base becomes, per role and per database, when the base may SET ROLE to it', () => {
    const base = settings([
      ['', 'role', 'owner'],
      ['db1', 'role', 'other'],
      ['db2', 'role', 'none'],
    ]);
    expect(expectedRoleSettings('app', base, new Set(['owner', 'other']))).toEqual(
      new Map([
        ['', 'owner'],
        ['db1', 'other'],
        ['db2', 'app'],
      ]),
    );
  });

  it('falls back as the server does when the base may not become the role named', () => {
    const base = settings([
      ['', 'role', 'owner'],
      ['db1', 'role', 'other'],
    ]);
    expect(expectedRoleSettings('app', base, new Set(['owner']))).toEqual(
      new Map([
        ['', 'owner'],
        ['db1', 'owner'],
      ]),
    );
    expect(expectedRoleSettings('app', base, new Set())).toEqual(
      new Map([
        ['', 'app'],
        ['db1', 'app'],
      ]),
    );
  });
});
