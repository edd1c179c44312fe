import { join } from 'node:path';
import { readEnvironment } from '../environment';
import { FaultHarness, type PointResult } from './harness';
import {
  ABSORBED_ACTIONS,
  ABSORBED_KIND,
  type AbsorbedAction,
  type BoundaryPoint,
  FLOWS,
  type Flow,
  type FlowTrace,
  generatePoints,
  pointLabel,
  type StepTrace,
  stepShape,
} from './points';
import { type Collapsed, writeReport } from './report';
import { scenarios } from './scenarios';
import { faultTargets, STRATEGIES, type Strategy } from './targets';

/**
 * Fault points run side by side (each in its own proxies and execution environment); the default
 * suits 2 cores. FAULT_CONCURRENCY overrides it.
 */
const CONCURRENCY = Number(process.env.FAULT_CONCURRENCY) || 6;
/** A point whose boundary did not occur (timing on the wire) is run again up to this often. */
const REACH_TRIES = 5;
/**
 * A point whose boundary did not occur in any of its REACH_TRIES runs tested nothing. Timing on the
 * wire makes that happen now and then under load (0 to 2 points of a function's 250 in CI runs);
 * more than this many, or this share of a test's points, means the traces no longer match the
 * runs, and the test fails.
 */
const MAX_NOT_REACHED = { points: 3, share: 0.02 };
/** Per test: generous, this is not a timed test. */
const TEST_TIMEOUT_MS = 40 * 60_000;

/** Runs `work` over `items`, `limit` at a time, keeping the order of the results. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index] as T);
      }
    }),
  );
  return results;
}

/** Fails when more points than MAX_NOT_REACHED allows never reached their boundary. */
function expectFewNotReached(points: readonly PointResult[]): void {
  const notReached = points.filter((p) => !p.reached);
  if (notReached.length > Math.max(MAX_NOT_REACHED.points, MAX_NOT_REACHED.share * points.length)) {
    throw new Error(
      `${notReached.length} of ${points.length} points never reached their boundary:\n    ${notReached.map((p) => p.label).join('\n    ')}`,
    );
  }
}

/** A failure line for the test's assertion: the point, what broke, and what ran. */
function describeFailure(p: PointResult): string {
  return `${p.family}-${p.strategy} on ${p.server}, ${p.kind}, ${p.label}:\n    ${p.problems.join('\n    ')}\n    ran: ${p.history.join(' → ')}`;
}

/**
 * Defines the fault-matrix tests for one engine's server: for every function family on it and every
 * strategy (single-user, alternating users, and pair mode through the single-user function), the boundary faults generated from clean traces, and the scenario faults. Each test
 * fails if any of its points broke an invariant; every point goes to the run's report.
 */
export function defineFaultSuite(engine: 'postgresql' | 'mariadb' | 'mongodb'): void {
  const env = readEnvironment();
  const targets = faultTargets(env)[engine] ?? [];
  const logFile = join(env.runDir, 'captured-logs', `faults-${engine}-${process.pid}.log`);
  const harnesses = targets.map((target) => new FaultHarness(env, target, logFile));
  const results: PointResult[] = [];
  const collapsed: Collapsed[] = [];
  /** `function-strategy flow step` shapes already covered, for the collapse across functions. */
  const covered = new Map<string, string>();
  const save = () => writeReport(env.runDir, `faults-${engine}`, results, collapsed);

  afterAll(async () => {
    await Promise.all(harnesses.map((h) => h.close()));
    save();
  });

  for (const harness of harnesses) {
    const { target } = harness;
    for (const strategy of target.strategies ?? STRATEGIES) {
      const name = `${target.family}-${strategy} on ${target.serverName}`;

      it(
        `${name}: a fault at every boundary of a rotation breaks no invariant`,
        async () => {
          const mine = await boundaryMatrix(harness, strategy, covered, collapsed);
          results.push(...mine);
          save();
          expect(mine.filter((p) => p.reached && !p.passed).map(describeFailure)).toEqual([]);
          expectFewNotReached(mine);
        },
        TEST_TIMEOUT_MS,
      );

      const parity = strategy === 'pair' && target.revokeRight !== undefined;
      it(
        `${name}: concurrent steps, changes outside rotation, leftover AWSPENDING, testSecret alone${parity ? ', the parity check under faults' : ''}`,
        async () => {
          // The parity sweep runs its points one after another in one world: it starts first.
          const jobs: (() => Promise<PointResult[]>)[] = [
            ...(parity ? [() => harness.runParitySweep()] : []),
            ...scenarios(harness, strategy).map((s) => async () => [
              await harness.runScenario(strategy, s),
            ]),
          ];
          const mine = (await mapLimit(jobs, CONCURRENCY, (job) => job())).flat();
          results.push(...mine);
          save();
          await harness.close(strategy);
          expect(mine.filter((p) => p.reached && !p.passed).map(describeFailure)).toEqual([]);
          expectFewNotReached(mine);
        },
        TEST_TIMEOUT_MS,
      );
    }
  }
}

