// Bundles functions/<name>/index.ts into dist/<name>/index.js, one self-contained file each, and
// the local runner (cli/index.ts) into dist/cli/index.js with the same settings. The CLI is not a
// function: it is not under functions/, so the SAM template and its test never see it.
import { chmodSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildOptions } from './build-options.mjs';

const names = readdirSync('functions').filter((name) =>
  statSync(join('functions', name)).isDirectory(),
);
rmSync('dist', { recursive: true, force: true });
const cli = join('dist', 'cli', 'index.js');
await Promise.all([
  ...names.map((name) =>
    build({
      ...buildOptions,
      entryPoints: [join('functions', name, 'index.ts')],
      outfile: join('dist', name, 'index.js'),
    }),
  ),
  build({
    ...buildOptions,
    entryPoints: [join('cli', 'index.ts')],
    outfile: cli,
    banner: { js: '#!/usr/bin/env node' },
  }),
]);
chmodSync(cli, 0o755);
for (const name of names) {
  console.log(`dist/${name}/index.js  ${statSync(join('dist', name, 'index.js')).size} bytes`);
}
console.log(`${cli}  ${statSync(cli).size} bytes (the rotation-lambdas CLI)`);
