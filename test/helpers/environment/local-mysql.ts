import { randomBytes } from 'node:crypto';
import {
  access,
  chmod,
  chown,
  constants,
  copyFile,
  mkdir,
  readFile,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import type { TestCertificates } from './certificates';
import {
  captureCommand,
  describeExit,
  errorMessage,
  logTail,
  runLogged,
  type ServerUser,
  spawnLogged,
  terminate,
  type WatchedProcess,
  waitFor,
} from './child-processes';
import { type MysqlFacts, majorMinorVersion, probeMysql } from './mysql-probe';
import { handOver } from './server-user';
import {
  chrootLauncher,
  findSidRoot,
  HOST_LAUNCHER,
  type Launcher,
  type SidRootName,
} from './sid-roots';
import type { MysqlServer, Started } from './types';

/** Where Debian's (and Ubuntu's) `mariadb-server` package installs the server, then other usual places. */
const SERVER_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
const INSTALL_HINT = 'apt-get install mariadb-server';
/** The administrator account created in every local server and reported as its root user. */
const ADMIN_USER = 'rotation_root';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** Longest unix socket path Linux accepts (`sun_path` is 108 bytes, NUL included). */
const MAX_SOCKET_PATH = 107;

/**
 * A MySQL or MariaDB server build: where its binaries are (paths as its launcher sees them) and
 * how to run them.
 */
export interface MysqlBuild {
  flavor: 'mariadb' | 'mysql';
  serverBinary: string;
  /**
   * MariaDB's script that creates a data directory; MySQL has none (its server does it, with
   * `--initialize-insecure`).
   */
  installDbScript: string | undefined;
  /** On this machine, or chrooted into a Debian sid root. */
  launcher: Launcher;
  /** The account the server runs as on this machine (see resolveServerUser); none in a root. */
  runAs: ServerUser | undefined;
}

/** The installed MariaDB server (Debian's `mariadb-server` package). */
export async function findMariadb(runAs: ServerUser | undefined): Promise<MysqlBuild> {
  const serverBinary = await findExecutable('mariadbd');
  const installDbScript = await findExecutable('mariadb-install-db');
  if (!serverBinary || !installDbScript) {
    const missing = [
      serverBinary ? undefined : 'mariadbd',
      installDbScript ? undefined : 'mariadb-install-db',
    ]
      .filter((name) => name !== undefined)
      .join(' and ');
    throw new Error(
      `MariaDB server not found (no ${missing} in ${SERVER_DIRS.join(', ')}): ${INSTALL_HINT}`,
    );
  }
  return { flavor: 'mariadb', serverBinary, installDbScript, launcher: HOST_LAUNCHER, runAs };
}

/**
 * A server in a Debian sid root built by `scripts/install-sid-servers.sh`: MySQL (`mysql`) or
 * MariaDB (`mariadb`), run as root inside the root with chroot.
 */
export async function findSidMysql(flavor: SidRootName, runDir: string): Promise<MysqlBuild> {
  const root = await findSidRoot(flavor);
  const serverBinary = flavor === 'mysql' ? '/usr/sbin/mysqld' : '/usr/sbin/mariadbd';
  const installDbScript = flavor === 'mysql' ? undefined : '/usr/bin/mariadb-install-db';
  for (const binary of [serverBinary, installDbScript]) {
    if (binary !== undefined) {
      try {
        await access(join(root.dir, binary), constants.X_OK);
      } catch {
        throw new Error(
          `${binary} is missing in the Debian sid root ${root.dir} (${root.package})`,
        );
      }
    }
  }
  return {
    flavor,
    serverBinary,
    installDbScript,
    launcher: chrootLauncher(root, runDir),
    runAs: undefined,
  };
}

async function findExecutable(name: string): Promise<string | undefined> {
  for (const dir of SERVER_DIRS) {
    const path = join(dir, name);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // try the next directory
    }
  }
  return undefined;
}

