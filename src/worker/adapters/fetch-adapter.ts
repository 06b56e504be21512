// fetch-style apps (Hono, `export default { fetch }`): one SCGI request → a WHATWG Request (body streamed with
// backpressure, aborted when the front end goes away) → app.fetch() → the Response written as a CGI head plus a
// body with backpressure. Not here: the socket's life (serve.ts), head bytes (protocol/response-writer.ts).

import { ReadableStream, type ReadableStreamDefaultController } from 'node:stream/web';
import type { RequestHead } from '../../protocol/request-parser.js';
import { errorResponse, formatHead, isBodiless, isHopByHop, type HeaderList } from '../../protocol/response-writer.js';
import type { Exchange, ExchangeHost, StartExchange } from '../connection/exchange.js';
import type { ConnectionSocket } from '../transport/connection-socket.js';
import { isHttps, requestHeaders } from './request-headers.js';

export interface FetchApp {
  fetch(request: Request, env: FetchEnv): unknown;
}

/**
 * The second argument of fetch(request, env): the client's address in the shape @hono/node-server's getConnInfo
 * reads (`env.incoming.socket`), since a Request has no place for it, plus the raw SCGI params.
 */
export interface FetchEnv {
  incoming: { socket: { remoteAddress?: string; remotePort?: number; remoteFamily?: string; encrypted: boolean } };
  scgi: Record<string, string>;
}

type ReadResult = { done: true; value?: undefined } | { done: false; value: Uint8Array };
interface Reader {
  read(): Promise<ReadResult>;
  cancel(reason?: unknown): Promise<void>;
}

// The request body buffers up to this much in the stream before the socket is paused.
const BODY_STRATEGY = { highWaterMark: 64 * 1024, size: (chunk: Uint8Array): number => chunk.byteLength };
const ABSOLUTE_URI = /^[a-z][a-z0-9+.-]*:\/\//i;
const NON_ASCII = /[\x80-\xff]/;

/** The entry serve.ts calls per request for a fetch-style app. */
export function fetchExchangeStarter(app: FetchApp): StartExchange {
  return (host: ExchangeHost, head: RequestHead): Exchange => new FetchExchange(host, app, head);
}

class FetchExchange implements Exchange {
  /** The request body's stream controller while the app may still read it; null when there is none or it ended. */
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  private readonly abortController = new AbortController();
  private headSent = false;
  /** The status written (0 until the head is out: a 500 from appFailed is counted by the connection). */
  private sentStatus = 0;
  private aborted = false;

  constructor(
    private readonly host: ExchangeHost,
    private readonly app: FetchApp,
    private readonly head: RequestHead,
  ) {}

  dispatch(): void {
    let request: Request;
    try {
      request = this.buildRequest();
    } catch (err) {
      // A URL or method the WHATWG parser refuses (`CONNECT`, a bad Host): the client's fault, not the app's.
      const reason = err instanceof Error ? err.message : String(err);
      this.host.warn({ uri: this.head.uri, method: this.head.method, reason }, 'request refused (400): not a valid fetch Request');
      this.writeError(400);
      return;
    }
    this.run(request).catch((err: unknown) => this.host.appFailed(err));
  }

