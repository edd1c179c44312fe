import { chmod, chown, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { captureCommand, type ServerUser } from './child-processes';

/** Created when the preferred account (Debian's `postgres` or `mysql`) does not exist. */
const FALLBACK_USER = 'rotation-test';

/**
 * The account a database server must run as, or undefined to run as the current user.
 * PostgreSQL refuses to start as root (and MariaDB only starts as root with `--user`), so under
 * root we switch to `preferred` (`postgres` and `mysql` are created by Debian's server packages)
 * or a dedicated system user created on demand.
 */
export async function resolveServerUser(
  preferred: 'postgres' | 'mysql' = 'postgres',
): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) {
    return undefined;
  }
  return (await lookupUser(preferred)) ?? (await createSystemUser(FALLBACK_USER));
}

async function lookupUser(name: string): Promise<ServerUser | undefined> {
  try {
    const uid = Number((await captureCommand('id', ['-u', name])).trim());
    const gid = Number((await captureCommand('id', ['-g', name])).trim());
    return { name, uid, gid };
  } catch {
    return undefined;
  }
}

async function createSystemUser(name: string): Promise<ServerUser> {
  try {
    await captureCommand('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ]);
  } catch (error) {
    // PostgreSQL and MariaDB resolve their users in parallel: the other one may have just created it.
    const existing = await lookupUser(name);
    if (existing) {
      return existing;
    }
    throw error;
  }
  const user = await lookupUser(name);
  if (!user) {
    throw new Error(`created system user ${name} with useradd, but \`id ${name}\` cannot find it`);
  }
  return user;
}

/** Gives `user` ownership of `path` and everything below it. */
export async function handOver(path: string, user: ServerUser): Promise<void> {
  await chown(path, user.uid, user.gid);
  const entries = await readdir(path, { recursive: true }).catch(() => []);
  for (const entry of entries) {
    await chown(join(path, entry), user.uid, user.gid);
  }
}

/** Lets other users traverse `dir` (not list it), so a server user can reach its own subdirectory. */
export async function allowTraversal(dir: string): Promise<void> {
  await chmod(dir, 0o711);
}
