import { DatabaseStatementError } from '../../shared/errors';
import { createRotationHandler } from '../../shared/rotation/handler';
import { parseDatabaseSecret } from '../../shared/secrets/database-secret';
import { alternatingUsers } from '../../shared/strategies/alternating-users';
import { compareRights } from '../../shared/strategies/pair';
import { singleUser } from '../../shared/strategies/single-user';
import { captureOutput } from '../helpers/capture-output';
import { FakeDatabase } from '../helpers/fake-engine';
import { FakeSecretsManager } from '../helpers/fake-secrets-manager';

/** Pair mode in the single-user strategy, with the fake database and Secrets Manager. */
const TOKEN = '11111111-2222-3333-4444-555555555555';
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const RIGHTS = ['SELECT on TABLE public.t', 'INSERT on TABLE public.t'];

let sm: FakeSecretsManager;
let db: FakeDatabase;

beforeEach(() => {
  for (const key of ['RETAIN_CURRENT_PASSWORD', 'PASSWORD_LENGTH']) delete process.env[key];
  process.env.AWS_REGION = 'us-east-1';
  sm = new FakeSecretsManager();
  db = new FakeDatabase();
  db.users.set('blue', 'blue-password-1');
  db.users.set('green', 'green-password-1');
  db.rights.set('blue', RIGHTS);
  db.rights.set('green', RIGHTS);
});

afterEach(() => sm.mock.restore());

function pairSecret(extra: Record<string, unknown> = {}) {
  return sm.create('pair', {
    engine: 'fake',
    host: 'db.example',
    username: 'blue',
    password: 'blue-password-1',
    alternate_username: 'green',
    alternate_password: 'green-password-1',
    ...extra,
  });
}

async function step(Step: string, SecretId: string, token = TOKEN, strategy = singleUser) {
  const handler = createRotationHandler({ engine: db.engine, strategy });
  const run = await captureOutput(() => handler({ Step, SecretId, ClientRequestToken: token }));
  if (run.error) throw run.error;
  return run.output;
}

async function rotate(arn: string, token = TOKEN) {
  sm.startRotation(arn, token);
  for (const s of STEPS) await step(s, arn, token);
}

/** PutSecretValue of a new AWSCURRENT, as a person would (the old one becomes AWSPREVIOUS). */
function putCurrent(arn: string, value: Record<string, unknown>) {
  const id = 'cccccccc-0000-0000-0000-000000000000';
  const old = Object.entries(sm.stages(arn)).find(([, st]) => st.includes('AWSCURRENT'))?.[0];
  sm.putVersion(arn, id, value, []);
  sm.updateStage(arn, 'AWSCURRENT', { moveTo: id, removeFrom: old });
}

const shape = { secretEngines: ['fake'], defaultPort: 1 };
const parse = (fields: Record<string, unknown>) =>
  parseDatabaseSecret(
    JSON.stringify({ engine: 'fake', host: 'h', username: 'blue', password: 'p', ...fields }),
    { secretId: 's', label: 'AWSCURRENT' },
    shape,
  );