/** The family's name for messages. */
function product(build: MysqlBuild): string {
  return build.flavor === 'mysql' ? 'MySQL' : 'MariaDB';
}

/** Runs one of the build's binaries to completion, through its launcher. */
function launch(build: MysqlBuild, file: string, args: readonly string[]) {
  return build.launcher.command(file, args);
}

/**
 * The server's `major.minor` version, checked by running it as the server user.
 * This fails early, with a clear message, when the user cannot run the binary.
 */
export async function mysqlServerVersion(build: MysqlBuild): Promise<string> {
  try {
    // e.g. "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)"
    // or "/usr/sbin/mysqld  Ver 9.7.4-2 for Linux on x86_64 ((Debian))"
    const { file, args } = launch(build, build.serverBinary, ['--no-defaults', '--version']);
    const output = await captureCommand(file, args, { runAs: build.runAs });
    return majorMinorVersion(output.replace(/^.*?\bVer\s+/, ''));
  } catch (error) {
    const as = build.runAs ? ` as user ${build.runAs.name}` : '';
    throw new Error(
      `cannot run ${build.serverBinary} from ${build.launcher.origin}${as}: ${errorMessage(error)}`,
    );
  }
}

/** Everything needed to start one local server. */
export interface LocalMysqlOptions {
  name: string;
  build: MysqlBuild;
  runDir: string;
  port: number;
  certificates: TestCertificates;
  /** Start with `require_secure_transport=ON`: plain TCP connections are refused. */
  requireSecureTransport: boolean;
}

