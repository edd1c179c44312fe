// Bundles functions/<name>/index.ts into dist/<name>/index.js, one self-contained file each.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildOptions } from './build-options.mjs';

const names = readdirSync('functions').filter((name) =>
  statSync(join('functions', name)).isDirectory(),
);
rmSync('dist', { recursive: true, force: true });
await Promise.all(
  names.map((name) =>
    build({
      ...buildOptions,
      entryPoints: [join('functions', name, 'index.ts')],
      outfile: join('dist', name, 'index.js'),
    }),
  ),
);
for (const name of names) {
  console.log(`dist/${name}/index.js  ${statSync(join('dist', name, 'index.js')).size} bytes`);
}