describe('the secret', () => {
  it('reads the pair, or none', () => {
    expect(parse({}).alternate).toBeUndefined();
    expect(parse({ alternate_username: 'green', alternate_password: 'q' }).alternate).toEqual({
      username: 'green',
      password: 'q',
    });
  });

  it.each([
    [{ alternate_username: 'green' }, /key "alternate_password" is missing: pair mode needs both/],
    [{ alternate_password: 'q' }, /key "alternate_username" is missing: pair mode needs both/],
    [{ alternate_username: 'blue', alternate_password: 'q' }, /names the same user as "username"/],
    [
      { alternate_username: 'green', alternate_password: 7 },
      /"alternate_password" must be a string/,
    ],
    [{ alternate_username: '', alternate_password: 'q' }, /"alternate_username" is empty/],
    [{ alternate_username: 'a\nb', alternate_password: 'q' }, /control characters/],
  ])('refuses %j, naming the key and never a value', (fields, words) => {
    let message = '';
    try {
      parse(fields);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(words);
    expect(message).not.toMatch(/"q"|\b7\b/);
  });
});

describe('a rotation', () => {
  it('changes only the idle user, as itself, and swaps the two', async () => {
    const arn = pairSecret({ dbname: 'app', extra: 'kept' });
    await rotate(arn);
    const current = sm.value(arn, 'AWSCURRENT');
    expect(current).toMatchObject({
      username: 'green',
      alternate_username: 'blue',
      alternate_password: 'blue-password-1',
      dbname: 'app',
      extra: 'kept',
    });
    expect(db.users.get('green')).toBe(current?.password);
    expect(db.users.get('blue')).toBe('blue-password-1');
    // Every login was as blue or green; the password change ran in green's own session.
    expect(new Set(db.logins.map((l) => l.username))).toEqual(new Set(['blue', 'green']));
    await rotate(arn, '22222222-2222-3333-4444-555555555555');
    expect(sm.value(arn, 'AWSCURRENT')).toMatchObject({
      username: 'blue',
      alternate_username: 'green',
      alternate_password: current?.password,
    });
    expect(db.users.get('green')).toBe(current?.password);
  });

  it('with a failed-login limit of 1, every step run twice: no failed login, never retains', async () => {
    process.env.RETAIN_CURRENT_PASSWORD = 'true';
    db.lockAfter = 1;
    const arn = pairSecret();
    sm.startRotation(arn, TOKEN);
    for (const s of STEPS) {
      await step(s, arn);
      await step(s, arn);
      expect(db.failedLogins.get('green') ?? 0).toBe(0);
      expect(db.failedLogins.get('blue') ?? 0).toBe(0);
    }
    expect(db.secondary.get('green')).toBeUndefined();
  });

  it('a wrong alternate password: names the idle user and the key, the live user untouched', async () => {
    const arn = pairSecret({ alternate_password: 'wrong-password-1' });
    sm.startRotation(arn, TOKEN);
    await step('createSecret', arn);
    await expect(step('setSecret', arn)).rejects.toMatchObject({
      name: 'NoWorkingCredentialsError',
      message: expect.stringMatching(
        /logs in as "green" \(the idle user of the pair, AWSCURRENT's "alternate_username"\).*tried AWSCURRENT's alternate_password, AWSPENDING.*The live user "blue" is untouched/,
      ),
    });
    expect(db.users.get('blue')).toBe('blue-password-1');
    expect(db.users.get('green')).toBe('green-password-1');
  });

  it("falls back to the idle user's password in AWSPREVIOUS when AWSCURRENT's is wrong", async () => {
    const arn = pairSecret();
    await rotate(arn, '22222222-2222-3333-4444-555555555555');
    // Green is live, blue idle. Someone then stores a typo as blue's password in a new AWSCURRENT.
    const current = sm.value(arn, 'AWSCURRENT') as Record<string, unknown>;
    putCurrent(arn, { ...current, alternate_password: 'typo-password-1' });
    sm.startRotation(arn, TOKEN);
    await step('createSecret', arn);
    await step('setSecret', arn);
    expect(db.users.get('blue')).toBe(sm.value(arn, 'AWSPENDING')?.password);
  });

  it('refuses a pending version whose alternate is not AWSCURRENT (AWSCURRENT changed after createSecret)', async () => {
    const arn = pairSecret();
    sm.startRotation(arn, TOKEN);
    await step('createSecret', arn);
    const value = sm.value(arn, 'AWSCURRENT') as Record<string, unknown>;
    db.users.set('blue', 'blue-password-2');
    putCurrent(arn, { ...value, password: 'blue-password-2' });
    for (const s of ['setSecret', 'testSecret']) {
      await expect(step(s, arn)).rejects.toMatchObject({
        name: 'CredentialsMismatchError',
        message: expect.stringMatching(
          /AWSCURRENT changed after createSecret made it.*Cancel this rotation/,
        ),
      });
    }
    expect(db.users.get('green')).toBe('green-password-1');
  });
});

describe('the parity check (testSecret)', () => {
  async function setUp() {
    const arn = pairSecret();
    sm.startRotation(arn, TOKEN);
    await step('createSecret', arn);
    await step('setSecret', arn);
    return arn;
  }

  it('refuses an idle user that lacks a right of the live one, naming it; promotes once level', async () => {
    const arn = await setUp();
    db.rights.set('green', ['SELECT on TABLE public.t']);
    await expect(step('testSecret', arn)).rejects.toMatchObject({
      name: 'PrivilegeDriftError',
      message: expect.stringMatching(
        /the idle user "green" \(AWSPENDING\) cannot do everything the live user "blue".*lacks: INSERT on TABLE public\.t\. Give "green" the same rights/,
      ),
    });
    db.rights.set('green', RIGHTS);
    await step('testSecret', arn);
    await step('finishSecret', arn);
    expect(sm.value(arn, 'AWSCURRENT')?.username).toBe('green');
  });

  it('promotes an idle user with more rights, with a warning', async () => {
    const arn = await setUp();
    db.rights.set('green', [...RIGHTS, 'DELETE on TABLE public.t']);
    const output = await step('testSecret', arn);
    expect(output).toContain('The idle user of the pair can do more than the live one');
    expect(output).toContain('DELETE on TABLE public.t');
  });

  it('promotes when the live user no longer logs in (that ends an outage), with a warning', async () => {
    const arn = await setUp();
    db.users.set('blue', 'locked-by-dba');
    const output = await step('testSecret', arn);
    expect(output).toContain('Pair parity not checked');
  });

  it("fails (promotes nothing) when the live user's rights cannot be read", async () => {
    const arn = await setUp();
    const connect = db.engine.connect;
    db.engine.connect = async (settings) => {
      const session = await connect(settings);
      if (settings.username !== 'blue') return session;
      return {
        ...session,
        ownRights: async () => {
          throw new DatabaseStatementError('permission denied for table pg_roles');
        },
      };
    };
    await expect(step('testSecret', arn)).rejects.toMatchObject({
      name: 'DatabaseStatementError',
    });
  });

  it('RotateImmediately=false (a copy of AWSCURRENT): tests the login only', async () => {
    const arn = pairSecret();
    sm.putPending(arn, TOKEN, sm.value(arn, 'AWSCURRENT'));
    db.rights.set('green', []);
    await step('testSecret', arn);
  });

  it('compares rights as sets one way, limits both ways', () => {
    expect(
      compareRights(
        { rights: ['a', 'b', 'b'], limits: ['x', 'y'] },
        { rights: ['c', 'b'], limits: ['y', 'z'] },
      ),
    ).toEqual({
      lacking: ['a'],
      extra: ['c'],
      limits: ['only the live user: x', 'only the idle user: z'],
    });
  });

  it('refuses an idle user with a limit the live one lacks (a narrower setting), naming it', async () => {
    const arn = await setUp();
    db.limits.set('green', ['setting search_path (value sha256:0a1b2c)']);
    await expect(step('testSecret', arn)).rejects.toMatchObject({
      name: 'PrivilegeDriftError',
      message: expect.stringMatching(
        /their limits differ \(these must be the same both ways\): only the idle user: setting search_path/,
      ),
    });
  });

  it('finishSecret repeats the parity check: invoked directly after testSecret refused, it promotes nothing', async () => {
    const arn = await setUp();
    db.rights.set('green', ['SELECT on TABLE public.t']);
    await expect(step('testSecret', arn)).rejects.toMatchObject({ name: 'PrivilegeDriftError' });
    await expect(step('finishSecret', arn)).rejects.toMatchObject({
      name: 'PrivilegeDriftError',
      message: expect.stringContaining('so finishSecret does not promote it'),
    });
    expect(sm.value(arn, 'AWSCURRENT')?.username).toBe('blue');
  });
});

it.each([
  ['as written', (p: string) => p],
  ['SQL-quoted', (p: string) => `'${p.replace(/'/g, "''")}'`],
  ['URL-encoded', (p: string) => encodeURIComponent(p)],
  ['JSON-escaped', (p: string) => JSON.stringify(p)],
  ['cut to 12 characters', (p: string) => p.slice(3, 15)],
])('scrubs alternate_password %s when a driver echoes it back', async (_how, form) => {
  const hostile = `gr"een'password/with%odd-${'x'.repeat(8)}`;
  db.users.set('green', hostile);
  const arn = pairSecret({ alternate_password: hostile });
  sm.startRotation(arn, TOKEN);
  await step('createSecret', arn);
  const connect = db.engine.connect;
  db.engine.connect = async (settings) => {
    if (settings.username === 'green')
      throw new Error(`driver says: bad password ${form(hostile)}`);
    return connect(settings);
  };
  const handler = createRotationHandler({ engine: db.engine, strategy: singleUser });
  const run = await captureOutput(() =>
    handler({ Step: 'setSecret', SecretId: arn, ClientRequestToken: TOKEN }),
  );
  expect(String((run.error as Error).message)).toContain('[REDACTED]');
  for (const text of [String((run.error as Error).message), run.output]) {
    expect(text).not.toContain(form(hostile));
    expect(text).not.toContain(hostile.slice(3, 15));
  }
});

it('the alternating-users function refuses a pair secret, pointing at single-user', async () => {
  const arn = pairSecret({ masterarn: 'arn:aws:secretsmanager:us-east-1:1:secret:m' });
  sm.startRotation(arn, TOKEN);
  await expect(step('createSecret', arn, TOKEN, alternatingUsers)).rejects.toMatchObject({
    name: 'SecretValueError',
    message: expect.stringMatching(/that is a pair, which the single-user function/),
  });
});
