import { chmod, chown, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { captureCommand, type ServerUser } from './child-processes';

/** Created when the Debian `postgres` account does not exist. */
const FALLBACK_USER = 'rotation-test';

/**
 * The account PostgreSQL must run as, or undefined to run as the current user.
 * PostgreSQL refuses to start as root, so under root we switch to `postgres`
 * (created by Debian's package) or a dedicated system user created on demand.
 */
export async function resolveServerUser(): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) {
    return undefined;
  }
  return (await lookupUser('postgres')) ?? (await createSystemUser(FALLBACK_USER));
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
  await captureCommand('useradd', [
    '--system',
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    name,
  ]);
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
