/**
 * The system tags RDS puts on a master secret it manages (`ManageMasterUserPassword`). Tags whose
 * key starts with `aws:` can be set only by AWS, so they say which database the secret belongs to
 * in a way no user of the account can forge.
 */
export const MANAGED_INSTANCE_TAG = 'aws:rds:primaryDBInstanceArn';
export const MANAGED_CLUSTER_TAG = 'aws:rds:primaryDBClusterArn';

/** Where RDS says a managed master secret's database is: its writer endpoint. */
export interface ManagedDatabase {
  host: string;
  port: number;
  /** RDS's engine name: `postgres`, `aurora-postgresql`, `mysql`, `aurora-mysql`, `mariadb`, `docdb`. */
  engine: string;
  /** The instance or cluster ARN, from the tag. */
  arn: string;
  /**
   * Where a user's secret may point instead, reading what the writer wrote, as RDS reports them:
   * the instance's read replicas, or the cluster's reader endpoint and its non-writer members.
   */
  readers: Endpoint[];
}

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * Where a master secret's database is and who reads from it, as RDS says (`./rds`'s
 * `rdsLocator`). Passed in by the code that reads master secrets, so that functions without one
 * carry no RDS client.
 */
export interface MasterLocator {
  /** The database of an RDS-managed master secret, from its system tags; `undefined` when they name none. */
  managed(
    masterArn: string,
    tags: ReadonlyMap<string, string>,
  ): Promise<ManagedDatabase | undefined>;
  /** The read replicas and readers of the RDS database whose endpoint is `host`; empty for any other host. */
  readersOfEndpoint(host: string, port: number): Promise<readonly Endpoint[]>;
}
