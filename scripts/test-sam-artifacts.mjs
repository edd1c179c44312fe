// Runs the unit and integration suites, the latter against `sam build`'s artifacts (.aws-sam/build),
// which are what `sam deploy` uploads, after checking that each is byte for byte the bundle
// `npm run build` made.
// Usage, after `npm run build` and `sam build`: node scripts/test-sam-artifacts.mjs [jest args]
// The suites run on the Node that runs this script.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

// Only the Metadata blocks are read here, so CloudFormation's tags (!Ref, …) need no meaning.
const template = parse(readFileSync('template.yaml', 'utf8'), { logLevel: 'silent' });
// loadBundle() (test/helpers/rotation-service.ts) wants <dir>/<function folder>/index.js, and SAM
// writes .aws-sam/build/<LogicalId>/index.js: link one to the other.
const linkDir = resolve('.aws-sam', 'by-function');
rmSync(linkDir, { recursive: true, force: true });
mkdirSync(linkDir, { recursive: true });

let differences = 0;
for (const [id, resource] of Object.entries(template.Resources)) {
  if (resource.Metadata?.BuildMethod !== 'esbuild') continue;
  const name = resource.Metadata.BuildProperties.EntryPoints[0].split('/')[1];
  const artifact = join('.aws-sam', 'build', id, 'index.js');
  const bundle = join('dist', name, 'index.js');
  if (!existsSync(artifact)) throw new Error(`${artifact} is missing: run sam build first`);
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
  const same = readFileSync(artifact).equals(readFileSync(bundle));
  if (!same) differences += 1;
  const size = (path) => `${(statSync(path).size / 1024).toFixed(0)} KiB`;
  console.log(
    `${name.padEnd(29)} ${artifact.padEnd(55)} ${size(artifact).padStart(9)} (map ${size(`${artifact}.map`)})` +
      `  ${same ? 'identical to' : 'DIFFERS from'} ${bundle}`,
  );
  symlinkSync(resolve('.aws-sam', 'build', id), join(linkDir, name), 'dir');
}
if (differences > 0) {
  console.error(
    `${differences} SAM artifact(s) differ from npm run build's bundles: compare the template's Metadata with scripts/build-options.mjs`,
  );
  process.exit(1);
}

const jest = join('node_modules', 'jest', 'bin', 'jest.js');
const args = process.argv.slice(2);
console.log(`\nUnit and integration suites on Node ${process.version} against ${linkDir}`);
const result = spawnSync(
  process.execPath,
  [jest, '--selectProjects', 'unit', 'integration', ...args],
  {
    stdio: 'inherit',
    env: { ...process.env, ROTATION_BUNDLE_DIR: linkDir },
  },
);
process.exit(result.status ?? 1);
