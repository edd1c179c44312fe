import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of the Secrets Manager API that counts the calls passing through it by
 * operation (the `X-Amz-Target` header: `secretsmanager.DescribeSecret` → `DescribeSecret`).
 * The functions reach it through SECRETS_MANAGER_ENDPOINT; the bench's own calls go around it.
 */
export class CountingProxy {
  public readonly counts = new Map<string, number>();
  private server: Server | undefined;
  private readonly agent = new Agent({ keepAlive: true });

  public constructor(private readonly target: string) {}

  /** Starts listening on a free port of 127.0.0.1; returns the proxy's endpoint URL. */
  public async start(): Promise<string> {
    const upstream = new URL(this.target);
    this.server = createServer((req, res) => {
      const operation = String(req.headers['x-amz-target'] ?? 'unknown').replace(/^.*\./, '');
      this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: this.agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  public reset(): void {
    this.counts.clear();
  }

  /** The counts as a plain object, sorted by operation. */
  public snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }

  public async stop(): Promise<void> {
    this.agent.destroy();
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }
}
