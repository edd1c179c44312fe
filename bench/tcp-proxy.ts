import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a database server that counts client connections exactly: how many are
 * open now, and the most that were open at once. TLS passes through untouched (PostgreSQL and
 * MySQL negotiate it inside the stream, MongoDB from the first byte), and the certificate is
 * still checked against the secret's host, 127.0.0.1.
 */
export class TcpProxy {
  public open = 0;
  public peak = 0;
  public total = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  public constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Starts listening on a free port of 127.0.0.1; returns that port. */
  public async start(): Promise<number> {
    this.server = createServer((client) => {
      this.open += 1;
      this.total += 1;
      this.peak = Math.max(this.peak, this.open);
      const upstream = connect(this.port, this.host);
      this.sockets.add(client).add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.once('close', () => {
        this.open -= 1;
        this.sockets.delete(client);
        upstream.destroy();
      });
      upstream.once('close', () => {
        this.sockets.delete(upstream);
        // The server closed: close the client side too. Once upstream is gone, pipe() leaves the
        // client paused, and a paused socket never reads the client's own FIN, so never closes.
        client.end();
        client.resume();
      });
      client.on('error', close);
      upstream.on('error', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server.maxConnections = 10_000;
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** Zeroes the peak and total (open connections stay counted). */
  public reset(): void {
    this.peak = this.open;
    this.total = 0;
  }

  /** Waits until no client connection is open, or `timeoutMs`; returns how many are still open. */
  public async settle(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.open;
  }

  public async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
