// Runs a TypeScript script (benchmarks, tools) by bundling it with esbuild first: no extra runtime.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const [entry, ...args] = process.argv.slice(2);
// Inside the project, so the bundle's external packages resolve from node_modules.
const dir = join('node_modules', '.cache', 'run-ts');
mkdirSync(dir, { recursive: true });
const outfile = join(dir, `${process.pid}.cjs`);
await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  packages: 'external',
  outfile,
  sourcemap: 'inline',
  logLevel: 'warning',
});
const result = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
