// Builds the local container images of test/helpers/environment/images.ts, for the suites'
// testcontainers path where no image registry is reachable: each one is a Debian root made with
// debootstrap, its packages installed with apt (and PyPI, for moto), imported into podman with
// the official image's entry point contract (test/images/*-entrypoint.sh).
//
// An image whose recipe has not changed is kept (the recipe's hash is its label): a fresh machine
// builds them all, a warm one none. One progress line per image.
//
// Usage (as root, with debootstrap and podman; scripts/local-images.sh runs it):
//   node scripts/run-ts.mjs scripts/build-test-images.ts [--refresh]
// Roots are made under ${ROTATION_IMAGE_ROOTS:-$XDG_CACHE_HOME/rotation-lambdas/image-roots}.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ALL_IMAGES, type LocalRecipe, type ServerImage } from '../test/helpers/environment/images';
import { defaultFerretdbPath } from '../test/helpers/environment/local-ferretdb';

const RECIPE_LABEL = 'org.rotation-lambdas.recipe';
const VERSION_LABEL = 'org.rotation-lambdas.server-version';
const refresh = process.argv.includes('--refresh');
const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
const roots =
  process.env.ROTATION_IMAGE_ROOTS || join(cacheHome, 'rotation-lambdas', 'image-roots');
// Run from the repository's root, as npm scripts and scripts/local-images.sh do.
const repository = process.cwd();

function fail(message: string): never {
  process.stderr.write(`build-test-images: ${message}\n`);
  process.exit(1);
}

function say(message: string): void {
  process.stdout.write(`build-test-images: ${message}\n`);
}

/** Runs a command, failing with the tail of its output if it fails; resolves to its standard output. */
function run(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve(stdout);
      const tail = output.trim().split('\n').slice(-30).join('\n');
      reject(new Error(`\`${file} ${args.join(' ')}\` failed (exit ${code}):\n${tail}`));
    });
  });
}

/**
 * The machine's Debian mirror: $DEBIAN_MIRROR, else the first URI that is not the security archive
 * of a deb822 source (`URIs:`) or a one-line source (`deb <uri> …`), as scripts/install-sid-servers.sh
 * finds it. Nothing is hard-coded, so a machine behind its own mirror uses that one.
 */
function debianMirror(): string {
  if (process.env.DEBIAN_MIRROR) return process.env.DEBIAN_MIRROR;
  const read = (dir: string, suffix: string) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((file) => file.endsWith(suffix))
          .map((file) => readFileSync(join(dir, file), 'utf8'))
      : [];
  const deb822 = read('/etc/apt/sources.list.d', '.sources')
    .flatMap((text) => [...text.matchAll(/^URIs:(.*)$/gm)])
    .flatMap((match) => (match[1] ?? '').trim().split(/\s+/));
  const oneLine = [
    ...(existsSync('/etc/apt/sources.list') ? [readFileSync('/etc/apt/sources.list', 'utf8')] : []),
    ...read('/etc/apt/sources.list.d', '.list'),
  ]
    .flatMap((text) => [...text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)])
    .map((match) => match[1] ?? '');
  const mirror = [...deb822, ...oneLine].find(
    (uri) => /^[a-z]+:\/\//.test(uri) && !uri.includes('security'),
  );
  return (
    mirror ?? fail('cannot find a Debian mirror in /etc/apt/sources.list(.d): set DEBIAN_MIRROR')
  );
}

