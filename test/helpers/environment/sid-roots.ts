import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';

/** Optional: the directory holding the sid roots, instead of the install script's cache path. */
export const SID_ROOTS_VARIABLE = 'ROTATION_SID_ROOTS';
const INSTALL_HINT =
  'run `sudo bash scripts/install-sid-servers.sh` (it builds them in about a minute)';
/** Written last by the install script into a complete root: `<package> <version>` lines, the server first. */
const STAMP = '.rotation-lambdas-root';
/** Where the run directory appears inside a root: `/mnt` exists, empty, in every Debian root. */
const RUN_DIR_INSIDE = '/mnt';

/** The roots `scripts/install-sid-servers.sh` builds, each holding one server package. */
export type SidRootName = 'mysql' | 'mariadb';

/**
 * How a server binary is started: directly on this machine, or chrooted into a Debian sid root.
 * Paths the server is given (data directory, socket, certificates, logs) must be passed through
 * {@link Launcher.path}, since a chrooted server sees the run directory elsewhere.
 */
export interface Launcher {
  /** Where the binaries come from, for messages: `this machine` or `the Debian sid root …`. */
  origin: string;
  /** The command to run `file` (a path inside the root for a chroot) with `args`. */
  command(file: string, args: readonly string[]): { file: string; args: string[] };
  /** A path under the run directory as the started process sees it. */
  path(hostPath: string): string;
  /** Whether the server must be told to run as root (`--user=root`): true inside a root. */
  runsAsRoot: boolean;
}

/** Runs binaries of this machine, as they are. */
export const HOST_LAUNCHER: Launcher = {
  origin: 'this machine',
  command: (file, args) => ({ file, args: [...args] }),
  path: (hostPath) => hostPath,
  runsAsRoot: false,
};

/** A built sid root: its directory and the server package it holds. */
export interface SidRoot {
  dir: string;
  /** e.g. `mysql-server-core 9.7.4-2` */
  package: string;
}

/** Where `scripts/install-sid-servers.sh` puts the roots by default. */
export function sidRootsDir(): string {
  const configured = process.env[SID_ROOTS_VARIABLE]?.trim();
  if (configured) {
    return configured;
  }
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'rotation-lambdas', 'sid-roots');
}

/**
 * The complete sid root `name`.
 * @throws if there is none, or if this process is not root (chroot and mounts need it): the suites
 * must fail, not skip.
 */
export async function findSidRoot(name: SidRootName): Promise<SidRoot> {
  const dir = join(sidRootsDir(), name);
  let stamp: string;
  try {
    stamp = (await readFile(join(dir, STAMP), 'utf8')).trim();
  } catch {
    throw new Error(`Debian sid root "${name}" not found at ${dir}: ${INSTALL_HINT}`);
  }
  if (stamp === '') {
    throw new Error(`Debian sid root "${name}" at ${dir} is incomplete: ${INSTALL_HINT}`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the ${stamp} server in the Debian sid root ${dir} runs under chroot, which needs root: ` +
        'run the tests as root, or give the servers yourself (TEST_MYSQL_URL, or ROTATION_TEST_PROVIDER=testcontainers)',
    );
  }
  return { dir, package: stamp.split('\n')[0] ?? stamp };
}

/**
 * Runs binaries inside `root` with chroot, in a private mount namespace (`unshare --mount`) where
 * `/proc` and the run directory (at `/mnt`) are bind-mounted. The mounts exist only in that
 * namespace, so they vanish with the process, however it ends, and the host never sees them.
 * Every step `exec`s the next, so the started process's PID is the server's own.
 */
export function chrootLauncher(root: SidRoot, runDir: string): Launcher {
  const script =
    'r=$1 d=$2 m=$3; shift 3; mount --bind /proc "$r/proc"; mount --bind "$d" "$r$m"; exec chroot "$r" "$@"';
  return {
    origin: `the Debian sid root ${root.dir} (${root.package})`,
    command: (file, args) => ({
      file: 'unshare',
      args: [
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-ec',
        script,
        'sh',
        root.dir,
        runDir,
        RUN_DIR_INSIDE,
        file,
        ...args,
      ],
    }),
    path: (hostPath) => {
      const inside = relative(runDir, hostPath);
      if (inside.startsWith('..') || inside.startsWith(sep)) {
        throw new Error(`${hostPath} is outside the run directory ${runDir}`);
      }
      return inside === '' ? RUN_DIR_INSIDE : `${RUN_DIR_INSIDE}/${inside.split(sep).join('/')}`;
    },
    runsAsRoot: true,
  };
}
