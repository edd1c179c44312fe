import { randomBytes } from 'node:crypto';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { runLogged } from './child-processes';

/** Files of a freshly generated test CA and a server certificate it signed. */
export interface TestCertificates {
  /** CA certificate (PEM) that clients trust. */
  caFile: string;
  /** Server certificate (PEM), CN=localhost. */
  certFile: string;
  /** Server private key (PEM), mode 0600. */
  keyFile: string;
}

const VALIDITY_DAYS = '7';

/**
 * Generates a test CA and a server certificate for CN=localhost with SANs for
 * localhost, 127.0.0.1 and any `extraHosts`, using the `openssl` CLI.
 * Writes ca.pem, server.crt and server.key into `dir`.
 */
export async function createTestCertificates(
  dir: string,
  extraHosts: readonly string[] = [],
): Promise<TestCertificates> {
  const path = (name: string) => join(dir, name);
  const log = path('openssl.log');
  // Fixed flags as one string for readability; values that may contain spaces as separate arguments.
  const openssl = (flags: string, ...args: string[]) =>
    runLogged('openssl', [...flags.split(' '), ...args], log).catch((error: unknown) => {
      throw openSslError(error);
    });

  await openssl(
    `req -x509 -new -newkey rsa:2048 -nodes -sha256 -days ${VALIDITY_DAYS} ` +
      '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign',
    '-subj=/CN=Rotation Integration Test CA',
    `-keyout=${path('ca.key')}`,
    `-out=${path('ca.pem')}`,
  );
  await openssl(
    'req -new -newkey rsa:2048 -nodes -subj /CN=localhost',
    `-keyout=${path('server.key')}`,
    `-out=${path('server.csr')}`,
  );
  await writeFile(path('server.ext'), serverExtensions(['localhost', '127.0.0.1', ...extraHosts]));
  await openssl(
    `x509 -req -sha256 -days ${VALIDITY_DAYS} -set_serial 0x${randomBytes(8).toString('hex')}`,
    `-in=${path('server.csr')}`,
    `-CA=${path('ca.pem')}`,
    `-CAkey=${path('ca.key')}`,
    `-extfile=${path('server.ext')}`,
    `-out=${path('server.crt')}`,
  );
  await Promise.all([chmod(path('ca.key'), 0o600), chmod(path('server.key'), 0o600)]);
  await Promise.all([rm(path('server.csr')), rm(path('server.ext'))]);
  return { caFile: path('ca.pem'), certFile: path('server.crt'), keyFile: path('server.key') };
}

function serverExtensions(hosts: readonly string[]): string {
  const names = [...new Set(hosts)].map((host) => (isIP(host) ? `IP:${host}` : `DNS:${host}`));
  return [
    `subjectAltName=${names.join(',')}`,
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    '',
  ].join('\n');
}

function openSslError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes('ENOENT')) {
    return new Error(
      'openssl CLI not found (needed to create test certificates): apt-get install openssl',
    );
  }
  return new Error(`creating test certificates failed: ${message}`);
}
