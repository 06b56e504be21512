// The ServerResponse as the node:http adapter uses it: the private node:http fields it reads and replaces, the
// symbols it hangs its own state on, and node's original methods its replacements fall back to. Shared by
// node-http-adapter.ts (the CGI head, Content-Length accounting, finish) and response-fast-paths.ts.

import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpInternals } from '../../node-internals.js';
import type { ExchangeHost } from '../connection/exchange.js';
import type { ConnectionSocket } from '../transport/connection-socket.js';

// Private OutgoingMessage fields relied on (probed by src/node-internals.ts, pinned by test/unit/worker/node-internals.test.ts): _storeHeader(),
// _send(), _implicitHeader(), _finish(), _header, _headerSent, _hasBody, _last, _contentLength, _removedContLen,
// _closed, outputData, chunkedEncoding, useChunkedEncodingByDefault, shouldKeepAlive, the socket's _httpMessage
// and _hadError, and the kOutHeaders/kNeedDrain symbols below.

export const kExchange = Symbol('scgi-supervise.exchange');
export const kRemaining = Symbol('scgi-supervise.remaining');
export const kStreamed = Symbol('scgi-supervise.streamed');

/** What a response needs of the exchange it belongs to. */
export interface ResponseExchange {
  readonly host: ExchangeHost;
  /** The app's own Content-Length, -1 when it declared none. */
  declared: number;
  truncatedLogged: boolean;
}

export interface CgiResponse extends ServerResponse {
  _storeHeader(firstLine: string, headers: unknown): void;
  _send(data: string | Uint8Array, encoding: BufferEncoding | null | undefined, callback: unknown, size?: number): boolean;
  _implicitHeader(): void;
  _finish(): void;
  _header: string | null;
  _headerSent: boolean;
  _hasBody: boolean;
  _last: boolean;
  _contentLength: number | null;
  _removedContLen: boolean;
  _closed: boolean;
  outputData: unknown[];
  writeProcessing(): void;
  [kExchange]: ResponseExchange;
  /** Body bytes still allowed by the app's own Content-Length; -1 when it declared none. */
  [kRemaining]: number;
  /** res.write() was called: the body leaves in several writes (unset until then). */
  [kStreamed]?: boolean;
}

const http = httpInternals();
/**
 * Where node keeps setHeader()'s headers (not exported): writeHead() hands that very object to _storeHeader, whose
 * entries are [name, value] pairs rather than values.
 */
export const kOutHeaders: symbol | undefined = http.kOutHeaders;
/**
 * Set by OutgoingMessage#write when it returned false; node:http's server relays the socket's 'drain' to the
 * response only then (socketOnDrain), and so do we.
 */
export const kNeedDrain: symbol | undefined = http.kNeedDrain;

type Method<R> = (this: CgiResponse, ...args: unknown[]) => R;
const proto = http.outgoing;
export const protoSend = proto._send as CgiResponse['_send'];
export const protoSetHeader = proto.setHeader as Method<CgiResponse>;
export const protoEnd = proto.end as Method<CgiResponse>;
export const protoWrite = proto.write as Method<boolean>;
export const protoDestroy = proto.destroy as Method<CgiResponse>;

/** The accepted socket as node:http's server marks it: the response it currently carries. */
export type HttpSocket = Socket & { _httpMessage?: CgiResponse | null; _hadError?: boolean };

/**
 * ServerResponse#assignSocket without its per-request 'close' listener on the socket and its 'socket' event (no app
 * can listen yet): the connection calls Exchange.socketClosed instead, which emits the response's 'close' as that
 * listener would.
 */
export function attachSocket(res: CgiResponse, socket: ConnectionSocket): void {
  (socket as HttpMessageCarrier)._httpMessage = res;
  (res as { socket: ConnectionSocket | null }).socket = socket;
}

export function detachSocket(res: CgiResponse, socket: ConnectionSocket): void {
  (socket as HttpMessageCarrier)._httpMessage = null;
  (res as { socket: ConnectionSocket | null }).socket = null;
}

/** node:http's own field on a socket, which a HandleSocket declares and a net.Socket gets from node:http. */
type HttpMessageCarrier = ConnectionSocket & { _httpMessage?: CgiResponse | null };
