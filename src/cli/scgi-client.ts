// A one-shot SCGI client for `scgi-supervise request`: connects, sends one request the way nginx with Debian's
// scgi_params would (protocol/request-encoder.ts), reads until the server closes, and parses the CGI response head
// (protocol/response-parser.ts). Not a general HTTP client: one request per connection, no redirects, no retries.

import { connect, type Socket } from 'node:net';
import { SupervisorError } from '../errors.js';
import type { ListenAddress } from '../config/config.js';
import { formatListenAddress } from '../config/listen-address.js';
import { encodeRequest, nginxLikeParams } from '../protocol/request-encoder.js';
import { parseResponseHead } from '../protocol/response-parser.js';

export type HeaderList = Array<[name: string, value: string]>;

export interface ScgiRequest {
  address: ListenAddress;
  method: string;
  /** The request target as a client sends it: `/path?query` (REQUEST_URI, never decoded). */
  path: string;
  /** Client headers, in order; nginx-style mapping to HTTP_*; Host defaults to `localhost`. */
  headers: HeaderList;
  body?: Buffer;
  /** From connecting to the server's close. */
  timeoutMs: number;
  /** Largest response accepted (head and body). Default 1 GiB. */
  maxResponseBytes?: number;
}

export interface ScgiResponse {
  status: number;
  reason: string;
  headers: HeaderList;
  body: Buffer;
}

const NOT_RUNNING_HINT = 'is scgi-supervise running there? start it with: scgi-supervise start app.js';

export function scgiRequest(req: ScgiRequest): Promise<ScgiResponse> {
  const address = req.address;
  const where = formatListenAddress(address);
  if (address.kind === 'fd') {
    return Promise.reject(
      new SupervisorError('ERR_REQUEST_FAILED', `cannot connect to ${where}: it is an inherited descriptor, not an address`, {
        hint: 'pass the address the socket is bound to, e.g. --listen 127.0.0.1:4000 or --listen unix:/run/app.sock',
      }),
    );
  }
  const maxBytes = req.maxResponseBytes ?? 1024 * 1024 * 1024;
  const body = req.body ?? Buffer.alloc(0);
  const headers = withClientDefaults(req.headers, body);

  return new Promise((resolve, reject) => {
    const socket: Socket =
      address.kind === 'unix' ? connect({ path: address.path }) : connect({ host: address.host, port: address.port });
    const chunks: Buffer[] = [];
    let received = 0;
    let connected = false;
    let settled = false;

    const finish = (err: SupervisorError | null, res?: ScgiResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(res!);
    };

    const timer = setTimeout(() => {
      const stage = connected ? `no complete answer after ${received} bytes` : 'could not connect';
      finish(
        new SupervisorError('ERR_REQUEST_TIMEOUT', `${where}: ${stage} within ${req.timeoutMs / 1000}s`, {
          hint: connected
            ? 'the app may be slow or stuck; check the supervisor log, or raise --timeout'
            : `${NOT_RUNNING_HINT}; or raise --timeout`,
        }),
      );
    }, req.timeoutMs);

    socket.on('connect', () => {
      connected = true;
      const tcp = address.kind === 'tcp' ? address : null;
      const params = nginxLikeParams({
        method: req.method,
        uri: req.path,
        headers,
        remoteAddr: '127.0.0.1',
        remotePort: socket.localPort ?? 0,
        serverName: 'localhost',
        serverPort: tcp ? tcp.port : 80,
      });
      // Like nginx: the request in one go, then no half-close: the server ends the exchange (docs/protocol.md case 27).
      socket.write(encodeRequest(params, body));
    });

    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        finish(
          new SupervisorError('ERR_REQUEST_FAILED', `${where}: the response is larger than ${maxBytes} bytes`, {
            hint: 'fetch large responses through the front end instead',
          }),
        );
        return;
      }
      chunks.push(chunk);
    });

    // "When the SCGI server sees the end of the request it sends back a response and closes the connection."
    socket.on('end', () => finish(...complete(Buffer.concat(chunks), where, null)));

    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) {
        finish(connectError(err, where));
        return;
      }
      // A reset after a complete response (Content-Length satisfied) still counts; anything else is no answer.
      const [failure, res] = complete(Buffer.concat(chunks), where, err);
      if (failure === null && res && (err.code === 'EPIPE' || hasFullBody(res))) finish(null, res);
      else finish(failure ?? resetError(err, where, received));
    });
  });
}

/** What a real client adds: Host (nginx derives HTTP_HOST from it) and Content-Length when a body is sent. */
function withClientDefaults(headers: HeaderList, body: Buffer): HeaderList {
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  const out: HeaderList = [];
  if (!has('host')) out.push(['Host', 'localhost']);
  out.push(...headers);
  if (body.length > 0 && !has('content-length')) out.push(['Content-Length', String(body.length)]);
  return out;
}

function complete(data: Buffer, where: string, cause: Error | null): [SupervisorError | null, ScgiResponse?] {
  let head;
  try {
    head = parseResponseHead(data);
  } catch (err) {
    return [
      new SupervisorError('ERR_REQUEST_FAILED', `${where}: malformed response head (${(err as Error).message})`, {
        hint: 'the app wrote something that is not a CGI response; check the supervisor log',
        cause: err,
      }),
    ];
  }
  if (head === null) {
    const what = data.length === 0 ? 'closed the connection without answering' : `closed the connection after ${data.length} bytes, inside the response head`;
    return [
      new SupervisorError('ERR_REQUEST_FAILED', `${where}: the server ${what}`, {
        hint: 'a worker may have crashed or refused the request; check the supervisor log',
        cause: cause ?? undefined,
      }),
    ];
  }
  return [null, { status: head.status, reason: head.reason, headers: head.headers, body: data.subarray(head.bodyOffset) }];
}

function hasFullBody(res: ScgiResponse): boolean {
  const cl = res.headers.find(([n]) => n.toLowerCase() === 'content-length');
  return cl !== undefined && /^\d+$/.test(cl[1].trim()) && res.body.length >= Number(cl[1].trim());
}

function connectError(err: NodeJS.ErrnoException, where: string): SupervisorError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return new SupervisorError('ERR_REQUEST_FAILED', `connection to ${where} refused`, { hint: NOT_RUNNING_HINT, cause: err });
    case 'ENOENT':
      return new SupervisorError('ERR_REQUEST_FAILED', `no socket at ${where}`, { hint: NOT_RUNNING_HINT, cause: err });
    case 'EACCES':
    case 'EPERM':
      return new SupervisorError('ERR_REQUEST_FAILED', `permission denied connecting to ${where}`, {
        hint: 'run as a user the socket allows, or start the supervisor with a wider --socket-mode / --socket-group',
        cause: err,
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SupervisorError('ERR_REQUEST_FAILED', `cannot resolve the host of ${where}`, {
        hint: 'check the host name in --listen',
        cause: err,
      });
    default:
      return new SupervisorError('ERR_REQUEST_FAILED', `cannot connect to ${where}: ${err.code ?? err.message}`, {
        hint: NOT_RUNNING_HINT,
        cause: err,
      });
  }
}

function resetError(err: NodeJS.ErrnoException, where: string, received: number): SupervisorError {
  const what = err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset the connection' : `failed (${err.code ?? err.message})`;
  return new SupervisorError('ERR_REQUEST_FAILED', `${where}: the server ${what} after ${received} response bytes`, {
    hint: 'a worker may have crashed mid-request or refused the request; check the supervisor log',
    cause: err,
  });
}