/** Paths inside one server's directory, `runDir/<name>/`, as seen from this machine. */
interface ServerPaths {
  serverDir: string;
  dataDir: string;
  /**
   * The server's own `--tmpdir`: at startup mariadbd deletes every `#sql*` file in its tmpdir, so
   * servers sharing /tmp (another test server, or one being initialised) would lose temporary tables.
   */
  tmpDir: string;
  socket: string;
  pidFile: string;
  /** Output of the data directory's creation and the server's error log: `runDir/<name>.log`. */
  logFile: string;
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * Creates a fresh data directory under `runDir/<name>/` (`mariadb-install-db`, or MySQL's
 * `mysqld --initialize-insecure`), starts the server on 127.0.0.1:`port` with TLS from the test CA
 * (and optionally `require_secure_transport`), and creates the `rotation_root` administrator with
 * a random password through the unix socket. No option file is read (`--no-defaults`), so
 * `/etc/mysql` and `~/.my.cnf` do not matter.
 */
export async function startLocalMysql(options: LocalMysqlOptions): Promise<Started<MysqlServer>> {
  const { name, port, build } = options;
  const paths = serverPaths(options.runDir, name);
  const inside = build.launcher.path;
  const password = randomBytes(24).toString('base64url');

  await prepareServerDir(paths, options);
  await installDataDir(options, paths);

  const flavorOptions =
    build.flavor === 'mysql'
      ? [
          '--mysqlx=OFF', // only the classic protocol is tested; X Protocol would need a port of its own
          '--secure-file-priv=',
          '--skip-log-bin', // no binary log: nothing replicates from a test server
          '--innodb-doublewrite=OFF',
        ]
      : ['--innodb-doublewrite=0'];
  const { file, args } = build.launcher.command(build.serverBinary, [
    '--no-defaults', // must come first
    ...(build.launcher.runsAsRoot ? ['--user=root'] : []),
    `--datadir=${inside(paths.dataDir)}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${inside(paths.socket)}`,
    `--pid-file=${inside(paths.pidFile)}`,
    `--log-error=${inside(paths.logFile)}`,
    `--tmpdir=${inside(paths.tmpDir)}`,
    `--ssl-cert=${inside(paths.certFile)}`,
    `--ssl-key=${inside(paths.keyFile)}`,
    `--ssl-ca=${inside(paths.caFile)}`,
    `--require-secure-transport=${options.requireSecureTransport ? 'ON' : 'OFF'}`,
    // What Debian's /etc/mysql configuration would set, and what MySQL 8 defaults to.
    '--character-set-server=utf8mb4',
    `--collation-server=${build.flavor === 'mysql' ? 'utf8mb4_0900_ai_ci' : 'utf8mb4_general_ci'}`,
    // Throwaway server: trade durability for speed.
    '--innodb-flush-log-at-trx-commit=0',
    ...flavorOptions,
  ]);
  const server = await spawnLogged(file, args, paths.logFile, {
    runAs: build.runAs,
    cwd: paths.serverDir,
  });
  const stop = () => terminate(server, 'SIGTERM', { graceMs: STOP_TIMEOUT_MS });
  try {
    await waitUntilAccepting(name, build, server, paths);
    await createAdministrator(paths.socket, password);
    const facts = await probeOverTcp(options, password);
    if (!facts.tlsCapable || facts.requireSecureTransport !== options.requireSecureTransport) {
      throw new Error(
        `${product(build)} server ${name} started without the requested TLS settings (TLS ${facts.tlsCapable ? 'on' : 'off'}, require_secure_transport ${facts.requireSecureTransport ? 'ON' : 'OFF'})`,
      );
    }
    if (facts.flavor !== build.flavor) {
      throw new Error(`${name} was started as ${product(build)}, but reports ${facts.version}`);
    }
    const value: MysqlServer = {
      name,
      flavor: facts.flavor,
      version: facts.version,
      host: '127.0.0.1',
      port,
      rootUser: ADMIN_USER,
      rootPassword: password,
      caFile: options.certificates.caFile,
      tlsCapable: facts.tlsCapable,
      requireSecureTransport: facts.requireSecureTransport,
    };
    return { value, stop };
  } catch (error) {
    await stop();
    throw new Error(`${errorMessage(error)}\n${await logTail(paths.logFile)}`);
  }
}

function serverPaths(runDir: string, name: string): ServerPaths {
  const serverDir = join(runDir, name);
  const socket = join(serverDir, 'mysqld.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new Error(
      `unix socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes: set TMPDIR to a shorter directory`,
    );
  }
  return {
    serverDir,
    dataDir: join(serverDir, 'data'),
    tmpDir: join(serverDir, 'tmp'),
    socket,
    pidFile: join(serverDir, 'mysqld.pid'),
    logFile: join(runDir, `${name}.log`),
    certFile: join(serverDir, 'server.crt'),
    keyFile: join(serverDir, 'server.key'),
    caFile: join(serverDir, 'ca.pem'),
  };
}

/**
 * Creates the server directory with its own copies of the TLS files and the log file,
 * all owned by the server user (the server opens the log itself).
 */
async function prepareServerDir(paths: ServerPaths, options: LocalMysqlOptions): Promise<void> {
  await mkdir(paths.tmpDir, { recursive: true });
  await copyFile(options.certificates.certFile, paths.certFile);
  await copyFile(options.certificates.keyFile, paths.keyFile);
  await copyFile(options.certificates.caFile, paths.caFile);
  await chmod(paths.keyFile, 0o600);
  await writeFile(paths.logFile, '', { flag: 'a' });
  const { runAs } = options.build;
  if (runAs) {
    await handOver(paths.serverDir, runAs);
    await chown(paths.logFile, runAs.uid, runAs.gid);
  }
}

