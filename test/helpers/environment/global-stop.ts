/** Where globalSetup leaves the stop function for globalTeardown (both run in jest's parent process). */
const STOP_KEY = '__rotationTestEnvironmentStop';

type StopHolder = typeof globalThis & { [STOP_KEY]?: (() => Promise<void>) | undefined };

/** Keeps `stop` for {@link takeStop}. */
export function rememberStop(stop: () => Promise<void>): void {
  (globalThis as StopHolder)[STOP_KEY] = stop;
}

/** Returns and forgets the function kept by {@link rememberStop}, if any. */
export function takeStop(): (() => Promise<void>) | undefined {
  const holder = globalThis as StopHolder;
  const stop = holder[STOP_KEY];
  delete holder[STOP_KEY];
  return stop;
}
