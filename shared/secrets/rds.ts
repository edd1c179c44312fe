import type { RDSClient } from '@aws-sdk/client-rds';
import { isErrorLike, MasterSecretError } from '../errors';
import {
  type Endpoint,
  MANAGED_CLUSTER_TAG,
  MANAGED_INSTANCE_TAG,
  type ManagedDatabase,
  type MasterLocator,
} from './rds-tags';

/** The RDS SDK, loaded on first use: most rotations never ask RDS, and it costs ~15 MB. */
const sdk = () => import('@aws-sdk/client-rds');

let client: RDSClient | undefined;

/**
 * How long one RDS call may take: inside a VPC without a route to the RDS API (no NAT gateway,
 * no `com.amazonaws.<region>.rds` endpoint) a call would otherwise wait until Lambda's timeout.
 * Two attempts of at most 3 s to connect and 5 s for the answer: a step fails after about 10 s
 * with a TimeoutError (without `throwOnRequestTimeout` the SDK only warns and keeps waiting).
 */
export const RDS_CLIENT_LIMITS = {
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
} as const;

/**
 * One RDS client per execution environment. Its endpoint is the SDK's own choice: the region's,
 * or `AWS_ENDPOINT_URL_RDS` / `AWS_ENDPOINT_URL` where set (VPC endpoints, emulators).
 */
async function rds(): Promise<RDSClient> {
  if (!client) {
    const { RDSClient } = await sdk();
    client = new RDSClient({ ...RDS_CLIENT_LIMITS });
  }
  return client;
}

/**
 * A cross-Region read replica is listed by its ARN, in another Region, where this Region's RDS
 * knows no such instance: it is left out (a user secret on it cannot share a master here anyway).
 */
function inAnotherRegion(identifier: string, region: string): boolean {
  const arn = /^arn:[^:]+:rds:([^:]*):/.exec(identifier);
  return arn !== null && arn[1] !== region;
}

interface Described {
  host?: string;
  port?: number;
  engine?: string;
  readers: Endpoint[];
}

/**
 * One instance (with its read replicas) or one cluster (its writer endpoint, with its reader
 * endpoint and non-writer members), as RDS describes it; `undefined` when RDS knows none.
 */
async function describeDatabase(
  kind: 'instance' | 'cluster',
  identifier: string,
  rdsClient?: RDSClient,
): Promise<Described | undefined> {
  const { DescribeDBClustersCommand, DescribeDBInstancesCommand } = await sdk();
  const client = rdsClient ?? (await rds());
  const instance = async (id: string) =>
    (await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })))
      .DBInstances?.[0];
  const endpointOf = async (id: string): Promise<Endpoint | undefined> => {
    const endpoint = (await instance(id))?.Endpoint;
    return endpoint?.Address && endpoint.Port
      ? { host: endpoint.Address, port: endpoint.Port }
      : undefined;
  };
  const readers: Endpoint[] = [];
  if (kind === 'instance') {
    const found = await instance(identifier);
    if (!found) return undefined;
    const region = await client.config.region();
    for (const replica of found.ReadReplicaDBInstanceIdentifiers ?? []) {
      if (inAnotherRegion(replica, region)) continue;
      const endpoint = await endpointOf(replica);
      if (endpoint) readers.push(endpoint);
    }
    return {
      host: found.Endpoint?.Address,
      port: found.Endpoint?.Port,
      engine: found.Engine,
      readers,
    };
  }
  const cluster = (
    await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }))
  ).DBClusters?.[0];
  if (!cluster) return undefined;
  if (cluster.ReaderEndpoint && cluster.Port) {
    readers.push({ host: cluster.ReaderEndpoint, port: cluster.Port });
  }
  for (const member of cluster.DBClusterMembers ?? []) {
    if (member.IsClusterWriter || !member.DBInstanceIdentifier) continue;
    const endpoint = await endpointOf(member.DBInstanceIdentifier);
    if (endpoint) readers.push(endpoint);
  }
  return { host: cluster.Endpoint, port: cluster.Port, engine: cluster.Engine, readers };
}

