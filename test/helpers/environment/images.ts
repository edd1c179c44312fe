/**
 * The container images the integration suites run on when testcontainers reaches a container
 * engine, pinned here and only here: each server's official image (what a user with Docker pulls),
 * and, where this project can build it without any registry, the local image that stands in for
 * it and how `scripts/build-test-images.ts` builds it. Upgrading a server is a change here.
 *
 * `ROTATION_TEST_IMAGES=local` runs the suites on the local images (built first with
 * `scripts/local-images.sh`); unset or `official`, on the official ones.
 */

/** Selects the official images (default) or the ones built here. */
export const IMAGES_VARIABLE = 'ROTATION_TEST_IMAGES';

export type ImageSource = 'official' | 'local';

/** How a local image is built: a Debian root, made with debootstrap and imported into podman. */
export interface LocalRecipe {
  /**
   * The Debian release of the root (`debootstrap --variant=minbase`), or `scratch`: nothing but
   * the files copied in (and the shared libraries they load), like a `FROM scratch` image.
   */
  release: 'bookworm' | 'sid' | 'scratch';
  /** Debian packages installed into the root; the first one is the server. */
  packages: readonly string[];
  /** The version the server package must have (a prefix of its Debian version), so the tag cannot lie. */
  version: string;
  /** System users the entry point runs the server as, where the packages do not create them. */
  users?: readonly string[];
  /** PyPI requirements installed into a virtual environment at `/opt/venv` (first on PATH). */
  pip?: readonly string[];
  /** Directories the image has (the official image's volumes). */
  dirs?: readonly string[];
  /**
   * Files copied into the root: `from` is relative to the repository, or `$FERRETDB` (the built
   * binary); `libraries` also copies the shared libraries it loads.
   */
  files?: readonly { from: string; to: string; mode: number; libraries?: boolean }[];
  /** The user the image runs as (`USER`); it owns `dirs`. */
  user?: string;
  /** The image's configuration, as `podman import --change` gives it. */
  entrypoint: readonly string[];
  cmd?: readonly string[];
  env?: Readonly<Record<string, string>>;
  ports: readonly number[];
  stopSignal?: string;
}

/** A server (or moto): its official image and, if it can be built here, its local stand-in. */
export interface ServerImage {
  /** The official image, e.g. `postgres:15`. */
  official: string;
  /** The tag of the image built here, and its recipe; absent when no such server can be built here. */
  local?: { tag: string; recipe: LocalRecipe };
  /** MySQL and MariaDB: also started with `require_secure_transport=ON`, as `<name>-require-tls`. */
  requireTlsVariant?: boolean;
}

const LOCAL_REPOSITORY = 'localhost/rotation-lambdas';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Port the PostgreSQL images listen on inside the container. */
export const POSTGRES_CONTAINER_PORT = 5432;
/** Port the MySQL and MariaDB images listen on inside the container. */
export const MYSQL_CONTAINER_PORT = 3306;
/** Port the MongoDB images listen on inside the container (TLS and plain text on one port). */
export const MONGODB_CONTAINER_PORT = 27017;
/** FerretDB's plain-text and TLS ports inside its container (its image's defaults). */
export const FERRETDB_CONTAINER_PORTS = { plain: 27017, tls: 27018 } as const;
/** Port moto's server image listens on inside the container. */
export const MOTO_CONTAINER_PORT = 5000;

function postgres(major: string, release: LocalRecipe['release']): ServerImage {
  return {
    official: `postgres:${major}`,
    local: {
      tag: `${LOCAL_REPOSITORY}/postgres:${major}`,
      recipe: {
        release,
        packages: [`postgresql-${major}`],
        version: `${major}.`,
        files: [
          {
            from: 'test/images/postgres-entrypoint.sh',
            to: '/usr/local/bin/docker-entrypoint.sh',
            mode: 0o755,
          },
        ],
        entrypoint: ['docker-entrypoint.sh'],
        cmd: ['postgres'],
        env: {
          PATH: `/usr/lib/postgresql/${major}/bin:${SYSTEM_PATH}`,
          PGDATA: '/var/lib/postgresql/data',
        },
        ports: [POSTGRES_CONTAINER_PORT],
        stopSignal: 'SIGINT',
      },
    },
  };
}

function mysql(
  flavor: 'mysql' | 'mariadb',
  version: string,
  release: LocalRecipe['release'],
  requireTlsVariant = false,
): ServerImage {
  const packages =
    flavor === 'mysql' ? ['mysql-server-core'] : ['mariadb-server-core', 'mariadb-client-core'];
  return {
    official: `${flavor}:${version}`,
    requireTlsVariant,
    local: {
      tag: `${LOCAL_REPOSITORY}/${flavor}:${version}`,
      recipe: {
        release,
        packages,
        version: flavor === 'mysql' ? `${version}.` : `1:${version}.`,
        users: ['mysql'],
        files: [
          {
            from: 'test/images/mysql-entrypoint.sh',
            to: '/usr/local/bin/docker-entrypoint.sh',
            mode: 0o755,
          },
        ],
        entrypoint: ['docker-entrypoint.sh'],
        cmd: [flavor === 'mysql' ? 'mysqld' : 'mariadbd'],
        env: { PATH: SYSTEM_PATH },
        ports: [MYSQL_CONTAINER_PORT],
      },
    },
  };
}

