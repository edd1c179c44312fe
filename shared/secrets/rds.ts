import type { RDSClient } from '@aws-sdk/client-rds';
import { isErrorLike, MasterSecretError } from '../errors';
import {
  type Endpoint,
  MANAGED_CLUSTER_TAG,
  MANAGED_INSTANCE_TAG,
  type ManagedDatabase,
} from './rds-tags';

/** The RDS SDK, loaded on first use: most rotations never ask RDS, and it costs ~15 MB. */
const sdk = () => import('@aws-sdk/client-rds');

let client: RDSClient | undefined;

/**
 * One RDS client per execution environment. Its endpoint is the SDK's own choice: the region's,
 * or `AWS_ENDPOINT_URL_RDS` / `AWS_ENDPOINT_URL` where set (VPC endpoints, emulators).
 */
async function rds(): Promise<RDSClient> {
  if (!client) {
    const { RDSClient } = await sdk();
    client = new RDSClient({});
  }
  return client;
}

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
  let found: { host?: string; port?: number; engine?: string } | undefined;
  const readers: Endpoint[] = [];
  try {
    const { DescribeDBClustersCommand, DescribeDBInstancesCommand } = await sdk();
    const client = rdsClient ?? (await rds());
    const instanceEndpoint = async (identifier: string): Promise<Endpoint | undefined> => {
      const out = await client.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
      );
      const endpoint = out.DBInstances?.[0]?.Endpoint;
      return endpoint?.Address && endpoint.Port
        ? { host: endpoint.Address, port: endpoint.Port }
        : undefined;
    };
    if (instanceArn) {
      const out = await client.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceArn }),
      );
      const instance = out.DBInstances?.[0];
      found = instance && {
        host: instance.Endpoint?.Address,
        port: instance.Endpoint?.Port,
        engine: instance.Engine,
      };
      for (const replica of instance?.ReadReplicaDBInstanceIdentifiers ?? []) {
        const endpoint = await instanceEndpoint(replica);
        if (endpoint) readers.push(endpoint);
      }
    } else {
      const out = await client.send(
        new DescribeDBClustersCommand({ DBClusterIdentifier: clusterArn }),
      );
      const cluster = out.DBClusters?.[0];
      found = cluster && { host: cluster.Endpoint, port: cluster.Port, engine: cluster.Engine };
      if (cluster?.ReaderEndpoint && cluster.Port) {
        readers.push({ host: cluster.ReaderEndpoint, port: cluster.Port });
      }
      for (const member of cluster?.DBClusterMembers ?? []) {
        if (member.IsClusterWriter || !member.DBInstanceIdentifier) continue;
        const endpoint = await instanceEndpoint(member.DBInstanceIdentifier);
        if (endpoint) readers.push(endpoint);
      }
    }
  } catch (error) {
    throw new MasterSecretError(
      `The master secret ${masterArn} is managed by RDS for ${arn}, but ${call} on it failed: ${isErrorLike(error) ? `${error.name}: ${error.message}` : String(error)}. The function's role needs ${call} on that database`,
      { cause: error },
    );
  }
  if (!found?.host || !found.port || !found.engine) {
    throw new MasterSecretError(
      `The master secret ${masterArn} is managed by RDS for ${arn}, but ${call} gave no endpoint for it (the database may be creating, or deleted)`,
    );
  }
  return { host: found.host, port: found.port, engine: found.engine, arn, readers };
}
