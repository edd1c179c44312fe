import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { DatabaseUnreachableError } from '../../shared/errors';
import { createRotationHandler } from '../../shared/rotation/handler';
import { singleUser } from '../../shared/strategies/single-user';
import { captureOutput } from '../helpers/capture-output';
import { FakeDatabase } from '../helpers/fake-engine';
import { FakeSecretsManager } from '../helpers/fake-secrets-manager';

// Regression tests for what the fault matrix (test/integration/faults/) found, at unit level.

const TOKEN = '11111111-2222-3333-4444-555555555555';
let sm: FakeSecretsManager;
let db: FakeDatabase;

beforeEach(() => {
  process.env.AWS_REGION = 'us-east-1';
  sm = new FakeSecretsManager();
  db = new FakeDatabase();
});

afterEach(() => sm.mock.restore());

async function step(Step: string, SecretId: string): Promise<void> {
  const handler = createRotationHandler({ engine: db.engine, strategy: singleUser });
  const run = await captureOutput(() => handler({ Step, SecretId, ClientRequestToken: TOKEN }));
  if (run.error) throw run.error;
}

function rotatingSecret(): string {
  db.users.set('app', 'old-password-1');
  const arn = sm.create('app', {
    engine: 'fake',
    host: 'db.example',
    username: 'app',
    password: 'old-password-1',
  });
  sm.startRotation(arn, TOKEN);
  return arn;
}

// When the answer to finishSecret's move of AWSCURRENT is lost, the SDK sends the call again, and
// Secrets Manager refuses the second one because AWSCURRENT has already left the old version.
// finishSecret failed there, leaving AWSPENDING on the new AWSCURRENT version until the service
// retried the step.
describe('finishSecret when the SDK replays the move of AWSCURRENT', () => {
  it('counts the move as made and still takes AWSPENDING off', async () => {
    const arn = rotatingSecret();
    for (const s of ['createSecret', 'setSecret', 'testSecret']) await step(s, arn);
    sm.mock
      .on(UpdateSecretVersionStageCommand, { VersionStage: 'AWSCURRENT' })
      .callsFake(({ SecretId, MoveToVersionId, RemoveFromVersionId }) => {
        const move = { moveTo: MoveToVersionId, removeFrom: RemoveFromVersionId };
        sm.updateStage(SecretId, 'AWSCURRENT', move);
        // The answer is lost; the SDK's retry sends the same call, which the service refuses.
        sm.updateStage(SecretId, 'AWSCURRENT', move);
        return {};
      });
    await step('finishSecret', arn);
    expect(sm.stages(arn)).toEqual({ 'initial-app': ['AWSPREVIOUS'], [TOKEN]: ['AWSCURRENT'] });
  });

  it('still fails when AWSCURRENT did not reach the token', async () => {
    const arn = rotatingSecret();
    for (const s of ['createSecret', 'setSecret', 'testSecret']) await step(s, arn);
    sm.mock
      .on(UpdateSecretVersionStageCommand, { VersionStage: 'AWSCURRENT' })
      .callsFake(({ SecretId }) => {
        // Refused without moving anything: someone else moved AWSCURRENT elsewhere.
        sm.updateStage(SecretId, 'AWSCURRENT', { removeFrom: 'no-such-version' });
        return {};
      });
    await expect(step('finishSecret', arn)).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    expect(sm.stages(arn)[TOKEN]).toEqual(['AWSPENDING', 'ROTATION_PASSWORD_SET']);
  });
});

// A rotation that stopped after setSecret, whose AWSPENDING label a person then removed (as AWS's
// documentation of CancelRotateSecret advises) before rotating again: the server has a password
// that no label holds. The error said only "changed outside rotation".
describe('single-user setSecret when no labelled version logs in', () => {
  it('names both causes, where the password still is, and what to do', async () => {
    const arn = rotatingSecret();
    await step('createSecret', arn);
    db.users.set('app', 'set-by-an-earlier-rotation');
    await expect(step('setSecret', arn)).rejects.toMatchObject({
      name: 'NoWorkingCredentialsError',
      message: expect.stringMatching(
        /changed outside rotation, or an earlier rotation set it and its version then lost the AWSPENDING label .* list-secret-version-ids --include-deprecated.* put the working password in the secret \(PutSecretValue to AWSCURRENT\)/,
      ),
    });
    expect(db.users.get('app')).toBe('set-by-an-earlier-rotation');
  });
});

// Pair mode's parity check skipped itself when the live user's session failed for any reason, so
// a fault on that connection (the server unreachable for a moment, a connection reset during its
// login or during the reading of its rights) promoted an idle user lacking a right of the live
// one. The fault matrix's parity sweep found it at every boundary of the live user's connection.
describe('pair testSecret when the live user cannot be read', () => {
  const LIVE = 'blue';
  const IDLE = 'green';

  function pairSecret(): string {
    db.users.set(LIVE, 'blue-password-1');
    db.users.set(IDLE, 'green-password-1');
    db.rights.set(LIVE, ['INSERT on t', 'SELECT on t']);
    db.rights.set(IDLE, ['SELECT on t']);
    const arn = sm.create('pair', {
      engine: 'fake',
      host: 'db.example',
      username: LIVE,
      password: 'blue-password-1',
      alternate_username: IDLE,
      alternate_password: 'green-password-1',
    });
    sm.startRotation(arn, TOKEN);
    return arn;
  }

  /**
   * The live user's logins fail with `error`; with `afterLogin`, its session's reads do. Returns
   * what ends the fault.
   */
  function liveFails(error: () => Error, afterLogin = false): () => void {
    const connect = db.engine.connect;
    const restore = () => {
      db.engine.connect = connect;
    };
    db.engine.connect = async (settings) => {
      if (settings.username !== LIVE) return connect(settings);
      if (!afterLogin) throw error();
      const session = await connect(settings);
      return {
        ...session,
        ownRights: async () => {
          throw error();
        },
      };
    };
    return restore;
  }

  it.each([
    [
      'unreachable at login',
      () => liveFails(() => new DatabaseUnreachableError('read ECONNRESET')),
    ],
    [
      'lost while its rights are read',
      () => liveFails(() => new DatabaseUnreachableError('connection lost'), true),
    ],
  ])('the live user %s: refuses, and promotes nothing', async (_what, fault) => {
    const arn = pairSecret();
    for (const s of ['createSecret', 'setSecret']) await step(s, arn);
    const end = fault();
    await expect(step('testSecret', arn)).rejects.toMatchObject({
      name: 'DatabaseUnreachableError',
    });
    // Once the fault is gone, the parity check runs and refuses the idle user.
    end();
    await expect(step('testSecret', arn)).rejects.toMatchObject({ name: 'PrivilegeDriftError' });
  });

  it('the live user’s password refused: promoted without the check (it ends an outage)', async () => {
    const arn = pairSecret();
    for (const s of ['createSecret', 'setSecret']) await step(s, arn);
    db.users.set(LIVE, 'changed-by-hand');
    await step('testSecret', arn);
  });

  it('with the live user readable, an idle user that lacks a right is refused', async () => {
    const arn = pairSecret();
    for (const s of ['createSecret', 'setSecret']) await step(s, arn);
    await expect(step('testSecret', arn)).rejects.toMatchObject({
      name: 'PrivilegeDriftError',
      message: expect.stringContaining('lacks: INSERT on t'),
    });
  });
});
