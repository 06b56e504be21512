// (req, res) apps (Express, connect, Koa's callback, Fastify's routing): a real http.IncomingMessage and
// http.ServerResponse over the connection's socket (a HandleSocket, or a net.Socket on the fallback path;
// LIBRARIES.md §7, approach C), with the response head rewritten
// into a CGI head (`Status: NNN Reason`, no chunking, no hop-by-hop headers). Not here: the socket's life
// (serve.ts), the head's byte format (protocol/response-writer.ts), fetch-style apps (fetch-adapter.ts).

import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket as NetSocket } from 'node:net';
import { httpInternals } from '../../node-internals.js';
import type { RequestHead } from '../../protocol/request-parser.js';
import { formatHead, isHopByHop, type HeaderList } from '../../protocol/response-writer.js';
import type { Exchange, ExchangeHost, StartExchange } from '../connection/exchange.js';
import { headersObject, httpVersion, rawRequestHeaders } from './request-headers.js';
import { describePeer, writeInOne } from './socket-tweaks.js';
import { attachSocket, detachSocket, kExchange, kOutHeaders, kRemaining, protoDestroy, protoSend, type CgiResponse } from './cgi-response.js';
import { endInOne, setHeaderChecked, writeStreamed } from './response-fast-paths.js';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

// Private IncomingMessage fields this adapter relies on (probed by src/node-internals.ts, pinned by test/unit/worker/node-internals.test.ts):
// complete, _consuming, _dump(), _readableState.resumeScheduled, kHeadersCount. The response's: cgi-response.ts.
interface Req extends IncomingMessage {
  _consuming: boolean;
  _dump(): void;
  _readableState: { resumeScheduled: boolean };
}

/** How many rawHeaders entries node:http's lazy req.headers getter reads (not exported; node-internals.ts finds it). */
const kHeadersCount: symbol | undefined = httpInternals().kHeadersCount;

class NodeExchange implements Exchange {
  truncatedLogged = false;
  declared = -1;
  constructor(
    readonly host: ExchangeHost,
    readonly handler: NodeHandler,
    readonly req: Req,
    readonly res: CgiResponse,
  ) {}

  dispatch(): void {
    let ret: unknown;
    try {
      ret = this.handler(this.req, this.res);
    } catch (err) {
      this.host.appFailed(err);
      return;
    }
    // Koa's callback returns a promise; a rejection is an app error like a throw.
    if (ret !== null && typeof ret === 'object' && typeof (ret as PromiseLike<unknown>).then === 'function') {
      const host = this.host;
      (ret as PromiseLike<unknown>).then(undefined, (err: unknown) => host.appFailed(err));
    }
  }

  body(chunk: Buffer): boolean {
    return this.req.push(chunk);
  }

  end(): void {
    // As node:http's parser does: complete first, so a later destroy() emits no 'aborted'.
    this.req.complete = true;
    this.req.push(null);
  }

  abort(error: Error): void {
    // node:http's abortIncoming: destroy the request with ECONNRESET 'aborted' ('aborted', then 'error' only
    // if the app listens, then 'close'). res emits 'close' in socketClosed, next.
    if (!this.req.destroyed) this.req.destroy(error);
  }

  expire(error: Error): void {
    // Detach first: an app that answers from its 'aborted' listener (emitted inside req.destroy) must not reach the
    // socket, where the connection writes its 504. Later writes fail as on a destroyed node:http response.
    const res = this.res;
    const socket = res.socket;
    if (socket !== null) detachSocket(res, socket);
    // IncomingMessage#_destroy destroys req.socket when the request was not read to its end, which would take the
    // 504 with it: the request lets go of the socket for the length of its destroy().
    const req = this.req as unknown as { socket: unknown };
    const reqSocket = req.socket;
    req.socket = null;
    try {
      this.abort(error);
    } finally {
      req.socket = reqSocket;
    }
    process.nextTick(emitResClose, res);
  }

  socketClosed(): void {
    // node:http's onServerResponseClose: a response still on the socket (not finished) closes with it, at once.
    if (this.res.socket !== null) emitResClose(this.res);
  }

  dump(): void {
    // node:http's resOnFinish: an app that never read the body gets it dumped, so it is read off the wire.
    const req = this.req;
    if (!req._consuming && !req._readableState.resumeScheduled) req._dump();
  }

  headWritten(): boolean {
    return this.res._headerSent;
  }

