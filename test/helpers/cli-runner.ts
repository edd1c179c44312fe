import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/** The built CLI, as users run it. */
export const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'index.js');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/cli/index.js …args` in a child process with dummy AWS credentials, and appends
 * everything it printed to `logFile`, so the run's leak scan searches the CLI's output too.
 */
export function runCli(
  args: string[],
  logFile: string,
  env: Record<string, string | undefined> = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_REGION: 'us-east-1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (status) => {
      appendFileSync(logFile, `$ rotation-lambdas ${args.join(' ')}\n${stdout}${stderr}`);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * `--function <name>` for dist/, or `--bundle <dir>/<name>/index.js` when ROTATION_BUNDLE_DIR
 * points the suites at other bundles (sam build's artifacts).
 */
export function functionArgs(name: string): string[] {
  const dir = process.env.ROTATION_BUNDLE_DIR;
  return dir ? ['--bundle', join(dir, name, 'index.js')] : ['--function', name];
}
