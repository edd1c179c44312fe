import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { nextSequence } from './clock';

/**
 * A database boundary as seen from the wire. An exchange is a burst of client bytes followed by
 * the server's answer; `before` is the moment its first client byte reaches the proxy, `after` the
 * moment the first byte of the answer does (the server has read and acted on the request).
 */
export interface DbBoundary {
  /** Connection number, 0-based, counted from the last {@link DatabaseProxy.arm}. */
  connection: number;
  /** Exchange number within the connection, 0-based. */
  exchange: number;
  phase: 'before' | 'after';
}

/**
 * What the proxy does at a boundary: pass it on; `drop`: reset the client's connection and leave
 * the server's open and silent until the proxy stops, so the server is not told (as when a NAT or
 * firewall loses the connection) and whatever the session held stays held; `stall`: hold all
 * traffic of the connection until the client goes away.
 */
export type DbAction = 'forward' | 'drop' | 'stall';

/** Decisions the proxy asks for; a hook may be async (e.g. kill the client process first). */
export interface DbHooks {
  /** A new client connection: pass it to the server, or reset it at once (server unreachable). */
  onConnect?: (connection: number) => 'forward' | 'refuse';
  onBoundary?: (boundary: DbBoundary) => DbAction | Promise<DbAction>;
}

/** One exchange of a traced connection. */
export interface ExchangeTrace {
  clientBytes: number;
  serverBytes: number;
  /** When its first client byte arrived, in the order of {@link nextSequence}. */
  sequence: number;
}

/** What the proxy saw of one client connection. */
export interface ConnectionTrace {
  connection: number;
  /** Bytes the server sent before the client's first byte (MySQL's greeting). */
  greetingBytes: number;
  exchanges: ExchangeTrace[];
  refused: boolean;
}

/**
 * A TCP proxy in front of one database server that counts connections and exchanges and can drop,
 * stall or refuse at any of them. It never decrypts: TLS runs end to end between the function and
 * the server, so certificate and host-name verification see the real server (the test
 * certificate's SANs include 127.0.0.1, where the proxy listens).
 */
export class DatabaseProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Server sides of dropped connections, kept open until {@link stop}. */
  private readonly severed = new Set<Socket>();
  private hooks: DbHooks = {};
  private connections: ConnectionTrace[] = [];
  private previous: ConnectionTrace[] = [];

  public constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  /** Starts listening on an ephemeral port of 127.0.0.1; returns the port. */
  public async start(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /**
   * Resets the counters and sets the hooks for the connections that follow. What was recorded
   * since the arm before is kept as {@link lastTrace}.
   */
  public arm(hooks: DbHooks = {}): void {
    this.hooks = hooks;
    this.previous = copy(this.connections);
    this.connections = [];
  }

  /** The connections recorded between the last two calls of {@link arm}. */
  public get lastTrace(): ConnectionTrace[] {
    return copy(this.previous);
  }

  /** Closes every connection of a client (as a dying client's kernel would). */
  public dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /**
   * Closes the server sides of dropped connections, as the server would once it noticed: for a run
   * that drops many connections one after another, so that they do not pile up on the server.
   */
  public releaseSevered(): void {
    for (const socket of this.severed) socket.destroy();
    this.severed.clear();
  }

  /** Closes everything, the server sides of dropped connections too, and stops listening. */
  public async stop(): Promise<void> {
    this.dropAll();
    for (const socket of this.severed) socket.destroy();
    this.severed.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const record: ConnectionTrace = {
      connection: this.connections.length,
      greetingBytes: 0,
      exchanges: [],
      refused: false,
    };
    this.connections.push(record);
    const hooks = this.hooks;
    client.on('error', () => undefined);
    if (hooks.onConnect?.(record.connection) === 'refuse') {
      record.refused = true;
      reset(client);
      return;
    }
    const upstream = connect(this.upstreamPort, this.upstreamHost);
    upstream.on('error', () => undefined);
    this.sockets.add(client);
    this.sockets.add(upstream);

    let closed = false;
    let stalled = false;
    let severed = false;
    let last: 'none' | 'client' | 'server' = 'none';
    const close = () => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    const sever = () => {
      if (closed || severed) return;
      severed = true;
      reset(client);
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      this.severed.add(upstream);
    };
    const done = () => closed || stalled || severed;
    // Every event goes through one queue, so a decision that takes time (killing the client
    // process) holds back everything behind it, in order.
    let queue: Promise<void> = Promise.resolve();
    const enqueue = (work: () => Promise<void> | void) => {
      queue = queue.then(work).catch(close);
    };
    const decide = async (phase: 'before' | 'after'): Promise<DbAction> => {
      if (!hooks.onBoundary) return 'forward';
      const exchange = record.exchanges.length - 1;
      return hooks.onBoundary({ connection: record.connection, exchange, phase });
    };
    const apply = (action: DbAction, pass: () => void) => {
      if (done()) return;
      if (action === 'drop') sever();
      else if (action === 'stall') stalled = true;
      else pass();
    };

    client.on('data', (chunk: Buffer) =>
      enqueue(async () => {
        if (done()) return;
        if (last !== 'client') {
          last = 'client';
          record.exchanges.push({
            clientBytes: chunk.length,
            serverBytes: 0,
            sequence: nextSequence(),
          });
          apply(await decide('before'), () => upstream.write(chunk));
          return;
        }
        const exchange = record.exchanges.at(-1);
        if (exchange) exchange.clientBytes += chunk.length;
        upstream.write(chunk);
      }),
    );
    upstream.on('data', (chunk: Buffer) =>
      enqueue(async () => {
        if (done()) return;
        const exchange = record.exchanges.at(-1);
        if (!exchange) {
          record.greetingBytes += chunk.length;
          client.write(chunk);
          return;
        }
        exchange.serverBytes += chunk.length;
        if (last === 'client') {
          last = 'server';
          apply(await decide('after'), () => client.write(chunk));
          return;
        }
        client.write(chunk);
      }),
    );
    client.on('end', () => enqueue(() => void (done() || upstream.end())));
    upstream.on('end', () => enqueue(() => void (done() || client.end())));
    client.on('close', () => enqueue(() => void (severed || close())));
    upstream.on('close', () =>
      enqueue(() => {
        this.severed.delete(upstream);
        if (!severed) close();
      }),
    );
  }
}

/**
 * Resets a connection (RST), unless its graceful shutdown has begun (`end()`, which Node calls by
 * itself once the peer's FIN arrives): a reset then fails with EINVAL and leaves the native handle
 * open, and the process spins forever at exit waiting for it (the race js-libp2p's tcp transport
 * guards against the same way, libp2p/js-libp2p#3597). Such a socket is closed normally instead.
 */
function reset(socket: Socket): void {
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

function copy(connections: readonly ConnectionTrace[]): ConnectionTrace[] {
  return connections.map((c) => ({ ...c, exchanges: c.exchanges.map((e) => ({ ...e })) }));
}
