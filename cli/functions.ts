import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { DatabaseEngine } from '../shared/engines/engine';
import { mongodb } from '../shared/engines/mongodb';
import { mariadb, mysql } from '../shared/engines/mysql';
import { postgresql } from '../shared/engines/postgresql';
import { alternatingUsers } from '../shared/strategies/alternating-users';
import { singleUser } from '../shared/strategies/single-user';
import type { RotationStrategy } from '../shared/strategies/strategy';

/** One of the project's functions: which adapter and which strategy its bundle wires together. */
export interface FunctionSpec {
  name: string;
  engine: DatabaseEngine;
  strategy: RotationStrategy;
}

const ENGINES = [postgresql, mysql, mariadb, mongodb];
const STRATEGIES = [singleUser, alternatingUsers];

/** Every function under functions/, by folder name (`<engine>-<strategy>`). */
export const FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map(
  ENGINES.flatMap((engine) =>
    STRATEGIES.map((strategy): [string, FunctionSpec] => {
      const name = `${engine.name}-${strategy.name}`;
      return [name, { name, engine, strategy }];
    }),
  ),
);

/** A usage error: the command line is wrong. The CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The function named `name`, or a UsageError listing the names. */
export function functionSpec(name: string): FunctionSpec {
  const spec = FUNCTIONS.get(name);
  if (!spec) {
    throw new UsageError(
      `Unknown function "${name}": expected one of ${[...FUNCTIONS.keys()].join(', ')}`,
    );
  }
  return spec;
}

/**
 * The function that serves a secret: its engine from the secret's `engine` key, its strategy from
 * whether it names a master secret (`masterarn`). `undefined` when no adapter serves the engine.
 */
export function inferFunction(secretEngine: string, hasMaster: boolean): FunctionSpec | undefined {
  const engine = ENGINES.find((e) => e.secretEngines.includes(secretEngine));
  if (!engine) return undefined;
  return FUNCTIONS.get(`${engine.name}-${hasMaster ? alternatingUsers.name : singleUser.name}`);
}

/** Every `engine` value some function serves, for messages. */
export const SECRET_ENGINES: readonly string[] = ENGINES.flatMap((e) => e.secretEngines);

/** A Lambda handler as the bundles export it. */
export type Handler = (event: unknown, context?: unknown) => Promise<unknown>;

/** A bundle's `startRotation` export: createSecret that may start the rotation (runner only). */
export type Starter = (request: {
  SecretId: string;
  ClientRequestToken: string;
}) => Promise<unknown>;

/** What the runner uses of a bundle: the Lambda handler, and the start the handler never does. */
export interface LoadedFunction {
  handler: Handler;
  startRotation: Starter;
}

/**
 * Where the built bundle of a function is: `dist/<name>/index.js`, next to this CLI's own
 * `dist/cli/index.js`.
 */
export function bundlePath(name: string, cliDir: string = __dirname): string {
  return join(cliDir, '..', name, 'index.js');
}

/** Loads a bundle and returns its `handler` export; a UsageError says what is missing. */
export function loadFunction(path: string): LoadedFunction {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new UsageError(`No bundle at ${file}: run \`npm run build\` first, or pass --bundle`);
  }
  const loaded = createRequire(__filename)(file) as { handler?: unknown; startRotation?: unknown };
  for (const name of ['handler', 'startRotation'] as const) {
    if (typeof loaded[name] !== 'function') {
      throw new UsageError(`${file} does not export a function named "${name}"`);
    }
  }
  return { handler: loaded.handler as Handler, startRotation: loaded.startRotation as Starter };
}