/**
 * Traces every flow, generates its boundary points, collapses the equivalent ones, runs the rest.
 *
 * Besides the equivalences of {@link generatePoints}, a step is collapsed (and reported so) when
 * its shape ({@link stepShape}: the same requests in the same order) equals that of the same step
 * in an earlier flow of the same function: single-user's second rotation is
 * its first again, alternating users' second rotation differs in setSecret only, and a
 * testSecret-only run's testSecret is the rotation's (what it tests differs, its boundaries do
 * not; the testSecret-only scenarios run it whole). And a function is collapsed onto another whose
 * every flow has the same shape on the same server: mysql-* on MariaDB runs the same adapter as
 * mariadb-*.
 */
async function boundaryMatrix(
  harness: FaultHarness,
  strategy: Strategy,
  covered: Map<string, string>,
  collapsed: Collapsed[],
): Promise<PointResult[]> {
  const { target } = harness;
  const fn = `${target.family}-${strategy}`;
  const traces = await Promise.all(FLOWS.map((flow) => harness.traceFlow(strategy, flow)));

  const collapse = (point: BoundaryPoint, equivalentTo: string, n = 1) =>
    collapsed.push({
      family: target.family,
      server: target.serverName,
      strategy,
      kind: point.kind,
      where: pointLabel(point),
      equivalentTo,
      points: n,
    });
  const collapseSweeps = (flow: Flow, step: StepTrace, equivalentTo: string) => {
    for (const action of ABSORBED_ACTIONS) {
      collapsed.push({
        family: target.family,
        server: target.serverName,
        strategy,
        kind: ABSORBED_KIND[action],
        where: `${flow} ${step.step}: ${action} before each Secrets Manager call`,
        equivalentTo,
        points: step.sm.length,
      });
    }
  };
  const shapeKey = (trace: FlowTrace) =>
    `${target.serverName} ${JSON.stringify(target.functionEnv ?? {})} ${strategy} ${trace.flow} ${trace.steps.map((s) => stepShape(s, trace.loginExchanges)).join(' | ')}`;

  const points: BoundaryPoint[] = [];
  const sweeps: { trace: FlowTrace; action: AbsorbedAction }[] = [];
  const seenSteps = new Map<string, string>();
  for (const trace of traces) {
    const generated = generatePoints(trace);
    const sameAs = covered.get(shapeKey(trace));
    if (sameAs && sameAs !== fn) {
      const why = `${sameAs}: same adapter, same trace`;
      for (const p of generated.points) collapse(p, why);
      for (const c of generated.collapsed) collapse(c.point, why);
      for (const step of trace.steps) collapseSweeps(trace.flow, step, why);
      continue;
    }
    covered.set(shapeKey(trace), fn);
    const keep = new Set<string>();
    for (const step of trace.steps) {
      const shape = stepShape(step, trace.loginExchanges);
      const earlier = seenSteps.get(shape);
      if (earlier) {
        const why = `${earlier}: same boundaries`;
        for (const p of generated.points.filter((q) => q.step === step.step)) collapse(p, why);
        for (const c of generated.collapsed.filter((q) => q.point.step === step.step)) {
          collapse(c.point, why);
        }
        collapseSweeps(trace.flow, step, why);
        continue;
      }
      seenSteps.set(shape, `${trace.flow} ${step.step}`);
      keep.add(step.step);
    }
    points.push(...generated.points.filter((p) => keep.has(p.step)));
    for (const c of generated.collapsed.filter((q) => keep.has(q.point.step))) {
      collapse(c.point, c.equivalentTo);
    }
    if (keep.size > 0) {
      const kept = {
        ...trace,
        steps: trace.steps.map((s) => (keep.has(s.step) ? s : { ...s, sm: [] })),
      };
      for (const action of ABSORBED_ACTIONS) sweeps.push({ trace: kept, action });
    }
  }

  // Long runs first (stalls wait for a time limit, sweeps for back-off), so the pool stays full.
  const ordered = [...points].sort(
    (a, b) => Number(b.action === 'stall') - Number(a.action === 'stall'),
  );
  const jobs: (() => Promise<PointResult[]>)[] = [
    ...sweeps.map(
      ({ trace, action }) =>
        () =>
          harness.runAbsorbedSweep(strategy, trace, action),
    ),
    ...ordered.map((point) => async () => {
      let result = await harness.runBoundaryPoint(strategy, point);
      for (let tries = 1; !result.reached && tries < REACH_TRIES; tries++) {
        result = await harness.runBoundaryPoint(strategy, point);
      }
      return [result];
    }),
  ];
  return (await mapLimit(jobs, CONCURRENCY, (job) => job())).flat();
}
