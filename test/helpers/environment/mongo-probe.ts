import { type Document, MongoClient, type MongoClientOptions } from 'mongodb';

/** What a running MongoDB-wire-protocol server reports about itself. */
export interface MongoFacts {
  /** `ferretdb` when `buildInfo` has a `ferretdbVersion` field, otherwise `mongodb`. */
  kind: 'ferretdb' | 'mongodb';
  /** `buildInfo.ferretdbVersion` for FerretDB (e.g. `v1.24.0`), `buildInfo.version` for MongoDB. */
  version: string;
  /** `buildInfo.version`: for FerretDB, the MongoDB version it emulates (e.g. `7.0.42`). */
  mongodbVersion: string;
}

/**
 * Connects once (logging in if `options` carry credentials), reads `buildInfo` and disconnects.
 * Connects straight to the one host in `url` unless the URL says otherwise.
 */
export async function probeMongo(url: string, options: MongoClientOptions): Promise<MongoFacts> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    ...(/[?&]directConnection=/i.test(url) ? {} : { directConnection: true }),
    ...options,
  });
  try {
    await client.connect();
    const info: Document = await client.db('admin').command({ buildInfo: 1 });
    const mongodbVersion = info.version;
    if (typeof mongodbVersion !== 'string') {
      throw new Error('buildInfo returned no version');
    }
    const ferretdbVersion: unknown = info.ferretdbVersion;
    return typeof ferretdbVersion === 'string'
      ? { kind: 'ferretdb', version: ferretdbVersion, mongodbVersion }
      : { kind: 'mongodb', version: mongodbVersion, mongodbVersion };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** `major.minor` from a version such as `7.0.14` or `v1.24.0`. */
export function mongoMajorMinor(version: string): string {
  const match = /^v?(\d+)\.(\d+)/.exec(version);
  if (!match) {
    throw new Error(`cannot read a major.minor version from "${version}"`);
  }
  return `${match[1]}.${match[2]}`;
}

/** `ferretdb-1.24` or `mongodb-8.0`. */
export function mongoServerName(facts: MongoFacts): string {
  return `${facts.kind}-${mongoMajorMinor(facts.version)}`;
}
