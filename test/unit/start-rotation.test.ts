import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { parseRotationEvent, STEPS } from '../../shared/rotation/event';
import { createRotationHandler, createRotationStarter } from '../../shared/rotation/handler';
import { alternatingUsers } from '../../shared/strategies/alternating-users';
import { singleUser } from '../../shared/strategies/single-user';
import type { RotationStrategy } from '../../shared/strategies/strategy';
import { captureOutput } from '../helpers/capture-output';
import { FakeDatabase } from '../helpers/fake-engine';
import { FakeSecretsManager } from '../helpers/fake-secrets-manager';

/**
 * The runner's start mode: the bundle's `startRotation` export (never the Lambda handler) runs
 * createSecret for a token that is not yet a version and stores the new version labelled
 * AWSPENDING itself, as RotateSecret would have labelled it, but only when no other rotation is in
 * progress. Everything else is checked as always.
 */
const TOKEN = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';
const OTHER = 'aaaaaaaa-bbbb-cccc-dddd-000000000002';

let sm: FakeSecretsManager;
let db: FakeDatabase;

beforeEach(() => {
  for (const key of ['PASSWORD_LENGTH', 'EXCLUDE_CHARACTERS', 'TLS_MODE']) delete process.env[key];
  process.env.AWS_REGION = 'us-east-1';
  sm = new FakeSecretsManager();
  db = new FakeDatabase();
});

afterEach(() => sm.mock.restore());

function userSecret(): string {
  db.users.set('app', 'old-password-1');
  return sm.create('app', {
    engine: 'fake',
    host: 'db.example',
    username: 'app',
    password: 'old-password-1',
  });
}

async function invoke(strategy: RotationStrategy, event: Record<string, unknown>): Promise<string> {
  const handler = createRotationHandler({ engine: db.engine, strategy });
  const run = await captureOutput(() => handler(event));
  if (run.error) throw run.error;
  return run.output;
}

async function startWith(strategy: RotationStrategy, SecretId: string, token = TOKEN) {
  const starter = createRotationStarter({ engine: db.engine, strategy });
  const run = await captureOutput(() => starter({ SecretId, ClientRequestToken: token }));
  if (run.error) throw run.error;
  return run.output;
}

const start = (SecretId: string, token = TOKEN) => startWith(singleUser, SecretId, token);

async function finish(strategy: RotationStrategy, SecretId: string, token = TOKEN) {
  for (const Step of ['setSecret', 'testSecret', 'finishSecret']) {
    await invoke(strategy, { Step, SecretId, ClientRequestToken: token });
  }
}