/** The error, and for a call that timed out or found no route, where the route comes from. */
const describeFailure = (error: unknown) => {
  const text = isErrorLike(error) ? `${error.name}: ${error.message}` : String(error);
  const network =
    isErrorLike(error) &&
    /Timeout|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|socket hang up/i.test(
      `${error.name} ${error.message} ${(error as { code?: string }).code ?? ''}`,
    );
  return network
    ? `${text} (RDS did not answer: inside a VPC the function needs a route to the RDS API, an interface VPC endpoint for com.amazonaws.<region>.rds with private DNS or a NAT gateway)`
    : text;
};

/**
 * The database an RDS-managed master secret belongs to, from its system tags and RDS's own answer:
 * for an instance, its endpoint; for a cluster (Aurora, DocumentDB), its writer endpoint.
 * `undefined` when the tags name no database: the secret is not managed by RDS.
 */
export async function managedDatabase(
  masterArn: string,
  tags: ReadonlyMap<string, string>,
  rdsClient?: RDSClient,
): Promise<ManagedDatabase | undefined> {
  const instanceArn = tags.get(MANAGED_INSTANCE_TAG);
  const clusterArn = tags.get(MANAGED_CLUSTER_TAG);
  const arn = instanceArn ?? clusterArn;
  if (!arn) return undefined;
  const call = instanceArn ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters';
  let found: Described | undefined;
  try {
    found = await describeDatabase(instanceArn ? 'instance' : 'cluster', arn, rdsClient);
  } catch (error) {
    throw new MasterSecretError(
      `The master secret ${masterArn} is managed by RDS for ${arn}, but ${call} on it failed: ${describeFailure(error)}. The function's role needs ${call} on that database`,
      { cause: error },
    );
  }
  if (!found?.host || !found.port || !found.engine) {
    throw new MasterSecretError(
      `The master secret ${masterArn} is managed by RDS for ${arn}, but ${call} gave no endpoint for it (the database may be creating, or deleted)`,
    );
  }
  return {
    host: found.host,
    port: found.port,
    engine: found.engine,
    arn,
    readers: found.readers,
  };
}

/** An RDS endpoint name: `<id>.<hash>.<region>.rds.amazonaws.com` (or a cluster's `<id>.cluster-…`). */
const RDS_ENDPOINT =
  /^([a-z][a-z0-9-]*)\.(cluster-)?[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com(\.cn)?$/i;

/**
 * The read replicas and readers of the RDS database whose endpoint is `host` (a master secret
 * that names its own host). The identifier read from the name is only a question to RDS: the
 * answer counts only if RDS gives that very endpoint for it. Empty for any other host.
 */
export async function readersOfEndpoint(
  host: string,
  port: number,
  rdsClient?: RDSClient,
): Promise<Endpoint[]> {
  const match = RDS_ENDPOINT.exec(host);
  if (!match) return [];
  const kind = match[2] ? 'cluster' : 'instance';
  const call = kind === 'cluster' ? 'rds:DescribeDBClusters' : 'rds:DescribeDBInstances';
  let found: Described | undefined;
  try {
    found = await describeDatabase(kind, match[1] as string, rdsClient);
  } catch (error) {
    if ((error as { name?: string }).name?.endsWith('NotFoundFault')) return [];
    throw new MasterSecretError(
      `Looking up the read replicas and readers of ${host} failed (${call}: ${describeFailure(error)}). The function's role needs ${call} on that database`,
      { cause: error },
    );
  }
  const same = found?.host?.toLowerCase() === host.toLowerCase() && found?.port === port;
  return same && found ? found.readers : [];
}

/** RDS as the master secrets' locator: what the alternating-users strategy and preflight ask. */
export const rdsLocator: MasterLocator = {
  managed: (masterArn, tags) => managedDatabase(masterArn, tags),
  readersOfEndpoint: (host, port) => readersOfEndpoint(host, port),
};
