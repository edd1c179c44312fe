import { randomUUID } from 'node:crypto';
import { recoveryAdvice } from '../../../shared/rotation/recovery';
import {
  type FaultHarness,
  MAX_RETRIES,
  type PointRun,
  RotationRefusedError,
  type Scenario,
} from './harness';
import { FLOWS, flowSteps, STEPS, type Step } from './points';
import type { SecretValue, Strategy } from './targets';

/** A password a person sets by hand; random, so it never matches a version by chance. */
function handPassword(): string {
  return `Hand-${randomUUID()}`;
}

/**
 * What the function must say when no labelled version logs in: the error class, and words that
 * say what happened and what to do.
 */
const NEEDS_A_PERSON: Record<Strategy, { name: string; says: RegExp[] }> = {
  'single-user': {
    name: 'NoWorkingCredentialsError',
    says: [
      /None of the versions of secret .* logs in/,
      /changed outside rotation/,
      /an earlier rotation set it and its version then lost the AWSPENDING label/,
      /list-secret-version-ids --include-deprecated/,
      /put the working password in the secret \(PutSecretValue to AWSCURRENT\)/,
      /then rotate again/,
    ],
  },
  'alternating-users': {
    name: 'NoWorkingCredentialsError',
    says: [
      /The AWSCURRENT credentials of secret .* do not log in/,
      /fix the password of .* or the secret, then rotate again/,
    ],
  },
  pair: {
    name: 'NoWorkingCredentialsError',
    says: [
      /None of the versions of secret .* logs in as ".*" \(the idle user of the pair, AWSCURRENT's "alternate_username"\)/,
      /The live user ".*" is untouched and keeps working/,
      /Put its working password in the secret \("alternate_password" of AWSCURRENT, with PutSecretValue\)/,
      /or set its database password to AWSCURRENT's "alternate_password"/,
      /then rotate again/,
    ],
  },
};

/**
 * setSecret where recovery needs a person: every attempt (the first and the service's retries)
 * must fail with the error that says so, and change nothing: the labels stay where they were and
 * the password that works (`working`, on the server) still works.
 */
async function expectPersonNeeded(
  run: PointRun,
  token: string,
  working: SecretValue,
  extra: (run: PointRun) => Promise<void> = async () => undefined,
): Promise<void> {
  const expected = NEEDS_A_PERSON[run.strategy];
  const labelsBefore = await run.service.labels(run.arn);
  for (let attempt = 1; attempt <= 1 + MAX_RETRIES; attempt++) {
    const result = await run.invokeOnce('setSecret', token);
    if (result.outcome !== 'failed') {
      run.problems.push(`setSecret attempt ${attempt} ${result.outcome}: a person was needed`);
      return;
    }
    const { name, message } = result.error;
    if (name !== expected.name) {
      run.problems.push(`setSecret attempt ${attempt} failed with ${name}, not ${expected.name}`);
    }
    for (const words of expected.says) {
      if (!words.test(message)) {
        run.problems.push(`setSecret's error does not say ${words}: "${message}"`);
      }
    }
  }
  const labelsAfter = await run.service.labels(run.arn);
  if (JSON.stringify(labelsAfter) !== JSON.stringify(labelsBefore)) {
    run.problems.push(
      `the failing setSecret changed the labels: ${JSON.stringify(labelsBefore)} → ${JSON.stringify(labelsAfter)}`,
    );
  }
  if (!(await run.target.canLogIn(working))) {
    run.problems.push('the failing setSecret changed the password that worked');
  }
  await extra(run);
}

/**
 * A rotation only a person can unblock. Invariant 1 is off, since the person broke it, not the
 * function. createSecret runs, then setSecret must fail, saying what to do, and change nothing.
 * The person then fixes it, by default putting the working password in AWSCURRENT, and the
 * rotation must then complete.
 */
async function rotateThroughPerson(
  run: PointRun,
  working: SecretValue,
  extra?: (run: PointRun) => Promise<void>,
  fix: (run: PointRun) => Promise<void> = (r) => r.putCurrentByHand(working),
): Promise<void> {
  run.checking = false;
  const token = await run.requestRotation();
  if ((await run.drive('createSecret', token)).outcome !== 'succeeded') return;
  await expectPersonNeeded(run, token, working, extra);
  await fix(run);
  run.checking = true;
  await run.observe('the person’s fix');
  if (await run.driveSteps(['setSecret', 'testSecret', 'finishSecret'], token))
    await run.checkCompleted(token);
}

/** The scenario faults for one strategy, each run in a world of its own. */
export function scenarios(harness: FaultHarness, strategy: Strategy): Scenario[] {
  const list: Scenario[] = [];

  // The same step invoked twice at once (two execution environments), in each rotation flow.
  for (const flow of FLOWS.filter((f) => f !== 'test-alone')) {
    for (const step of STEPS) {
      list.push({
        kind: 'concurrent-step',
        label: `${flow} ${step}: invoked twice at once`,
        run: async (run) => {
          const token = await harness.startFlow(run, flow);
          const steps = flowSteps(flow);
          const at = steps.indexOf(step);
          if (!(await run.driveSteps(steps.slice(0, at), token))) return;
          const results = await Promise.all(
            [run.borrow(), run.borrow()].map((environment) =>
              run.invokeOnce(step, token, { environment }),
            ),
          );
          await run.observe(`${step} invoked twice at once`);
          if (!results.some((r) => r.outcome === 'succeeded')) {
            if ((await run.drive(step, token)).outcome !== 'succeeded') return;
          }
          if (await run.driveSteps(steps.slice(at + 1), token))
            await harness.finishFlow(run, flow, token);
        },
      });
    }
  }

  // The password changed outside rotation, between two rotations.
  if (strategy === 'pair') {
    list.push(...pairChangedOutside());
  } else if (strategy === 'single-user') {
    list.push({
      kind: 'changed-outside',
      label: 'password set by hand to a new value: a person must act, and is told how',
      run: async (run) => {
        await run.cleanRotation();
        const current = await run.valueAt('AWSCURRENT');
        const hand = { ...current, password: handPassword() };
        await run.target.setPasswordByHand(current, hand.password);
        run.handChanged = true;
        run.history.push('a person sets the password by hand');
        await rotateThroughPerson(run, hand);
      },
    });
    list.push({
      kind: 'changed-outside',
      label: 'password set back by hand to AWSPREVIOUS’s: the next rotation recovers alone',
      run: async (run) => {
        await run.cleanRotation();
        const current = await run.valueAt('AWSCURRENT');
        const previous = await run.valueAt('AWSPREVIOUS');
        await run.target.setPasswordByHand(current, String(previous.password));
        run.handChanged = true;
        run.history.push('a person sets the password back to the previous one');
        // Invariant 1 is broken by the person, not the function: checked again once setSecret ran.
        run.checking = false;
        const token = await run.requestRotation();
        if (!(await run.driveSteps(['createSecret', 'setSecret'], token))) return;
        run.checking = true;
        await run.observe('setSecret');
        if (await run.driveSteps(['testSecret', 'finishSecret'], token))
          await run.checkCompleted(token);
      },
    });
  } else {
    list.push({
      kind: 'changed-outside',
      label: 'AWSCURRENT user’s password set by hand: a person must act, and is told how',
      run: async (run) => {
        await run.cleanRotation();
        const current = await run.valueAt('AWSCURRENT');
        const previous = await run.valueAt('AWSPREVIOUS');
        const hand = { ...current, password: handPassword() };
        await run.target.setPasswordByHand(current, hand.password);
        run.history.push('a person sets the AWSCURRENT user’s password by hand');
        await rotateThroughPerson(run, hand, async () => {
          if (!(await run.target.canLogIn(previous))) {
            run.problems.push('the failing setSecret changed the other user’s password');
          }
        });
      },
    });
    list.push({
      kind: 'changed-outside',
      label: 'the other user’s password set by hand: the next rotation recovers alone',
      run: async (run) => {
        await run.cleanRotation();
        const previous = await run.valueAt('AWSPREVIOUS');
        await run.target.setPasswordByHand(previous, handPassword());
        run.history.push('a person sets the AWSPREVIOUS user’s password by hand');
        await run.cleanRotation();
      },
    });
  }

  // A leftover AWSPENDING from an earlier rotation that stopped after step k.
  const stoppedAfter: Step[] = ['createSecret', 'setSecret', 'testSecret'];
  for (const k of stoppedAfter) {
    const before = STEPS.slice(0, STEPS.indexOf(k) + 1);
    list.push({
      kind: 'leftover-pending',
      label: `rotation stopped after ${k}; a new RotateSecret is refused and the old rotation reattempted`,
      run: async (run) => {
        const first = await run.requestRotation();
        if (!(await run.driveSteps(before, first))) return;
        run.history.push(`the rotation stops after ${k}`);
        try {
          await run.requestRotation();
          run.problems.push('RotateSecret was not refused with a rotation in progress');
          return;
        } catch (error) {
          if (!(error instanceof RotationRefusedError)) throw error;
          run.history.push('RotateSecret refused: a previous rotation isn’t complete');
        }
        // The service reattempts the rotation from its first step, with the same token.
        if (await run.driveSteps(STEPS, first)) await run.checkCompleted(first);
      },
    });
    list.push({
      kind: 'leftover-pending',
      label: `rotation stopped after ${k}; a person follows the printed advice to the letter (cancelling whenever it allows) and rotates again`,
      run: async (run) => {
        const first = await run.requestRotation();
        if (!(await run.driveSteps(before, first))) return;
        run.history.push(`the rotation stops after ${k}`);
        // The advice preflight, the runner and the function's RotationInProgressError print.
        const stages = (await run.service.stages(run.arn))[first] ?? [];
        const advice = recoveryAdvice(run.arn, first, stages);
        if (advice.action === 'resume') {
          run.history.push('the advice says to finish it; the person resumes it');
          if (await run.driveSteps(STEPS, first)) await run.checkCompleted(first);
          return;
        }
        // As the advice (and AWS's documentation of CancelRotateSecret) allows. If that strands
        // the only working password, the next rotation fails and the matrix with it.
        await run.removePending(first);
        run.history.push('the advice allows cancelling; a person removes AWSPENDING from it');
        const second = await run.requestRotation();
        if (await run.driveSteps(STEPS, second)) await run.checkCompleted(second);
      },
    });
  }

  // testSecret alone (RotateSecret with RotateImmediately=false).
  list.push({
    kind: 'test-alone',
    label:
      'testSecret alone, AWSPENDING holding a copy of AWSCURRENT (moto’s RotateImmediately=false)',
    run: async (run) => {
      await run.cleanRotation();
      const token = await harness.startFlow(run, 'test-alone');
      if (await run.driveSteps(['testSecret'], token))
        await harness.finishFlow(run, 'test-alone', token);
    },
  });
  list.push({
    kind: 'test-alone',
    label: 'testSecret alone, AWSPENDING without a value: AWSCURRENT is tested',
    run: async (run) => {
      // RotateSecret with RotateImmediately=true labels a new version without a value AWSPENDING.
      const token = await run.requestRotation(true);
      if (await run.driveSteps(['testSecret'], token))
        await harness.finishFlow(run, 'test-alone', token);
    },
  });
  return list;
}

/**
 * Pair mode, a password changed outside rotation between two rotations (after a clean first one,
 * so the users have swapped once):
 * - the idle user's: setSecret must fail with NoWorkingCredentialsError saying what a person must
 *   do, and change nothing, the live user working all along; the person then does either thing
 *   the error says (puts the password in AWSCURRENT's `alternate_password`, or sets the database
 *   password back to it), and the rotation must complete;
 * - the live user's: AWSCURRENT no longer logs in, through no fault of the function. The idle
 *   user is promoted regardless (its parity cannot be read; the one case the check is skipped),
 *   which ends the outage: the rotation must complete with AWSCURRENT logging in, and must not
 *   have touched the live user, which keeps the password the person gave it.
 */
function pairChangedOutside(): Scenario[] {
  const idleChanged = async (run: PointRun) => {
    await run.cleanRotation();
    const current = await run.valueAt('AWSCURRENT');
    const hand = handPassword();
    // With the secret's other keys: MongoDB's users live in `dbname`.
    const idle = { ...current, username: current.alternate_username, password: hand };
    await run.target.setPasswordByHand(idle, hand);
    run.history.push('a person sets the idle user’s password by hand');
    const untouched = async (r: PointRun) => {
      if (!(await r.target.canLogIn(idle))) {
        r.problems.push('the failing setSecret changed the idle user’s password');
      }
    };
    // The live user's credentials (AWSCURRENT's) must keep working; the idle one's are the hand's.
    return { current, hand, untouched, working: { ...current, alternate_password: hand } };
  };
  return [
    {
      kind: 'changed-outside',
      label:
        'idle user’s password set by hand: a person must act, is told how, and puts it in AWSCURRENT’s alternate_password',
      run: async (run) => {
        const { working, untouched } = await idleChanged(run);
        await rotateThroughPerson(run, working, untouched);
      },
    },
    {
      kind: 'changed-outside',
      label:
        'idle user’s password set by hand: a person must act, is told how, and sets it back to AWSCURRENT’s alternate_password',
      run: async (run) => {
        const { current, working, untouched } = await idleChanged(run);
        await rotateThroughPerson(run, working, untouched, async (r) => {
          const idle = { ...current, username: current.alternate_username, password: '' };
          await r.target.setPasswordByHand(idle, String(current.alternate_password));
          r.history.push('a person sets the idle user’s password back to AWSCURRENT’s');
        });
      },
    },
    {
      kind: 'changed-outside',
      label:
        'live user’s password set by hand: the rotation promotes the idle user, so AWSCURRENT logs in again, and leaves the live user alone',
      run: async (run) => {
        await run.cleanRotation();
        const current = await run.valueAt('AWSCURRENT');
        const hand = { ...current, password: handPassword() };
        await run.target.setPasswordByHand(current, hand.password);
        run.handChanged = true;
        run.history.push('a person sets the live user’s password by hand');
        const token = await run.requestRotation();
        if (!(await run.driveSteps(STEPS, token))) return;
        await run.checkCompleted(token);
        if (!(await run.target.canLogIn(hand))) {
          run.problems.push('the rotation changed the password the person gave the live user');
        }
      },
    },
  ];
}