describe("startRotation (the runner's start)", () => {
  it('stores the new version labelled AWSPENDING, and the other steps finish the rotation', async () => {
    const arn = userSecret();
    const output = await start(arn);
    expect(output).toContain('"outcome":"pending-created"');
    expect(sm.stages(arn)[TOKEN]).toEqual(['AWSPENDING']);
    expect(sm.value(arn, 'AWSPENDING')).toMatchObject({ username: 'app', host: 'db.example' });
    // One PutSecretValue, under the token, with the label: the version is created by it.
    const puts = sm.mock.commandCalls(PutSecretValueCommand);
    expect(puts).toHaveLength(1);
    expect(puts[0]?.args[0].input).toMatchObject({
      ClientRequestToken: TOKEN,
      VersionStages: ['AWSPENDING'],
    });

    await finish(singleUser, arn);
    expect(sm.stages(arn)[TOKEN]).toEqual(['AWSCURRENT']);
    expect(db.users.get('app')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
  });

  it('works for alternating users too', async () => {
    userSecret();
    db.users.set('admin', 'master-password-1');
    const master = sm.create('master', {
      engine: 'fake',
      host: 'db.example',
      username: 'admin',
      password: 'master-password-1',
    });
    const withMaster = sm.create('app-alt', {
      engine: 'fake',
      host: 'db.example',
      username: 'app',
      password: 'old-password-1',
      masterarn: master,
    });
    await startWith(alternatingUsers, withMaster);
    expect(sm.value(withMaster, 'AWSPENDING')).toMatchObject({ username: 'app_clone' });
    await finish(alternatingUsers, withMaster);
    expect(sm.value(withMaster, 'AWSCURRENT')).toMatchObject({ username: 'app_clone' });
  });

  it('refuses while another version is labelled AWSPENDING, naming it, and changes nothing', async () => {
    const arn = userSecret();
    sm.startRotation(arn, OTHER); // a rotation in progress, started by the service
    const before = sm.stages(arn);
    await expect(start(arn)).rejects.toMatchObject({
      name: 'RotationInProgressError',
      message: expect.stringContaining(`version ${OTHER} is labelled AWSPENDING`),
    });
    expect(sm.stages(arn)).toEqual(before);
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('refuses while a filled AWSPENDING version (a stuck rotation) exists', async () => {
    const arn = userSecret();
    sm.startRotation(arn, OTHER);
    await invoke(singleUser, { Step: 'createSecret', SecretId: arn, ClientRequestToken: OTHER });
    await expect(start(arn)).rejects.toMatchObject({ name: 'RotationInProgressError' });
    expect(sm.stages(arn)[OTHER]).toEqual(['AWSPENDING']);
  });

  it('after setSecret, tells to finish the stuck rotation and never to cancel it (that would strand the only working password)', async () => {
    const arn = userSecret();
    sm.startRotation(arn, OTHER);
    for (const Step of ['createSecret', 'setSecret']) {
      await invoke(singleUser, { Step, SecretId: arn, ClientRequestToken: OTHER });
    }
    const refusal = start(arn);
    await expect(refusal).rejects.toMatchObject({
      name: 'RotationInProgressError',
      message: expect.stringContaining('Do not remove its AWSPENDING label'),
    });
    await expect(start(arn)).rejects.not.toMatchObject({
      message: expect.stringContaining('--remove-from-version-id'),
    });
  });

  it('before setSecret, offers to finish the stuck rotation, and to cancel it only if no setSecret ran (one cut off before its record leaves the pending password in the database)', async () => {
    const arn = userSecret();
    sm.startRotation(arn, OTHER);
    await invoke(singleUser, { Step: 'createSecret', SecretId: arn, ClientRequestToken: OTHER });
    await expect(start(arn)).rejects.toMatchObject({
      message: expect.stringMatching(
        new RegExp(
          `always safe\\. Cancel it only if no setSecret ran for it .*leaves the database with this version's password.*--remove-from-version-id ${OTHER}`,
        ),
      ),
    });
  });

  it('starts when AWSPENDING is left on the AWSCURRENT version (a finished rotation)', async () => {
    const arn = userSecret();
    const initial = Object.keys(sm.stages(arn))[0] as string;
    sm.updateStage(arn, 'AWSPENDING', { moveTo: initial });
    await start(arn);
    expect(sm.stages(arn)[TOKEN]).toEqual(['AWSPENDING']);
    expect(sm.stages(arn)[initial]).toEqual(['AWSCURRENT']);
  });

  it('still refuses a secret whose rotation is explicitly disabled', async () => {
    const arn = userSecret();
    sm.setRotationEnabled(arn, false);
    await expect(start(arn)).rejects.toMatchObject({ name: 'RotationDisabledError' });
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('behaves as a plain createSecret when repeated: the version exists, nothing is rewritten', async () => {
    const arn = userSecret();
    await start(arn);
    const pending = sm.value(arn, 'AWSPENDING');
    const output = await start(arn);
    expect(output).toContain('"outcome":"pending-exists"');
    expect(sm.value(arn, 'AWSPENDING')).toEqual(pending);
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(1);
  });

  it('does nothing for a token that is already AWSCURRENT', async () => {
    const arn = userSecret();
    await start(arn);
    await finish(singleUser, arn);
    const output = await start(arn);
    expect(output).toContain('"outcome":"already-current"');
  });
});

describe('the Lambda handler never starts a rotation', () => {
  it('an unknown token is VersionNotFoundError on createSecret, and nothing is written', async () => {
    const arn = userSecret();
    await expect(
      invoke(singleUser, { Step: 'createSecret', SecretId: arn, ClientRequestToken: TOKEN }),
    ).rejects.toMatchObject({ name: 'VersionNotFoundError' });
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it.each(STEPS.flatMap((Step) => [true, false, null, 'true'].map((value) => [Step, value])))(
    'an event with StartRotation is refused (%s, %p), and nothing is written',
    async (Step, value) => {
      const arn = userSecret();
      const before = sm.stages(arn);
      await expect(
        invoke(singleUser, {
          Step,
          SecretId: arn,
          ClientRequestToken: TOKEN,
          StartRotation: value,
        }),
      ).rejects.toMatchObject({
        name: 'InvalidEventError',
        message: expect.stringContaining('a deployed function never starts a rotation'),
      });
      expect(sm.stages(arn)).toEqual(before);
      expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    },
  );

  it('parseRotationEvent refuses the field whatever its value', () => {
    const base = { Step: 'createSecret', SecretId: 's', ClientRequestToken: 't' };
    expect(parseRotationEvent(base)).toEqual(base);
    expect(() => parseRotationEvent({ ...base, StartRotation: true })).toThrow(/StartRotation/);
  });
});
