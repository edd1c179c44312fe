import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PointResult } from './harness';
import { FAULT_KINDS, type FaultKind } from './points';
import type { Strategy } from './targets';

/** Points generated from a trace but not run, because an equivalent point ran. */
export interface Collapsed {
  family: string;
  server: string;
  strategy: Strategy;
  kind: FaultKind;
  /** e.g. `second-rotation createSecret`. */
  where: string;
  /** What ran instead, and why it is equivalent. */
  equivalentTo: string;
  points: number;
}

/** One row of the summary: a function family and strategy on a server, and one fault kind. */
export interface SummaryRow {
  function: string;
  server: string;
  kind: FaultKind;
  points: number;
  passed: number;
  failed: number;
  notReached: number;
  collapsed: number;
}

/** The directory of the run's fault-matrix reports. */
export function reportDir(runDir: string): string {
  return join(runDir, 'fault-matrix');
}

/** Counts per function, server and fault kind. A point not reached is neither passed nor failed. */
export function summarize(results: readonly PointResult[], collapsed: readonly Collapsed[]) {
  const rows = new Map<string, SummaryRow>();
  const row = (family: string, strategy: string, server: string, kind: FaultKind) => {
    const key = `${family}-${strategy}|${server}|${kind}`;
    let r = rows.get(key);
    if (!r) {
      r = {
        function: `${family}-${strategy}`,
        server,
        kind,
        points: 0,
        passed: 0,
        failed: 0,
        notReached: 0,
        collapsed: 0,
      };
      rows.set(key, r);
    }
    return r;
  };
  for (const p of results) {
    const r = row(p.family, p.strategy, p.server, p.kind);
    r.points++;
    if (!p.reached) r.notReached++;
    else if (p.passed) r.passed++;
    else r.failed++;
  }
  for (const c of collapsed) row(c.family, c.strategy, c.server, c.kind).collapsed += c.points;
  const order = (r: SummaryRow) => FAULT_KINDS.indexOf(r.kind);
  return [...rows.values()].sort(
    (a, b) => a.function.localeCompare(b.function) || order(a) - order(b),
  );
}

/**
 * Writes one test file's part of the matrix: every point with its outcome and history, the
 * collapsed points, and the summary rows the end-of-run reporter prints.
 */
export function writeReport(
  runDir: string,
  name: string,
  results: readonly PointResult[],
  collapsed: readonly Collapsed[],
): void {
  const dir = reportDir(runDir);
  mkdirSync(dir, { recursive: true });
  const summary = summarize(results, collapsed);
  writeFileSync(
    join(dir, `${name}.json`),
    `${JSON.stringify({ summary, collapsed, points: results }, null, 2)}\n`,
  );
}
