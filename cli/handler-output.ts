/**
 * Runs a handler with its log output (Powertools JSON lines on stdout) caught, so the runner can
 * show progress in its own words: the step's outcome, warnings, and, with --verbose, every line.
 */

/** What one invocation printed, sorted out. */
export interface HandlerOutput {
  /** The `outcome` of the handler's "Rotation step succeeded" line, if it logged one. */
  outcome: string | undefined;
  /** WARN lines, as `message (key: value, …)`. */
  warnings: string[];
  /** Every line as printed. */
  lines: string[];
}

type Write = typeof process.stdout.write;

/** Invokes `work` with stdout and stderr caught; never lets the caught output through. */
export async function withCapturedOutput<T>(
  work: () => Promise<T>,
): Promise<{ result?: T; error?: unknown; output: HandlerOutput }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((s) => s.write);
  const capture = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as Write;
  for (const stream of streams) stream.write = capture;
  try {
    const result = await work();
    return { result, output: sortOutput(chunks.join('')) };
  } catch (error) {
    return { error, output: sortOutput(chunks.join('')) };
  } finally {
    streams.forEach((s, i) => {
      s.write = originals[i] as Write;
    });
  }
}

/** Sorts the Powertools JSON lines of one invocation; other lines are kept as they are. */
export function sortOutput(text: string): HandlerOutput {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  let outcome: string | undefined;
  const warnings: string[] = [];
  for (const line of lines) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof entry !== 'object' || entry === null) continue;
    if (entry.message === 'Rotation step succeeded' && typeof entry.outcome === 'string') {
      outcome = entry.outcome;
    }
    if (entry.level === 'WARN') warnings.push(describeWarning(entry));
  }
  return { outcome, warnings, lines };
}

/** Keys every Powertools line carries; the others are the warning's own details. */
const STANDARD_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'sampling_rate',
  'xray_trace_id',
  'engine',
  'strategy',
  'secretId',
  'secretArn',
  'step',
  'token',
]);

function describeWarning(entry: Record<string, unknown>): string {
  const details = Object.entries(entry)
    .filter(([key]) => !STANDARD_KEYS.has(key))
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `${String(entry.message)}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}
