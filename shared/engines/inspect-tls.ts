import { type PeerCertificate, TLSSocket, connect as tlsConnect } from 'node:tls';
import { DatabaseUnreachableError, isErrorLike } from '../errors';
import type { ConnectionSettings, TlsDetails } from './engine';
import { tlsOptions } from './tls';

/**
 * The TLS details of a driver's socket, or `undefined` when the socket is plain TCP. Used by the
 * adapters' `inspect` (preflight), never during a rotation.
 */
export function describeTlsSocket(socket: unknown): TlsDetails | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  return tlsDetails(socket, 'driver');
}

function tlsDetails(socket: TLSSocket, source: TlsDetails['source']): TlsDetails {
  const certificate: Partial<PeerCertificate> = socket.getPeerCertificate() ?? {};
  return {
    protocol: socket.getProtocol() ?? undefined,
    cipher: socket.getCipher()?.name,
    subject: distinguishedName(certificate.subject),
    issuer: distinguishedName(certificate.issuer),
    subjectAltNames: certificate.subjectaltname || undefined,
    validTo: certificate.valid_to ? new Date(certificate.valid_to).toISOString() : undefined,
    source,
  };
}

/**
 * Opens a separate TLS connection, verified exactly as the adapters verify theirs, and reports
 * what it negotiated. For servers that speak TLS from the first byte (MongoDB), whose drivers do
 * not expose their sockets.
 */
export async function probeTls(settings: ConnectionSettings): Promise<TlsDetails | undefined> {
  const options = tlsOptions(settings.tls, settings.host);
  if (!options) return undefined;
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ ...options, host: settings.host, port: settings.port });
    const fail = (error: unknown) => {
      socket.destroy();
      reject(
        new DatabaseUnreachableError(
          `TLS probe of ${settings.host}:${settings.port} failed: ${isErrorLike(error) ? error.message : String(error)}`,
          { cause: error, tlsFailure: true },
        ),
      );
    };
    socket.setTimeout(settings.connectTimeoutMs, () => fail(new Error('timed out')));
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      const details = tlsDetails(socket, 'probe');
      socket.end();
      socket.destroy();
      resolve(details);
    });
  });
}

/** `{ CN: 'x', O: 'y' }` → `CN=x, O=y`. */
function distinguishedName(
  name: Record<string, string | string[] | undefined> | undefined,
): string | undefined {
  if (!name) return undefined;
  const parts = Object.entries(name).flatMap(([key, value]) =>
    value === undefined ? [] : [`${key}=${Array.isArray(value) ? value.join('+') : value}`],
  );
  return parts.length > 0 ? parts.join(', ') : undefined;
}