async function installDataDir(options: LocalMysqlOptions, paths: ServerPaths): Promise<void> {
  const { build } = options;
  const inside = build.launcher.path;
  const asRoot = build.launcher.runsAsRoot ? ['--user=root'] : [];
  const [binary, args] = build.installDbScript
    ? [
        build.installDbScript,
        [
          '--no-defaults',
          ...asRoot,
          `--datadir=${inside(paths.dataDir)}`,
          // A root@localhost without password, reachable through the socket whoever runs the
          // tests; it is given a password once the administrator exists.
          '--auth-root-authentication-method=normal',
          // No `test` database and no anonymous accounts (''@localhost would shadow 'user'@'%').
          '--skip-test-db',
          // Passed on to the bootstrap server; see ServerPaths.tmpDir.
          `--tmpdir=${inside(paths.tmpDir)}`,
        ],
      ]
    : [
        build.serverBinary,
        [
          '--no-defaults',
          ...asRoot,
          // root@localhost without a password; given one once the administrator exists.
          '--initialize-insecure',
          `--datadir=${inside(paths.dataDir)}`,
          `--tmpdir=${inside(paths.tmpDir)}`,
          `--log-error=${inside(paths.logFile)}`,
          '--skip-log-bin',
        ],
      ];
  const { file, args: command } = build.launcher.command(binary, args);
  try {
    await runLogged(file, command, paths.logFile, { runAs: build.runAs, cwd: paths.serverDir });
  } catch (error) {
    const access = build.runAs
      ? ` (it runs as user ${build.runAs.name}, who must be able to reach ${options.runDir})`
      : '';
    throw new Error(
      `creating the data directory of ${options.name} (${binary} from ${build.launcher.origin}) failed${access}: ${errorMessage(error)}`,
    );
  }
}

async function waitUntilAccepting(
  name: string,
  build: MysqlBuild,
  server: WatchedProcess,
  paths: ServerPaths,
): Promise<MysqlFacts> {
  // Through the socket, which counts as secure transport, so this works with
  // require_secure_transport=ON and before any TCP account exists.
  return waitFor(
    `${product(build)} server ${name} on ${paths.socket}`,
    () => probeMysql({ socketPath: paths.socket, user: 'root' }),
    {
      timeoutMs: START_TIMEOUT_MS,
      failFast: async () => {
        const status = server.exitStatus();
        return (
          status &&
          new Error(`${product(build)} server ${name} ${describeExit(status)} during startup`)
        );
      },
    },
  );
}

/**
 * Creates `rotation_root` at `%` and at `localhost` (a connection from 127.0.0.1 resolves to
 * localhost) with every privilege, then closes the password-less root accounts the data
 * directory was created with: root@localhost gets the same password, any TCP ones are dropped.
 */
async function createAdministrator(socket: string, password: string): Promise<void> {
  const connection = await createConnection({
    socketPath: socket,
    user: 'root',
    connectTimeout: 5_000,
  });
  connection.on('error', () => undefined);
  try {
    for (const host of ['%', 'localhost']) {
      await connection.query('CREATE USER ?@? IDENTIFIED BY ?', [ADMIN_USER, host, password]);
      await connection.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [
        ADMIN_USER,
        host,
      ]);
    }
    const [rootAccounts] = await connection.query<RowDataPacket[]>(
      "SELECT Host AS host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'",
    );
    for (const { host } of rootAccounts) {
      await connection.query('DROP USER ?@?', ['root', String(host)]);
    }
    await connection.query("ALTER USER 'root'@'localhost' IDENTIFIED BY ?", [password]);
  } finally {
    await connection.end().catch(() => undefined);
  }
}

/** Logs in as the administrator the way the suites will: over TCP with TLS, checking the certificate. */
async function probeOverTcp(options: LocalMysqlOptions, password: string): Promise<MysqlFacts> {
  try {
    return await probeMysql({
      host: '127.0.0.1',
      port: options.port,
      user: ADMIN_USER,
      password,
      ssl: { ca: await readFile(options.certificates.caFile, 'utf8'), rejectUnauthorized: true },
    });
  } catch (error) {
    throw new Error(
      `${product(options.build)} server ${options.name} on 127.0.0.1:${options.port} refused ${ADMIN_USER} over TLS: ${errorMessage(error)}`,
    );
  }
}