/** A cached `debootstrap --variant=minbase` root of `release`, made once per machine. */
async function base(release: 'bookworm' | 'sid'): Promise<string> {
  const root = join(roots, `base-${release}`);
  const stamp = join(root, '.rotation-lambdas-base');
  if (existsSync(stamp) && !refresh) return root;
  await run('rm', ['-rf', root]);
  mkdirSync(roots, { recursive: true });
  const started = Date.now();
  await run('debootstrap', ['--variant=minbase', release, root, debianMirror()]);
  // Servers (postgresql-common's, say) must not start in the root while they are installed.
  writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  mkdirSync(join(root, 'etc/postgresql-common'), { recursive: true });
  writeFileSync(
    join(root, 'etc/postgresql-common/createcluster.conf'),
    'create_main_cluster = false\n',
  );
  // mariadb-install-db refuses to run unless `localhost` resolves; a minbase root has no hosts file.
  writeFileSync(
    join(root, 'etc/hosts'),
    '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  );
  writeFileSync(stamp, `${release}\n`);
  say(`debootstrap ${release}: ${seconds(started)}`);
  return root;
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(0)} s`;
}

function ferretdbBinary(): string {
  const binary = process.env.FERRETDB_BIN || defaultFerretdbPath();
  if (!existsSync(binary)) {
    fail(`no FerretDB binary at ${binary}: run scripts/install-ferretdb.sh first`);
  }
  return binary;
}

function sourceOf(from: string): string {
  return from === '$FERRETDB' ? ferretdbBinary() : join(repository, from);
}

/** The recipe and every file it copies in, hashed: an image with this label is up to date. */
function recipeHash(tag: string, recipe: LocalRecipe): string {
  const hash = createHash('sha256').update(JSON.stringify({ tag, recipe }));
  for (const file of recipe.files ?? []) hash.update(readFileSync(sourceOf(file.from)));
  hash.update(readFileSync(join(repository, 'scripts/build-test-images.ts')));
  return hash.digest('hex').slice(0, 16);
}

function labelOf(tag: string, label: string): string | undefined {
  const result = spawnSync(
    'podman',
    ['image', 'inspect', '--format', `{{index .Labels "${label}"}}`, tag],
    { encoding: 'utf8' },
  );
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** Imports `root` as `tag` with the recipe's configuration, streaming the tar into podman. */
function importRoot(
  root: string,
  tag: string,
  recipe: LocalRecipe,
  labels: Record<string, string>,
) {
  const changes = [
    `ENTRYPOINT ${JSON.stringify(recipe.entrypoint)}`,
    ...(recipe.cmd ? [`CMD ${JSON.stringify(recipe.cmd)}`] : []),
    ...Object.entries(recipe.env ?? {}).map(([key, value]) => `ENV ${key}=${value}`),
    ...recipe.ports.map((port) => `EXPOSE ${port}/tcp`),
    ...(recipe.stopSignal ? [`STOPSIGNAL ${recipe.stopSignal}`] : []),
    ...(recipe.user ? [`USER ${recipe.user}`] : []),
    ...Object.entries(labels).map(([key, value]) => `LABEL ${key}=${value}`),
  ];
  return new Promise<void>((resolve, reject) => {
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const podman = spawn(
      'podman',
      ['import', '--quiet', ...changes.flatMap((change) => ['--change', change]), '-', tag],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let errors = '';
    podman.stderr.on('data', (chunk) => {
      errors += chunk;
    });
    tar.stdout.pipe(podman.stdin);
    podman.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`podman import ${tag} failed: ${errors.trim()}`)),
    );
  });
}

/** The user's and its group's ids, from the root's own /etc/passwd. */
function ownerIn(root: string, user: string): { uid: number; gid: number } {
  const line = readFileSync(join(root, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${user}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error(`no user ${user} in the image's root`);
  return { uid: Number(uid), gid: Number(gid) };
}

function hasUser(root: string, user: string): boolean {
  const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
  return passwd.split('\n').some((line) => line.startsWith(`${user}:`));
}