  responseEnded(): boolean {
    return this.res.writableEnded;
  }

  status(): number {
    return this.res.statusCode;
  }
}

/** The entry serve.ts calls per request for a (req, res) app. */
export function nodeExchangeStarter(handler: NodeHandler): StartExchange {
  return (host: ExchangeHost, head: RequestHead): Exchange => {
    const socket = host.socket;
    const params = head.params;
    describePeer(socket, params);

    // node:http's types name a net.Socket; on the handle path it gets HandleSocket, the look-alike with what
    // IncomingMessage, ServerResponse and apps read of one (transport/handle-socket.ts).
    const req = new IncomingMessage(socket as NetSocket) as Req;
    req.method = head.method;
    req.url = head.uri; // raw, undecoded, maybe absolute-form (case 22)
    const [major, minor] = httpVersion(params);
    req.httpVersionMajor = major;
    req.httpVersionMinor = minor;
    req.httpVersion = `${major}.${minor}`;
    const rawHeaders = rawRequestHeaders(head);
    req.rawHeaders = rawHeaders;
    if (kHeadersCount !== undefined) {
      // node:http builds req.headers (and headersDistinct) from rawHeaders on first read, with its own merging.
      (req as unknown as Record<symbol, number>)[kHeadersCount] = rawHeaders.length;
    } else {
      req.headers = headersObject(rawHeaders);
    }

    const res = new ServerResponse(req) as unknown as CgiResponse;
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.sendDate = false;
    // Own properties, not a subclass: Express and Koa swap the prototype of res for their own object that
    // inherits from http.ServerResponse.prototype, which would bypass a subclass's overrides.
    res._storeHeader = storeCgiHeader;
    res.writeContinue = ignoreInterim; // the front end already answered 100 Continue (case 22)
    res.writeProcessing = ignoreInterim;
    res.writeEarlyHints = ignoreInterim;
    res.destroy = destroyResponse;
    res.end = endInOne;
    if (kOutHeaders !== undefined) res.setHeader = setHeaderChecked;
    res.write = writeStreamed;
    res[kRemaining] = -1;
    const exchange = new NodeExchange(host, handler, req, res);
    res[kExchange] = exchange;
    res.on('finish', onResFinish);
    if (socket instanceof NetSocket) writeInOne(socket); // a HandleSocket already writes a flush in one
    attachSocket(res, socket);
    return exchange;
  };
}

/** writeContinue/writeProcessing/writeEarlyHints: the front end speaks HTTP to the client, SCGI has no interim responses. */
function ignoreInterim(this: ServerResponse, callback?: unknown): void {
  if (typeof callback === 'function') process.nextTick(callback as () => void);
}

/**
 * Replaces OutgoingMessage#_storeHeader on each response: the same inputs (writeHead's status line and header
 * store), but the output is a CGI head from protocol/response-writer.ts: `Status:` instead of `HTTP/1.1`,
 * hop-by-hop headers and Transfer-Encoding dropped, no Date, never chunked (cases 28-32).
 */
function storeCgiHeader(this: CgiResponse, _firstLine: string, headers: unknown): void {
  const status = this.statusCode;
  const list: HeaderList = [];
  if (headers !== null && typeof headers === 'object') {
    if (kOutHeaders !== undefined && headers === (this as unknown as Record<symbol, unknown>)[kOutHeaders]) {
      const store = headers as Record<string, [string, unknown]>;
      for (const key in store) {
        const entry = store[key]!;
        pushHeader(list, status, entry[0], entry[1]);
      }
    } else if (Array.isArray(headers)) {
      if (headers.length > 0 && Array.isArray(headers[0])) {
        for (const entry of headers as Array<[string, unknown]>) pushHeader(list, status, entry[0], entry[1]);
      } else {
        for (let i = 0; i + 1 < headers.length; i += 2) pushHeader(list, status, headers[i] as string, headers[i + 1]);
      }
    } else {
      const obj = headers as Record<string, unknown>;
      for (const key in obj) if (Object.hasOwn(obj, key)) pushHeader(list, status, key, obj[key]);
    }
  }

  // At most one Content-Length (case 31); remember it to hold the app to it.
  let declared = -1;
  for (let i = 0; i < list.length; i++) {
    const name = list[i]![0];
    if (name.length !== 14 || name.toLowerCase() !== 'content-length') continue;
    if (declared === -1) {
      declared = parseLength(list[i]![1]);
    } else {
      list.splice(i--, 1);
    }
  }
  // node:http adds Content-Length for a single res.end(body); keep that (with it, front ends see truncation).
  if (declared === -1 && this._hasBody && typeof this._contentLength === 'number' && !this._removedContLen) {
    list.push(['Content-Length', String(this._contentLength)]);
  }

  this._header = formatHead({ status, reason: this.statusMessage, headers: list });
  this._headerSent = false;
  this._last = true;
  this.chunkedEncoding = false;
  if (declared >= 0 && this._hasBody) {
    this[kRemaining] = declared;
    this[kExchange].declared = declared;
    this._send = sendWithinLength; // only responses with a declared length pay for the counting
  }
}

