import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// Every command the README's shell blocks give a user, and where CI runs it, or why it does not.
// A command added to the README without an entry here fails this test, and so does an entry whose
// CI file no longer runs it: the README cannot drift from what CI checks.

const root = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

type Entry =
  | { command: string | RegExp; runIn: string; as: string }
  | { command: string | RegExp; notRun: string };

const LEDGER: readonly Entry[] = [
  { command: 'npm ci', runIn: '.ci/run', as: 'npm ci' },
  { command: 'npm run demo', runIn: '.ci/run', as: 'npm run demo' },
  { command: 'npm test', runIn: '.ci/run', as: 'npm test' },
  // `npm test` builds first; the README's Build section shows the step on its own.
  { command: 'npm run build', runIn: 'package.json', as: 'npm run build' },
  {
    command: /^npm run build && npx jest --testPathPatterns integration\/faults\//,
    runIn: 'package.json',
    as: 'jest --selectProjects unit integration',
  },
  {
    command: 'npm run test:containers:local',
    runIn: '.ci/run',
    as: 'npm run test:containers:local',
  },
  {
    command: 'sudo bash scripts/local-images.sh',
    runIn: '.ci/run',
    as: 'bash scripts/local-images.sh',
  },
  { command: 'sam build', runIn: 'scripts/ci-deploy-checks.sh', as: '"$SAM" build' },
  {
    command: /^arn=\$\(aws cloudformation describe-stacks --stack-name rotation-lambdas /,
    runIn: 'scripts/check-examples.sh',
    as: 'Attach a function to a secret',
  },
  {
    command: /^aws secretsmanager rotate-secret --secret-id app-db /,
    runIn: 'scripts/check-examples.sh',
    as: 'Attach a function to a secret',
  },
  {
    command: 'npm run test:containers',
    notRun:
      'needs Docker and a registry (the official images); CI runs the same script through `npm run test:containers:local`',
  },
  {
    command: /^node dist\/cli\/index\.js rotate --secret-id prod\/app-db /,
    notRun:
      'rotates a production secret in a real account; test/integration/cli.test.ts runs `node dist/cli/index.js rotate` against moto and real servers',
  },
  {
    command: /^npm run cli -- rotate --secret-id app-db .*--endpoint .*--ca-file .*--env /,
    notRun:
      'needs that secret and its server; test/integration/cli.test.ts runs rotate with --endpoint, --ca-file and --env',
  },
  {
    command: /^node dist\/cli\/index\.js preflight --secret-id prod\/app-db \[/,
    notRun:
      'a synopsis (optional parts in brackets); test/integration/cli.test.ts runs preflight, with --function and --json',
  },
  {
    command: 'npm run bench',
    notRun:
      'takes minutes of measurement on a shared two-core machine; figures belong to benchmarks, not to CI',
  },
  { command: 'sam deploy --guided', notRun: 'needs an AWS account, and asks questions' },
  {
    command: /^aws secretsmanager get-secret-value --secret-id prod\/app-db .*alternate_username/,
    notRun:
      'reads a production secret (the migration to a pair); test/integration/pair-mode.test.ts stores pair secrets with the same two keys',
  },
  {
    command:
      'aws secretsmanager put-secret-value --secret-id prod/app-db --secret-string file:///tmp/pair.json',
    notRun:
      'changes a production secret (the migration to a pair); test/integration/pair-mode.test.ts stores pair secrets and rotates them',
  },
  { command: 'rm /tmp/pair.json', notRun: 'removes the file the migration wrote' },
  {
    command: 'node dist/cli/index.js preflight --secret-id prod/app-db',
    notRun:
      'checks a production secret; test/integration/pair-mode.test.ts runs preflight on pair secrets',
  },
];

/** The commands of the README's `sh` blocks: continuations joined, comments and blank lines dropped. */
function readmeCommands(): string[] {
  const blocks = [...read('README.md').matchAll(/^```(?:sh|bash)\n([\s\S]*?)^```/gm)];
  return blocks.flatMap((block) =>
    (block[1] ?? '')
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      // `a && b` on one line is two commands, unless the ledger knows the pair.
      .flatMap((line) =>
        LEDGER.some((entry) => matches(entry, line)) ? [line] : line.split(/\s+&&\s+/),
      ),
  );
}

/**
 * Whether `file` runs `command` as a whole command (not a longer one, not in a comment or an echo).
 * For the README block run by check-examples.sh, `command` is the heading it extracts.
 */
function runs(file: string, command: string): boolean {
  const code = read(file)
    .split('\n')
    .filter((line) => !/^\s*(#|echo )/.test(line))
    .join('\n');
  const escaped = command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[\\s"'&;(])${escaped}($|[\\s"'&;)])`, 'm').test(code);
}

function matches(entry: Entry, command: string): boolean {
  return typeof entry.command === 'string'
    ? entry.command === command
    : entry.command.test(command);
}

describe('README commands', () => {
  const commands = readmeCommands();

  it('finds the shell blocks (so the checks below cannot pass on nothing)', () => {
    expect(commands.length).toBeGreaterThanOrEqual(15);
    expect(commands).toContain('npm test');
  });

  it.each(commands)('%s: CI runs it, or the ledger says why not', (command) => {
    const entries = LEDGER.filter((entry) => matches(entry, command));
    expect(entries).toHaveLength(1);
  });

  it.each(
    LEDGER.flatMap((entry) => ('runIn' in entry ? [entry] : [])).map(
      (entry) => [String(entry.command), entry] as const,
    ),
  )('%s: still run by its CI file', (_name, entry) => {
    expect(runs(entry.runIn, entry.as)).toBe(true);
  });

  it('has no entry for a command the README no longer gives', () => {
    const stale = LEDGER.filter((entry) => !commands.some((command) => matches(entry, command)));
    expect(stale.map((entry) => String(entry.command))).toEqual([]);
  });

  it('runs npm test as the test command: .ci/run calls exactly the README quick start command', () => {
    expect(read('.ci/run')).toMatch(/^npm test$/m);
  });
});