async function build(image: ServerImage): Promise<void> {
  if (!image.local) return;
  const { tag, recipe } = image.local;
  const hash = recipeHash(tag, recipe);
  if (!refresh && labelOf(tag, RECIPE_LABEL) === hash) {
    say(`${tag} (${labelOf(tag, VERSION_LABEL)}): up to date`);
    return;
  }
  const started = Date.now();
  const root = join(roots, tag.replace(/[^a-zA-Z0-9.-]+/g, '-'));
  await run('rm', ['-rf', root]);
  if (recipe.release === 'scratch') {
    mkdirSync(root, { recursive: true });
  } else {
    await run('cp', ['-a', await base(recipe.release), root]);
  }
  try {
    // Package scripts (sid's postgresql-common runs systemd-tmpfiles) want /proc: mounted in a
    // mount namespace of the command's own, so nothing outlives it.
    const chroot = (...args: string[]) =>
      run('unshare', [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"',
        root,
        ...args,
      ]);
    let version = '';
    if (recipe.packages.length > 0) {
      // A sid mirror may serve a snapshot older than its Release file's validity window.
      await chroot('apt-get', '-o', 'Acquire::Check-Valid-Until=false', 'update', '-qq');
      await chroot(
        'apt-get',
        'install',
        '-y',
        '-qq',
        '--no-install-recommends',
        ...recipe.packages,
      );
      await chroot('apt-get', 'clean');
      version =
        // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a template
        (await chroot('dpkg-query', '-W', '-f', '${Version}', recipe.packages[0] ?? '')).trim();
      if (!version.startsWith(recipe.version)) {
        throw new Error(
          `${recipe.packages[0]} is ${version} in Debian ${recipe.release}, not ${recipe.version}*: ` +
            `${tag} would be mislabelled (change the tag in test/helpers/environment/images.ts)`,
        );
      }
    }
    if (recipe.release === 'scratch') {
      // No shell, no tools: the accounts are written, as FROM-scratch images do.
      const users = recipe.users ?? [];
      mkdirSync(join(root, 'etc'), { recursive: true });
      const uid = (index: number) => 1000 + index;
      writeFileSync(
        join(root, 'etc/passwd'),
        users.map((u, i) => `${u}:x:${uid(i)}:${uid(i)}::/nonexistent:/nonexistent\n`).join(''),
      );
      writeFileSync(join(root, 'etc/group'), users.map((u, i) => `${u}:x:${uid(i)}:\n`).join(''));
    }
    for (const user of recipe.release === 'scratch' ? [] : (recipe.users ?? [])) {
      if (!hasUser(root, user)) {
        await chroot(
          'useradd',
          '--system',
          '--user-group',
          '--no-create-home',
          '--home-dir',
          '/nonexistent',
          '--shell',
          '/usr/sbin/nologin',
          user,
        );
      }
    }
    if (recipe.pip?.length) {
      // Downloaded by this machine's pip (its certificates, its index), installed offline in the root.
      const wheels = join(root, 'tmp/wheels');
      await run('python3', ['-m', 'pip', 'download', '--quiet', '--dest', wheels, ...recipe.pip]);
      await chroot('python3', '-m', 'venv', '/opt/venv');
      await chroot(
        '/opt/venv/bin/pip',
        'install',
        '--quiet',
        '--no-index',
        '--find-links',
        '/tmp/wheels',
        ...recipe.pip,
      );
      await run('rm', ['-rf', wheels]);
      version = `${recipe.pip.join(' ')} on Python ${version}`;
    }
    const owner = recipe.user ? ownerIn(root, recipe.user) : undefined;
    for (const dir of recipe.dirs ?? []) {
      mkdirSync(join(root, dir), { recursive: true });
      if (owner) chownSync(join(root, dir), owner.uid, owner.gid);
    }
    for (const file of recipe.files ?? []) {
      const target = join(root, file.to);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(sourceOf(file.from), target);
      chmodSync(target, file.mode);
      if (file.libraries) {
        // The shared libraries it loads (ldd's absolute paths), for a root with nothing else.
        const ldd = await run('ldd', [sourceOf(file.from)]);
        for (const library of ldd.match(/\/\S+/g) ?? []) {
          mkdirSync(dirname(join(root, library)), { recursive: true });
          copyFileSync(library, join(root, library));
        }
      }
    }
    if (!version) {
      const output = await run(sourceOf(recipe.files?.[0]?.from ?? ''), ['--version']);
      version = output.match(/version: (\S+)/)?.[1] ?? '';
    }
    if (recipe.release !== 'scratch') {
      await run('rm', ['-rf', join(root, 'var/lib/apt/lists'), join(root, 'usr/sbin/policy-rc.d')]);
      mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
    }
    await importRoot(root, tag, recipe, { [RECIPE_LABEL]: hash, [VERSION_LABEL]: version });
    say(`${tag} (${version}): built in ${seconds(started)}`);
  } finally {
    await run('rm', ['-rf', root]);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) fail('must run as root (debootstrap, chroot and podman need it)');
  for (const tool of ['debootstrap', 'podman']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`no ${tool} on PATH`);
  }
  const started = Date.now();
  const local = ALL_IMAGES.filter((image) => image.local);
  // The bases first (one debootstrap each), then two images at a time: the machine has two cores.
  for (const release of new Set(local.map((image) => image.local?.recipe.release))) {
    if (release && release !== 'scratch') await base(release);
  }
  const queue = [...local];
  const worker = async () => {
    for (let image = queue.shift(); image; image = queue.shift()) await build(image);
  };
  await Promise.all([worker(), worker()]);
  spawnSync('podman', ['image', 'prune', '--force'], { stdio: 'ignore' });
  say(`${local.length} images ready in ${seconds(started)}`);
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
