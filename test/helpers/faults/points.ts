import type { ConnectionTrace, ExchangeTrace } from './db-proxy';
import { callLabel, type SmCall } from './sm-proxy';

/** The four steps, in the order Secrets Manager calls them. */
export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type Step = (typeof STEPS)[number];

/**
 * How the service drives the function in a faulted run:
 * - `rotation`: the first rotation of a fresh secret (alternating users: creates the clone);
 * - `second-rotation`: the next one, after a clean first (alternating users: back to the base
 *   user, whose clone now exists);
 * - `test-alone`: RotateSecret with RotateImmediately=false, which runs testSecret only.
 */
export const FLOWS = ['rotation', 'second-rotation', 'test-alone'] as const;
export type Flow = (typeof FLOWS)[number];

/** The steps a flow runs. */
export function flowSteps(flow: Flow): readonly Step[] {
  return flow === 'test-alone' ? ['testSecret'] : STEPS;
}

/** The fault kinds of the issue: the report's columns. */
export const FAULT_KINDS = [
  'process-killed',
  'connection-dropped',
  'sm-throttling',
  'sm-5xx',
  'db-unreachable',
  'step-timeout',
  'concurrent-step',
  'changed-outside',
  'leftover-pending',
  'test-alone',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** What a clean run of one step crossed: its Secrets Manager calls and database connections. */
export interface StepTrace {
  step: Step;
  sm: SmCall[];
  db: ConnectionTrace[];
}

/** A flow's boundaries, from clean traced runs. */
export interface FlowTrace {
  flow: Flow;
  steps: StepTrace[];
  /**
   * How many exchanges the engine adapter's own `connect` takes (TLS, authentication, and the
   * session set-up it runs), measured by a login through the proxy. A connection's first
   * exchanges up to this many are its login; the rest are statements.
   */
  loginExchanges: number;
}

/**
 * The part of several traces of the same flow that every one of them has: the same Secrets
 * Manager calls, the same connections, each connection's exchanges up to the fewest seen, and an
 * exchange counted as answered only if it was answered every time. Timing decides a few things on
 * the wire (whether a TLS close_notify or session ticket travels with a message or alone, whether
 * a client that is done sends a Terminate before closing); faults are placed only where every run
 * has a boundary.
 */
export function stableTrace(traces: readonly FlowTrace[]): FlowTrace {
  const [first, ...rest] = traces;
  if (!first) throw new Error('no traces');
  const steps = first.steps.map((step, s) => {
    const others = rest.map((t) => t.steps[s] as StepTrace);
    const operations = (t: StepTrace) => t.sm.map(callLabel).join(',');
    for (const other of others) {
      if (operations(other) !== operations(step)) {
        throw new Error(
          `${step.step} made different Secrets Manager calls in two clean runs: ${operations(step)} / ${operations(other)}`,
        );
      }
      if (other.db.length !== step.db.length) {
        throw new Error(
          `${step.step} opened ${step.db.length} and ${other.db.length} database connections in two clean runs`,
        );
      }
    }
    const db = step.db.map((connection, c) => {
      const all = [connection, ...others.map((o) => o.db[c] as ConnectionTrace)];
      const count = Math.min(...all.map((t) => t.exchanges.length));
      return {
        ...connection,
        exchanges: connection.exchanges.slice(0, count).map((exchange, e) => ({
          clientBytes: exchange.clientBytes,
          sequence: exchange.sequence,
          serverBytes: all.every((t) => (t.exchanges[e]?.serverBytes ?? 0) > 0)
            ? exchange.serverBytes
            : 0,
        })),
      };
    });
    return { ...step, db };
  });
  const loginExchanges = Math.min(...traces.map((t) => t.loginExchanges));
  return { flow: first.flow, steps, loginExchanges };
}

/** Where a boundary fault lands, in the faulted attempt's own counting (from its start). */
export type Boundary =
  | { type: 'sm'; call: number; operation: string; phase: 'before' | 'after' }
  | {
      type: 'db';
      connection: number;
      exchange: number;
      phase: 'before' | 'after';
      /** `login`, or the statement's number within the connection (1-based). */
      what: string;
    }
  | { type: 'db-connect'; connection: number };

/**
 * What is done at the boundary. Secrets Manager: `refuse` closes the socket unanswered, `error500`
 * and `throttle` answer with that error, `drop` closes the socket instead of delivering the answer,
 * `stall` holds the request until the step's time limit, `kill` SIGKILLs the function's process.
 * Database: `drop` resets the client's connection and leaves the server's open and silent (see
 * {@link DbAction}), `stall` holds all traffic, `kill` as above, `refuse`
 * resets this connection and every later one of the attempt (the server is unreachable).
 */
export type FaultAction = 'refuse' | 'error500' | 'throttle' | 'drop' | 'stall' | 'kill';

/** One generated boundary fault. */
export interface BoundaryPoint {
  flow: Flow;
  step: Step;
  kind: FaultKind;
  boundary: Boundary;
  action: FaultAction;
  /**
   * A stall that stands for the others of its stream (Secrets Manager calls, or one connection's
   * statements): it must end at the time limit, which shows no timer runs there.
   */
  witness?: boolean;
  /**
   * The SDK's retry must absorb the fault, so the faulted attempt itself succeeds: an answer of
   * Secrets Manager that is lost, since the SDK replays the call and every call the function makes
   * must be safe to replay.
   */
  absorbed?: boolean;
}

/** A generated point that does not run, because another point makes the same world. */
export interface CollapsedPoint {
  point: BoundaryPoint;
  equivalentTo: string;
}

/**
 * Faults that never reach the server, so the SDK's retry must absorb them and the step succeed:
 * a refused connection, a 500 and a throttling error, before a Secrets Manager call.
 */
export const ABSORBED_ACTIONS = ['refuse', 'error500', 'throttle'] as const;
export type AbsorbedAction = (typeof ABSORBED_ACTIONS)[number];

export const ABSORBED_KIND: Record<AbsorbedAction, FaultKind> = {
  refuse: 'connection-dropped',
  error500: 'sm-5xx',
  throttle: 'sm-throttling',
};

/** A readable, unique name for a point. */
export function pointLabel(point: BoundaryPoint): string {
  return `${point.flow} ${point.step}: ${boundaryLabel(point.boundary)}: ${point.action}`;
}

export function boundaryLabel(b: Boundary): string {
  if (b.type === 'sm') return `SM call ${b.call + 1} ${b.operation} ${b.phase}`;
  if (b.type === 'db-connect') return `DB conn ${b.connection + 1} connect`;
  const what = b.what === 'login' ? 'login' : `statement ${b.what}`;
  return `DB conn ${b.connection + 1} ${what} ${b.phase}`;
}

/** A boundary of one step, with when it happened in the traced run. */
interface Located {
  boundary: Boundary;
  /** The order of the boundaries in the step (an `after` comes right after its `before`). */
  order: number;
  /** Secrets Manager calls, or the statements of one connection: where a timer would be set. */
  stream: string;
  first: boolean;
  login: boolean;
}

/**
 * The boundaries of one step, from the stable trace:
 * - before and after every Secrets Manager call;
 * - every database connection's start (where it can be refused);
 * - before its login (its first exchange) and after it (the answer to its last login exchange);
 * - before and after every later exchange, each a statement (after only if the server answered),
 *   but for the client's closing message.
 * Exchanges inside the login (TLS handshake, authentication round trips) are one boundary: the
 * server holds no state from a login that has not finished.
 */
function locate(step: StepTrace, loginExchanges: number): Located[] {
  const out: Located[] = [];
  for (const call of step.sm) {
    for (const phase of ['before', 'after'] as const) {
      out.push({
        boundary: { type: 'sm', call: call.index, operation: call.operation, phase },
        order: call.sequence + (phase === 'after' ? 0.5 : 0),
        stream: 'sm',
        first: call.index === 0,
        login: false,
      });
    }
  }
  for (const c of step.db) {
    const first = c.exchanges[0];
    out.push({
      boundary: { type: 'db-connect', connection: c.connection },
      order: (first?.sequence ?? Number.MAX_SAFE_INTEGER) - 0.25,
      stream: `db ${c.connection}`,
      first: false,
      login: true,
    });
    const login = Math.min(loginExchanges, c.exchanges.length);
    const at = (e: number, phase: 'before' | 'after', what: string, sequence: number) =>
      out.push({
        boundary: { type: 'db', connection: c.connection, exchange: e, phase, what },
        order: sequence + (phase === 'after' ? 0.5 : 0),
        stream: `db ${c.connection}`,
        first: e === login,
        login: what === 'login',
      });
    if (first && login > 0) {
      at(0, 'before', 'login', first.sequence);
      const last = c.exchanges[login - 1];
      if (last && last.serverBytes > 0) at(login - 1, 'after', 'login', last.sequence);
    }
    // A last exchange left unanswered in some clean run is the client closing the connection
    // (PostgreSQL's Terminate, MySQL's COM_QUIT, TLS close_notify): nothing waits on it, and a
    // kill before it is the kill after the answer it follows.
    const lastAnswered = (c.exchanges.at(-1)?.serverBytes ?? 0) > 0;
    const end =
      c.exchanges.length > login && !lastAnswered ? c.exchanges.length - 1 : c.exchanges.length;
    for (let e = login; e < end; e++) {
      const exchange = c.exchanges[e] as ExchangeTrace;
      const what = String(e - login + 1);
      at(e, 'before', what, exchange.sequence);
      if (exchange.serverBytes > 0) at(e, 'after', what, exchange.sequence);
    }
  }
  return out.sort((a, b) => a.order - b.order);
}

/**
 * What a step's boundaries are, to compare steps of different flows or functions: the Secrets
 * Manager operations, and each connection's login and the size of each statement it sends, in
 * order. Two steps with the same shape send the same requests in the same order; the logins'
 * sizes are left out (they differ with the username, which changes no boundary).
 */
export function stepShape(step: StepTrace, loginExchanges: number): string {
  const sizes = new Map(
    step.db.flatMap((c) => c.exchanges.map((e, i) => [`${c.connection}.${i}`, e.clientBytes])),
  );
  return locate(step, loginExchanges)
    .map(({ boundary: b }) => {
      if (b.type === 'sm') return `sm ${b.operation} ${b.phase}`;
      if (b.type === 'db-connect') return `db ${b.connection} connect`;
      const size = b.what === 'login' ? '' : ` ${sizes.get(`${b.connection}.${b.exchange}`)}B`;
      return `db ${b.connection} ${b.what} ${b.phase}${size}`;
    })
    .join(', ');
}

/**
 * The boundary faults of a flow, and the ones that need not run because another point makes the
 * same world:
 * - `process-killed` before every boundary, and after the last one of each step. A kill after a
 *   boundary is the kill before the next one: nothing the world can see happens in between.
 * - `connection-dropped`: before and after every login and statement, and the answer of every
 *   Secrets Manager call dropped: the SDK's retry replays the call, which must then succeed, so
 *   the attempt does. Refusals before a Secrets Manager call run as sweeps with the other
 *   absorbed faults ({@link ABSORBED_ACTIONS}).
 * - `db-unreachable`: every connection refused, and every later one of the attempt.
 * - `step-timeout`: a stall before and after every login, where the function sets a connect
 *   timeout. Elsewhere neither the function nor its drivers set a timer (the SDK client has no
 *   request timeout, pg and mysql2 none on a query, MongoDB's socket timeout of 15 s is beyond
 *   the harness's time limit), so a stall ends at the time limit: the world of a kill at that
 *   boundary. The first Secrets Manager call of each step and the first statement of each
 *   connection still stall, as witnesses that no timer fires there.
 */
export function generatePoints(trace: FlowTrace): {
  points: BoundaryPoint[];
  collapsed: CollapsedPoint[];
} {
  const points: BoundaryPoint[] = [];
  const collapsed: CollapsedPoint[] = [];
  for (const step of trace.steps) {
    const located = locate(step, trace.loginExchanges);
    const make = (
      b: Located,
      kind: FaultKind,
      action: FaultAction,
      extra: Partial<BoundaryPoint> = {},
    ): BoundaryPoint => ({
      flow: trace.flow,
      step: step.step,
      kind,
      boundary: b.boundary,
      action,
      ...extra,
    });
    const run = (point: BoundaryPoint) => points.push(point);
    const collapse = (point: BoundaryPoint, equivalentTo: string) =>
      collapsed.push({ point, equivalentTo });
    located.forEach((b, i) => {
      const { boundary } = b;
      if (boundary.type === 'db-connect') {
        run(make(b, 'db-unreachable', 'refuse'));
        return;
      }
      const next = located
        .slice(i + 1)
        .find((l) => l.boundary.type !== 'db-connect' && l.boundary.phase === 'before');
      const killHere = make(b, 'process-killed', 'kill');
      if (boundary.phase === 'before' || !next) run(killHere);
      else collapse(killHere, `kill at ${boundaryLabel(next.boundary)}: nothing happens between`);
      if (boundary.type === 'db') run(make(b, 'connection-dropped', 'drop'));
      else if (boundary.phase === 'after') {
        run(make(b, 'connection-dropped', 'drop', { absorbed: true }));
      }
      const stall = make(b, 'step-timeout', 'stall');
      if (b.login) run(stall);
      else if (b.first && boundary.phase === 'before') run({ ...stall, witness: true });
      else collapse(stall, `kill at ${boundaryLabel(boundary)}: no timer, ends at the time limit`);
    });
  }
  return { points, collapsed };
}
