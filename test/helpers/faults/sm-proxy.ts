import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { nextSequence } from './clock';

/** One Secrets Manager call as the proxy saw it. */
export interface SmCall {
  /** 0-based, counted from the last {@link SecretsManagerProxy.arm}. */
  index: number;
  /** The operation from the `X-Amz-Target` header, e.g. `GetSecretValue`. */
  operation: string;
  /** When the call arrived, in the order of {@link nextSequence}. */
  sequence: number;
  /**
   * The SDK's attempt number from its `amz-sdk-request` header (`attempt=2; max=3`): above 1, the
   * SDK is sending the call again after a failed attempt. 1 when the header is absent.
   */
  attempt: number;
}

/**
 * What to do with a call before it reaches the server: pass it on, close the socket (a refused or
 * reset connection), answer 500 InternalServiceError, answer 400 ThrottlingException, or hold it
 * forever.
 */
export type SmBeforeAction = 'forward' | 'refuse' | 'error500' | 'throttle' | 'stall';
/** What to do with the server's answer: deliver it, close the socket instead, or hold it forever. */
export type SmAfterAction = 'deliver' | 'drop' | 'stall';

/** Decisions the proxy asks for; a hook may be async (e.g. kill the client process first). */
export interface SmHooks {
  before?: (call: SmCall) => SmBeforeAction | Promise<SmBeforeAction>;
  after?: (call: SmCall) => SmAfterAction | Promise<SmAfterAction>;
}

/** The JSON error shape of the AWS JSON 1.1 protocol, which the SDK parses. */
function awsError(response: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ __type: type, message });
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomUUID(),
    'x-amzn-errortype': type,
  });
  response.end(body);
}

/**
 * An HTTP proxy in front of the Secrets Manager endpoint (moto) that records every call by
 * operation and can fail any one of them before or after the server handles it.
 *
 * It also makes one rule of the real service hold that moto does not keep: PutSecretValue with the
 * ClientRequestToken of a version that already holds a different value fails with
 * ResourceExistsException (moto overwrites a version labelled AWSPENDING). Puts are serialised per
 * secret so that check and write are atomic for calls through this proxy.
 */
export class SecretsManagerProxy {
  private server: Server | undefined;
  private hooks: SmHooks = {};
  private calls: SmCall[] = [];
  private previous: SmCall[] = [];
  private readonly agent = new Agent({ keepAlive: true });
  private readonly putLocks = new Map<string, Promise<void>>();
  private readonly upstream: URL;

  public constructor(upstreamEndpoint: string) {
    this.upstream = new URL(upstreamEndpoint);
  }

  /** Starts listening on an ephemeral port of 127.0.0.1; returns the endpoint URL. */
  public async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.socket?.destroy());
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /**
   * Resets the counter and sets the hooks for the calls that follow. What was recorded since the
   * arm before is kept as {@link lastTrace}.
   */
  public arm(hooks: SmHooks = {}): void {
    this.hooks = hooks;
    this.previous = this.calls;
    this.calls = [];
  }

  /** The calls recorded between the last two calls of {@link arm}. */
  public get lastTrace(): SmCall[] {
    return this.previous.map((c) => ({ ...c }));
  }

  public async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.agent.destroy();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const call: SmCall = {
      index: this.calls.length,
      sequence: nextSequence(),
      operation: target.slice(target.lastIndexOf('.') + 1) || `${req.method} ${req.url}`,
      attempt: sdkAttempt(req),
    };
    this.calls.push(call);
    const hooks = this.hooks;
    const before = (await hooks.before?.(call)) ?? 'forward';
    switch (before) {
      case 'refuse':
        req.socket.destroy();
        return;
      case 'stall':
        return;
      case 'error500':
        awsError(res, 500, 'InternalServiceError', 'Injected fault: internal service error');
        return;
      case 'throttle':
        awsError(res, 400, 'ThrottlingException', 'Rate exceeded');
        return;
    }
    const answer =
      call.operation === 'PutSecretValue'
        ? await this.putLikeTheService(req, body)
        : await this.forward(req, body);
    const after = (await hooks.after?.(call)) ?? 'deliver';
    if (after === 'drop') {
      req.socket.destroy();
      return;
    }
    if (after === 'stall') return;
    if (answer.kind === 'conflict') {
      awsError(
        res,
        400,
        'ResourceExistsException',
        "You can't modify an existing version, you can only create new ones.",
      );
      return;
    }
    const headers: Record<string, string | string[] | undefined> = {
      ...answer.headers,
      'content-length': String(answer.body.length),
    };
    for (const hop of ['transfer-encoding', 'connection', 'keep-alive']) delete headers[hop];
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }

  private async putLikeTheService(req: IncomingMessage, body: Buffer): Promise<Answer> {
    const input = JSON.parse(body.toString('utf8')) as {
      SecretId?: string;
      ClientRequestToken?: string;
      SecretString?: string;
    };
    const key = input.SecretId ?? '';
    const previous = this.putLocks.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.putLocks.set(
      key,
      previous.then(() => mine),
    );
    await previous;
    try {
      if (input.ClientRequestToken) {
        const existing = await this.post('GetSecretValue', req, {
          SecretId: input.SecretId,
          VersionId: input.ClientRequestToken,
        });
        if (existing.status === 200) {
          const stored = (JSON.parse(existing.body.toString('utf8')) as { SecretString?: string })
            .SecretString;
          if (stored !== undefined && stored !== input.SecretString) return { kind: 'conflict' };
        }
      }
      return await this.forward(req, body);
    } finally {
      release();
    }
  }

  private post(operation: string, req: IncomingMessage, input: unknown): Promise<Upstream> {
    const body = Buffer.from(JSON.stringify(input));
    const headers = {
      ...req.headers,
      'x-amz-target': `secretsmanager.${operation}`,
      'content-length': String(body.length),
    };
    return this.send(req.method ?? 'POST', req.url ?? '/', headers, body);
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<Upstream> {
    return this.send(req.method ?? 'POST', req.url ?? '/', req.headers, body);
  }

  private send(
    method: string,
    path: string,
    headers: IncomingMessage['headers'],
    body: Buffer,
  ): Promise<Upstream> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method,
          path,
          headers: { ...headers, host: this.upstream.host },
          agent: this.agent,
        },
        (response) => {
          readBody(response).then(
            (data) =>
              resolve({
                kind: 'answer',
                status: response.statusCode ?? 502,
                headers: response.headers,
                body: data,
              }),
            reject,
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }
}

interface Upstream {
  kind: 'answer';
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Answer = Upstream | { kind: 'conflict' };

/** A call as traces and errors name it: `GetSecretValue`, or `GetSecretValue (attempt 2)`. */
export function callLabel(call: SmCall): string {
  return call.attempt > 1 ? `${call.operation} (attempt ${call.attempt})` : call.operation;
}

function sdkAttempt(req: IncomingMessage): number {
  const match = /attempt=(\d+)/.exec(String(req.headers['amz-sdk-request'] ?? ''));
  return match ? Number(match[1]) : 1;
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
