import { scramSha256Verifier } from '../../shared/engines/postgresql';
import { planTls, tlsOptions, trustedCertificates } from '../../shared/engines/tls';
import { alternateUsername, baseUsername } from '../../shared/strategies/alternating-users';

const PG = { max: 63, unit: 'bytes' } as const;
const MYSQL = { max: 32, unit: 'characters' } as const;

describe('alternateUsername', () => {
  it('appends and strips the clone suffix', () => {
    expect(alternateUsername('app', PG)).toBe('app_clone');
    expect(alternateUsername('app_clone', PG)).toBe('app');
    expect(baseUsername('app_clone')).toBe('app');
    expect(alternateUsername('Ünïcødé "x"', PG)).toBe('Ünïcødé "x"_clone');
  });

  it('counts the limit in bytes and names the fix', () => {
    expect(alternateUsername('a'.repeat(57), PG)).toHaveLength(63);
    expect(() => alternateUsername('a'.repeat(58), PG)).toThrow(
      /64 bytes, longer than the database's 63-byte limit/,
    );
    expect(() => alternateUsername('é'.repeat(29), PG)).toThrow(/UsernameTooLong|longer/);
    expect(() => alternateUsername('_clone', PG)).toThrow(/only the clone suffix/);
    // 26 characters, 52 bytes: fits MySQL's 32-character limit, would not fit 32 bytes.
    expect(alternateUsername('é'.repeat(20), MYSQL)).toBe(`${'é'.repeat(20)}_clone`);
    expect(() => alternateUsername('u'.repeat(27), MYSQL)).toThrow(
      /33 characters, longer than the database's 32-character limit/,
    );
  });
});

describe('planTls', () => {
  it.each([
    [undefined, 'verify-full', { tls: 'verify-full', fallbackToPlainText: false }],
    [undefined, 'verify-ca', { tls: 'verify-ca', fallbackToPlainText: false }],
    [undefined, 'fallback', { tls: 'verify-full', fallbackToPlainText: true }],
    [undefined, 'disable', { tls: 'disable', fallbackToPlainText: false }],
    [true, 'fallback', { tls: 'verify-full', fallbackToPlainText: false }],
    [true, 'disable', { tls: 'verify-full', fallbackToPlainText: false }],
    [true, 'verify-ca', { tls: 'verify-ca', fallbackToPlainText: false }],
    [false, 'verify-full', { tls: 'disable', fallbackToPlainText: false }],
  ] as const)('ssl=%s with TLS_MODE=%s', (ssl, mode, plan) => {
    expect(planTls(ssl, mode)).toEqual(plan);
  });

  it('trusts the system roots plus the Amazon RDS authorities, and verifies host names by default', () => {
    const certs = trustedCertificates();
    expect(certs.length).toBeGreaterThan(100);
    const options = tlsOptions('verify-full', 'db.example');
    expect(options).toMatchObject({ rejectUnauthorized: true, servername: 'db.example' });
    expect(tlsOptions('disable', 'db.example')).toBeUndefined();
    expect(tlsOptions('verify-ca', '10.0.0.1')?.servername).toBeUndefined();
  });
});

describe('scramSha256Verifier', () => {
  it('has the format PostgreSQL stores and a fresh salt each time', () => {
    // That PostgreSQL accepts it is proven by the integration suite: every new password logs in.
    const salt = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const verifier = scramSha256Verifier('pencil', 4096, salt);
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:AAECAwQFBgcICQoLDA0ODw==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    expect(scramSha256Verifier('pencil', 4096, salt)).toBe(verifier);
    expect(scramSha256Verifier('pencil')).not.toBe(verifier);
  });
});
