import type {
  MongoServer,
  MysqlServer,
  PostgresServer,
  TestEnvironment,
} from '../helpers/environment';
import { faultTargets } from '../helpers/faults/targets';

// The fault matrix picks one server per engine from whatever the environment started: local
// servers here, testcontainers' images where a Docker engine runs, or servers named by TEST_*_URL.

const pg = (name: string, version: string): PostgresServer => ({
  name,
  version,
  host: '127.0.0.1',
  port: 5432,
  superuser: 'postgres',
  superuserPassword: 'x',
  caFile: undefined,
  tlsCapable: true,
});
const my = (
  name: string,
  flavor: 'mysql' | 'mariadb',
  version: string,
  requireSecureTransport = false,
): MysqlServer => ({
  name,
  flavor,
  version,
  host: '127.0.0.1',
  port: 3306,
  rootUser: 'root',
  rootPassword: 'x',
  caFile: undefined,
  tlsCapable: true,
  requireSecureTransport,
});
const mongo = (name: string, kind: 'mongodb' | 'ferretdb', version: string): MongoServer => ({
  name,
  kind,
  version,
  host: '127.0.0.1',
  port: 27017,
  plainPort: 27017,
  adminUser: 'root',
  adminPassword: 'x',
  adminDatabase: 'admin',
  caFile: undefined,
  supportsRoles: kind === 'mongodb',
});

function environment(parts: Partial<TestEnvironment>): TestEnvironment {
  return {
    postgres: [],
    mysql: [],
    mongodb: [],
    secretsManagerEndpoint: 'http://127.0.0.1:1',
    runDir: '/tmp',
    ...parts,
  } as TestEnvironment;
}

function picked(env: TestEnvironment): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(faultTargets(env)).map(([engine, targets]) => [
      engine,
      targets.map((t) => `${t.family} on ${t.serverName}`),
    ]),
  );
}

describe('fault matrix targets', () => {
  it('locally: PostgreSQL 18, MariaDB 11.8 for mariadb-*, MySQL 9.7 without require_secure_transport for mysql-* (also with RETAIN_CURRENT_PASSWORD), FerretDB', () => {
    const env = environment({
      postgres: [
        pg('postgresql-15', '15.18 (Debian 15.18-0+deb12u1)'),
        pg('postgresql-16', '16.14'),
        pg('postgresql-17', '17.10'),
        pg('postgresql-18', '18.4'),
      ],
      mysql: [
        my('mariadb-10.11', 'mariadb', '10.11.19-MariaDB-0+deb12u1'),
        my('mariadb-10.11-require-tls', 'mariadb', '10.11.19-MariaDB-0+deb12u1', true),
        my('mariadb-11.8', 'mariadb', '11.8.9-MariaDB-4 from Debian'),
        my('mysql-9.7', 'mysql', '9.7.4-2'),
        my('mysql-9.7-require-tls', 'mysql', '9.7.4-2', true),
      ],
      mongodb: [mongo('ferretdb-1.24', 'ferretdb', 'v1.24.0')],
    });
    expect(picked(env)).toEqual({
      postgresql: ['postgresql on postgresql-18'],
      mariadb: ['mariadb on mariadb-11.8', 'mysql on mysql-9.7', 'mysql-retain on mysql-9.7'],
      mongodb: ['mongodb on ferretdb-1.24'],
    });
  });

  it('with MariaDB only: the MariaDB without require_secure_transport for both families', () => {
    const env = environment({
      postgres: [
        pg('postgresql-15', '15.18 (Debian 15.18-0+deb12u1)'),
        pg('postgresql-17', '17.10'),
      ],
      mysql: [
        my('mariadb-10.11', 'mariadb', '10.11.19-MariaDB-0+deb12u1'),
        my('mariadb-10.11-require-tls', 'mariadb', '10.11.19-MariaDB-0+deb12u1', true),
      ],
      mongodb: [mongo('ferretdb-1.24', 'ferretdb', 'v1.24.0')],
    });
    expect(picked(env)).toEqual({
      postgresql: ['postgresql on postgresql-17'],
      mariadb: ['mariadb on mariadb-10.11', 'mysql on mariadb-10.11'],
      mongodb: ['mongodb on ferretdb-1.24'],
    });
  });

  it('with testcontainers: the newest of each, MySQL for mysql-* and MongoDB over FerretDB', () => {
    const env = environment({
      postgres: [pg('postgresql-17', '17.2'), pg('postgresql-15', '15.10')],
      mysql: [
        my('mysql-8.0', 'mysql', '8.0.40'),
        my('mysql-8.4', 'mysql', '8.4.3'),
        my('mariadb-11.4', 'mariadb', '11.4.4-MariaDB-ubu2404'),
      ],
      mongodb: [
        mongo('mongodb-8.0', 'mongodb', '8.0.4'),
        mongo('mongodb-7.0', 'mongodb', '7.0.16'),
        mongo('ferretdb-1.24', 'ferretdb', 'v1.24.0'),
      ],
    });
    expect(picked(env)).toEqual({
      postgresql: ['postgresql on postgresql-17'],
      mariadb: ['mariadb on mariadb-11.4', 'mysql on mysql-8.4', 'mysql-retain on mysql-8.4'],
      mongodb: ['mongodb on mongodb-8.0'],
    });
  });

  it('a MySQL server alone serves mysql-* only', () => {
    const env = environment({
      postgres: [pg('postgresql-16', '16.4')],
      mysql: [my('mysql-8.4', 'mysql', '8.4.3')],
      mongodb: [mongo('mongodb-8.0', 'mongodb', '8.0.4')],
    });
    expect(picked(env).mariadb).toEqual(['mysql on mysql-8.4', 'mysql-retain on mysql-8.4']);
  });

  it('fails, naming what is missing, when an engine has no usable server', () => {
    const env = environment({
      postgres: [pg('postgresql-17', '17.10')],
      mysql: [my('mariadb-10.11-require-tls', 'mariadb', '10.11.19-MariaDB', true)],
      mongodb: [mongo('ferretdb-1.24', 'ferretdb', 'v1.24.0')],
    });
    expect(() => faultTargets(env)).toThrow(
      'The fault matrix needs a MySQL or MariaDB server without require_secure_transport; the environment has mariadb-10.11-require-tls',
    );
    expect(() => faultTargets(environment({ ...env, mysql: [], mongodb: [] }))).toThrow(
      /needs a MySQL or MariaDB server/,
    );
    expect(() =>
      faultTargets(
        environment({ postgres: env.postgres, mysql: [my('m', 'mysql', '8.4.3')], mongodb: [] }),
      ),
    ).toThrow('The fault matrix needs a MongoDB or FerretDB server; the environment has none');
  });
});