/** PostgreSQL: Debian stable's, and the newest major (from sid). */
export const POSTGRES_IMAGES: readonly ServerImage[] = [
  postgres('15', 'bookworm'),
  postgres('18', 'sid'),
];

/**
 * MySQL-protocol servers: MySQL's LTS line, MariaDB's LTS in Debian stable, and its newest LTS;
 * one of each family also requires TLS, as locally.
 */
export const MYSQL_IMAGES: readonly ServerImage[] = [
  mysql('mysql', '9.7', 'sid', true),
  mysql('mariadb', '10.11', 'bookworm', true),
  mysql('mariadb', '11.8', 'sid'),
];

/**
 * MongoDB: the two newest major lines, official images only. No MongoDB server can be obtained
 * here, so with local images the MongoDB-protocol suites run on FerretDB alone.
 */
export const MONGODB_IMAGES: readonly ServerImage[] = [
  { official: 'mongo:7.0' },
  { official: 'mongo:8.0' },
];

/** FerretDB 1.x with its SQLite backend (the version `scripts/install-ferretdb.sh` builds). */
export const FERRETDB_IMAGES: readonly ServerImage[] = [
  {
    official: 'ghcr.io/ferretdb/ferretdb:1.24.0',
    local: {
      tag: `${LOCAL_REPOSITORY}/ferretdb:1.24.0`,
      // As the official image (build/ferretdb/production.Dockerfile): FROM scratch, no shell,
      // the binary as the entry point, run as `ferretdb`, its state in /state.
      recipe: {
        release: 'scratch',
        packages: [],
        version: '',
        users: ['ferretdb'],
        user: 'ferretdb',
        dirs: ['/state'],
        files: [{ from: '$FERRETDB', to: '/ferretdb', mode: 0o755, libraries: true }],
        entrypoint: ['/ferretdb'],
        env: { FERRETDB_STATE_DIR: '/state', FERRETDB_SQLITE_URL: 'file:/state/' },
        ports: [FERRETDB_CONTAINER_PORTS.plain, FERRETDB_CONTAINER_PORTS.tls],
      },
    },
  },
];

/** moto's server (the Secrets Manager, RDS and other AWS APIs), the version the local runs use. */
export const MOTO_IMAGE: ServerImage = {
  official: 'motoserver/moto:5.2.1',
  local: {
    tag: `${LOCAL_REPOSITORY}/moto:5.2.1`,
    recipe: {
      release: 'bookworm',
      packages: ['python3', 'python3-venv'],
      version: '3.11.',
      pip: ['moto[server]==5.2.1'],
      entrypoint: ['/opt/venv/bin/moto_server'],
      cmd: ['-H', '0.0.0.0', '-p', String(MOTO_CONTAINER_PORT)],
      env: { PATH: `/opt/venv/bin:${SYSTEM_PATH}` },
      ports: [MOTO_CONTAINER_PORT],
    },
  },
};

/** Every image above, for the builder. */
export const ALL_IMAGES: readonly ServerImage[] = [
  ...POSTGRES_IMAGES,
  ...MYSQL_IMAGES,
  ...MONGODB_IMAGES,
  ...FERRETDB_IMAGES,
  MOTO_IMAGE,
];

/** `official` unless {@link IMAGES_VARIABLE} says `local`. */
export function imageSource(): ImageSource {
  const value = process.env[IMAGES_VARIABLE] ?? '';
  if (value === '' || value === 'official') return 'official';
  if (value === 'local') return 'local';
  throw new Error(`${IMAGES_VARIABLE} must be "official" or "local", not "${value}"`);
}

/**
 * The images to start from `images` for `source`, each with whether it also runs as a require-TLS
 * variant; servers with no local build are left out (and named).
 */
export function imagesFor(
  images: readonly ServerImage[],
  source: ImageSource,
): { names: string[]; requireTls: string[]; leftOut: string[] } {
  const chosen = images.flatMap((image) => {
    const name = source === 'official' ? image.official : image.local?.tag;
    return name ? [{ name, requireTls: image.requireTlsVariant === true }] : [];
  });
  return {
    names: chosen.map((image) => image.name),
    requireTls: chosen.filter((image) => image.requireTls).map((image) => image.name),
    leftOut: source === 'official' ? [] : images.filter((i) => !i.local).map((i) => i.official),
  };
}