  // --- the request body, as the underlying source of a ReadableStream (these three are called by the stream) ---

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
  }

  pull(): void {
    this.host.resumeBody();
  }

  cancel(): void {
    // The app does not want the rest: keep reading it off the wire and drop it.
    this.controller = null;
    this.host.resumeBody();
  }

  // --- Exchange ---

  body(chunk: Buffer): boolean {
    const controller = this.controller;
    if (controller === null) return true;
    controller.enqueue(chunk);
    return (controller.desiredSize ?? 1) > 0;
  }

  end(): void {
    const controller = this.controller;
    this.controller = null;
    if (controller !== null) controller.close();
  }

  abort(error: Error): void {
    this.aborted = true;
    const controller = this.controller;
    this.controller = null;
    if (controller !== null) controller.error(error);
    this.abortController.abort(error);
  }

  expire(error: Error): void {
    // The signal aborts (the app's cleanup runs); send() checks `aborted` after every await and writes nothing more.
    this.abort(error);
  }

  socketClosed(): void {
    // abort() already told the app (its Request's signal); a finished response needs nothing more.
  }

  dump(): void {
    this.controller = null;
  }

  headWritten(): boolean {
    return this.headSent;
  }

  responseEnded(): boolean {
    return false; // the adapter reports the end itself (responseFinished) before anything else can fail
  }

  status(): number {
    return this.sentStatus;
  }

  private buildRequest(): Request {
    const head = this.head;
    const params = head.params;
    const { headers, rawHeaders } = requestHeaders(head);
    const fetchHeaders = new Headers();
    for (let i = 0; i < rawHeaders.length; i += 2) {
      try {
        fetchHeaders.append(rawHeaders[i]!, rawHeaders[i + 1]!);
      } catch {
        // a name or value the Headers class refuses: node:http would have shown it, fetch cannot
      }
    }
    const scheme = isHttps(params) ? 'https' : 'http';
    const authority =
      headers.host || (params.SERVER_NAME ? params.SERVER_NAME + (params.SERVER_PORT ? `:${params.SERVER_PORT}` : '') : 'localhost');
    let uri = head.uri;
    // REQUEST_URI is raw bytes (latin1 here); keep them as bytes by percent-encoding them (case 22).
    if (NON_ASCII.test(uri)) uri = uri.replace(/[\x80-\xff]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const url = ABSOLUTE_URI.test(uri) ? uri : `${scheme}://${authority}${uri.charCodeAt(0) === 0x2f ? '' : '/'}${uri}`;
    const method = head.method;
    const init: RequestInit & { duplex?: 'half' } = { method, headers: fetchHeaders, signal: this.abortController.signal };
    if (head.contentLength > 0 && method !== 'GET' && method !== 'HEAD') {
      init.body = new ReadableStream<Uint8Array>(this, BODY_STRATEGY) as unknown as RequestInit['body'];
      init.duplex = 'half'; // required by undici for a streamed body
    }
    return new Request(url, init);
  }

  private env(): FetchEnv {
    const params = this.head.params;
    const addr = params.REMOTE_ADDR;
    const port = params.REMOTE_PORT;
    const socket: FetchEnv['incoming']['socket'] = { encrypted: isHttps(params) };
    if (addr) {
      socket.remoteAddress = addr;
      socket.remoteFamily = addr.includes(':') ? 'IPv6' : 'IPv4';
    }
    if (port) socket.remotePort = Number(port);
    return { incoming: { socket }, scgi: params };
  }

  private async run(request: Request): Promise<void> {
    let response: unknown;
    try {
      response = await this.app.fetch(request, this.env());
    } catch (err) {
      this.host.appFailed(err);
      return;
    }
    if (!isResponse(response)) {
      this.host.appFailed(new TypeError(`fetch() returned ${describe(response)} instead of a Response`));
      return;
    }
    if (this.aborted) {
      response.body?.cancel().catch(noop);
      return;
    }
    await this.send(response);
  }

  private async send(response: Response): Promise<void> {
    const host = this.host;
    const socket = host.socket;
    const status = response.status;
    const bodiless = isBodiless(this.head.method, status);
    const list: HeaderList = [];
    let declared = -1;
    for (const [name, value] of response.headers) {
      if (name === 'set-cookie' || isHopByHop(name, status)) continue;
      if (name === 'content-length') {
        if (declared !== -1) continue; // at most one (case 31)
        declared = /^\d{1,15}$/.test(value) ? Number(value) : -1;
      }
      list.push([name, value]);
    }
    for (const cookie of response.headers.getSetCookie()) list.push(['set-cookie', cookie]);
    const reason = response.statusText;

    const body = response.body;
    if (bodiless || body === null) {
      if (body !== null) body.cancel().catch(noop);
      if (declared === -1 && !bodiless) list.push(['content-length', '0']);
      this.writeHead(status, reason, list, null);
      host.responseFinished(true);
      return;
    }

    const reader = body.getReader() as unknown as Reader;
    let result = await reader.read();
    if (this.aborted || socket.destroyed) return void reader.cancel().catch(noop);
    if (result.done) {
      if (declared === -1) list.push(['content-length', '0']);
      this.writeHead(status, reason, list, null);
      host.responseFinished(true);
      return;
    }
    let next: Promise<ReadResult> | null = null;
    if (declared === -1) {
      // A body that is already complete (new Response('text'), c.json()) gets an exact Content-Length, so front
      // ends and clients can see truncation; anything slower than one event-loop turn is sent close-delimited.
      next = reader.read();
      const settled = await settledWithinTurn(next);
      if (this.aborted || socket.destroyed) return void reader.cancel().catch(noop);
      if (settled !== null && settled.done) {
        list.push(['content-length', String(result.value.byteLength)]);
        this.writeHead(status, reason, list, result.value);
        host.responseFinished(true);
        return;
      }
    }

    let remaining = declared; // -1: no declared length
    let chunk = result.value;
    let writable = true;
    let first = true;
    for (;;) {
      if (remaining >= 0 && chunk.byteLength > remaining) {
        // More than the declared Content-Length: drop the excess, log once (case 31).
        chunk = chunk.subarray(0, remaining);
        host.truncated(declared);
        reader.cancel().catch(noop);
        remaining = 0;
        if (first) this.writeHead(status, reason, list, chunk);
        else socket.write(chunk);
        break;
      }
      if (remaining > 0) remaining -= chunk.byteLength;
      if (first) {
        writable = this.writeHead(status, reason, list, chunk);
        first = false;
        socket.setNoDelay(true); // a streamed body: later small writes must not wait for an ACK (Nagle)
      } else {
        writable = socket.write(chunk);
      }
      if (!writable) await writableOrClosed(socket);
      if (this.aborted || socket.destroyed) return void reader.cancel().catch(noop);
      result = await (next ?? reader.read());
      next = null;
      if (this.aborted || socket.destroyed) return void reader.cancel().catch(noop);
      if (result.done) break;
      chunk = result.value;
    }
    // Fewer bytes than declared: the front end must see a broken response, not a short one (cases 31, 33).
    host.responseFinished(!(remaining > 0));
  }

  /** The head in one write (case 32), with the first body chunk in the same writev. */
  private writeHead(status: number, reason: string, list: HeaderList, chunk: Uint8Array | null): boolean {
    const text = formatHead({ status, reason, headers: list });
    const socket = this.host.socket;
    this.headSent = true;
    this.sentStatus = status;
    if (chunk === null || chunk.byteLength === 0) return socket.write(text, 'latin1');
    socket.cork();
    socket.write(text, 'latin1');
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  private writeError(status: number): void {
    this.headSent = true;
    this.host.socket.write(errorResponse(status));
    this.host.responseFinished(true);
  }
}

function isResponse(value: unknown): value is Response {
  if (value instanceof Response) return true;
  // Response classes from other realms or polyfills (@hono/node-server swaps in its own)
  const r = value as Partial<Response> | null;
  return (
    r !== null &&
    typeof r === 'object' &&
    typeof r.status === 'number' &&
    typeof r.headers?.get === 'function' &&
    typeof r.headers.getSetCookie === 'function' &&
    'body' in r
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).join(', ') || '(none)'}`;
  return typeof value;
}

/** The read's result if it settles before the next macrotask, else null (the read stays pending). */
function settledWithinTurn(read: Promise<ReadResult>): Promise<ReadResult | null> {
  return Promise.race([read, new Promise<null>((resolve) => setImmediate(resolve, null))]);
}

function writableOrClosed(socket: ConnectionSocket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

function noop(): void {}
