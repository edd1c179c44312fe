import { spawnSync } from 'node:child_process';
import { percentile, round } from './stats';

export interface ColdStart {
  runs: number;
  /** Process wall time minus the baseline's median. */
  medianMs: number;
  p95Ms: number;
  /** `require(bundle).handler` alone, timed inside the process. */
  requireMedianMs: number;
  /** The same with NODE_OPTIONS=--enable-source-maps, as template.yaml deploys the functions. */
  withSourceMaps: { medianMs: number; p95Ms: number };
}

function wallMs(args: string[], nodeOptions = ''): { ms: number; stdout: string } {
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${run.stderr}`);
  return { ms, stdout: run.stdout };
}

/**
 * The time a fresh Node process takes to load a bundle and get its handler, minus an empty
 * process measured in the same run. Runs are interleaved (baseline, then every bundle, `runs`
 * times) so that drift in the machine's load affects all alike.
 */
export function measureColdStarts(
  bundles: ReadonlyMap<string, string>,
  runs: number,
): {
  baseline: { medianMs: number; p95Ms: number; runs: number };
  results: Map<string, ColdStart>;
} {
  const baseline: number[] = [];
  const times = new Map<string, { wall: number[]; require: number[]; mapped: number[] }>(
    [...bundles.keys()].map((name) => [name, { wall: [], require: [], mapped: [] }]),
  );
  const script = (path: string) =>
    `const t=process.hrtime.bigint();const h=require(${JSON.stringify(path)}).handler;` +
    `if(typeof h!=='function')process.exit(3);process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  for (let i = 0; i < runs; i++) {
    baseline.push(wallMs(['-e', '']).ms);
    for (const [name, path] of bundles) {
      const { ms, stdout } = wallMs(['-e', script(path)]);
      const entry = times.get(name);
      entry?.wall.push(ms);
      entry?.require.push(Number(stdout));
      entry?.mapped.push(wallMs(['-e', script(path)], '--enable-source-maps').ms);
    }
  }
  const base = percentile(baseline, 50);
  const results = new Map<string, ColdStart>();
  for (const [name, { wall, require, mapped }] of times) {
    results.set(name, {
      runs,
      medianMs: round(percentile(wall, 50) - base),
      p95Ms: round(percentile(wall, 95) - base),
      requireMedianMs: round(percentile(require, 50)),
      withSourceMaps: {
        medianMs: round(percentile(mapped, 50) - base),
        p95Ms: round(percentile(mapped, 95) - base),
      },
    });
  }
  return {
    baseline: { medianMs: round(base), p95Ms: round(percentile(baseline, 95)), runs },
    results,
  };
}
