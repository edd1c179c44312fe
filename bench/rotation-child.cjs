// One Lambda-like process: loads a function bundle, runs `count` full rotations of one secret in
// the runner's start mode (createSecret through the bundle's startRotation export), then reports
// its peak RSS over IPC.
// Usage (with an IPC channel): node rotation-child.cjs <bundle> <secretId> <count>
const { randomUUID } = require('node:crypto');
const { readFileSync } = require('node:fs');

/**
 * Peak RSS of this address space, in kB. Not process.resourceUsage().maxRSS: on Linux that keeps
 * the high-water mark of the parent's copy from before exec, so it reports the bench's own size.
 */
function peakRssKb() {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : process.resourceUsage().maxRSS;
}

const [bundle, secretId, count] = process.argv.slice(2);
const steps = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

async function main() {
  const { handler, startRotation } = require(bundle);
  const afterLoadKb = peakRssKb();
  for (let i = 0; i < Number(count); i++) {
    const token = randomUUID();
    for (const Step of steps) {
      const event = { Step, SecretId: secretId, ClientRequestToken: token };
      await (Step === 'createSecret' ? startRotation(event) : handler(event));
    }
  }
  process.send({ maxRssKb: peakRssKb(), afterLoadKb });
}

main().catch((error) => {
  process.send({ error: `${error.name}: ${error.message}` });
  process.exitCode = 1;
});