function pushHeader(list: HeaderList, status: number, name: string, value: unknown): void {
  if (isHopByHop(name.toLowerCase(), status)) return;
  if (Array.isArray(value)) {
    // node:http sends repeated values as repeated lines, except a multi-valued Cookie joined with '; '.
    if (value.length > 1 && name.toLowerCase() === 'cookie') {
      list.push([name, value.join('; ')]);
    } else {
      for (const v of value) list.push([name, String(v)]);
    }
  } else {
    list.push([name, String(value)]);
  }
}

/** Decimal digits only; -1 for anything else (formatHead then rejects the header itself). */
function parseLength(text: string): number {
  const t = text.trim();
  if (t.length === 0 || t.length > 15) return -1;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(t);
}

/** _send for a response with a declared Content-Length: bytes past it are dropped, and logged once (case 31). */
function sendWithinLength(
  this: CgiResponse,
  data: string | Uint8Array,
  encoding: BufferEncoding | null | undefined,
  callback: unknown,
  size?: number,
): boolean {
  const remaining = this[kRemaining];
  const len = typeof data === 'string' ? (data.length === 0 ? 0 : Buffer.byteLength(data, encoding || 'utf8')) : data.byteLength;
  if (len <= remaining) {
    this[kRemaining] = remaining - len;
    return protoSend.call(this, data, encoding, callback, size);
  }
  const exchange = this[kExchange];
  if (!exchange.truncatedLogged) {
    exchange.truncatedLogged = true;
    exchange.host.truncated(exchange.declared);
  }
  this[kRemaining] = 0;
  if (remaining === 0) return protoSend.call(this, '', 'latin1', callback, 0);
  const bytes = typeof data === 'string' ? Buffer.from(data, encoding || 'utf8') : data;
  return protoSend.call(this, bytes.subarray(0, remaining), null, callback, remaining);
}

/**
 * res.destroy() before the response finished: the app gave up on it (stream.pipeline does this when the source
 * fails mid-body). node:http would just close the socket, but in SCGI a close-delimited body ended by FIN looks
 * complete: so it is an app failure, answered like one (500 if nothing was sent, else RST: cases 33-34).
 */
function destroyResponse(this: CgiResponse, error?: Error): CgiResponse {
  const socket = this.socket;
  if (this.destroyed || this.writableFinished || socket === null) return protoDestroy.call(this, error) as CgiResponse;
  const exchange = this[kExchange];
  exchange.host.appFailed(error ?? new Error('the app destroyed its response before finishing it'));
  if (this._headerSent || this.writableEnded) return protoDestroy.call(this, error) as CgiResponse; // socket reset
  // A 500 went out and the connection drains: keep the socket, retire this response as destroy() would.
  detachSocket(this, socket);
  this.destroyed = true;
  process.nextTick(emitResClose, this);
  return this;
}

function onResFinish(this: CgiResponse): void {
  const exchange = this[kExchange];
  // A declared Content-Length not reached: the client must see a broken response, not a short one (case 31/33).
  const complete = !(this[kRemaining] > 0);
  // As node:http's resOnFinish: dump the request (responseFinished), detach, then 'close' on the next tick. The dump
  // goes first: its resume() queues a tick before the close's, so 'end' of a request still flowing comes first there.
  const socket = this.socket;
  if (socket !== null) detachSocket(this, socket);
  exchange.host.responseFinished(complete);
  process.nextTick(emitResClose, this);
}

function emitResClose(res: CgiResponse): void {
  if (!res._closed) {
    res.destroyed = true;
    res._closed = true;
    res.emit('close');
  }
}
