'use strict';
// One execution environment of a rotation function, as Lambda keeps one warm: it loads a built
// bundle once and runs one invocation at a time, sent by the fault harness (step-runner.ts) over
// IPC. Each message sets the variables Lambda would set for the invocation, then calls the handler.
// What the handler logs goes to stdout/stderr, which the parent appends to the run's captured logs.

const handlers = new Map();

// The bundles named on the command line are loaded at start, as Lambda's init phase does, so an
// environment lent out after another was killed is warm.
for (const bundle of process.argv.slice(2)) handlers.set(bundle, require(bundle).handler);

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`unhandledRejection: ${reason?.stack ?? String(reason)}\n`);
});

process.on('message', async (message) => {
  const { id, bundle, env, event } = message;
  for (const [key, value] of Object.entries(env)) {
    if (value === null) delete process.env[key];
    else process.env[key] = value;
  }
  let reply;
  try {
    let handler = handlers.get(bundle);
    if (!handler) {
      handler = require(bundle).handler;
      handlers.set(bundle, handler);
    }
    await handler(event);
    reply = { id, ok: true };
  } catch (error) {
    reply = {
      id,
      ok: false,
      error: { name: error?.name, message: error?.message, stack: error?.stack },
    };
  }
  if (process.connected) process.send(reply);
});

process.send({ ready: true });
