// Faster paths for the ServerResponse methods nearly every app calls, installed on each response by
// node-http-adapter.ts: setHeader() (node's checks, a fast-mode store) and end(body) (head and body in one write),
// plus write() (TCP_NODELAY and the 'drain' relay only for responses that stream). Each does what node:http's own
// method does, observably (test/integration/worker-response-api.test.ts runs one app under both), and hands
// anything unusual to node's method. Not here: the CGI head itself and Content-Length accounting (the adapter).

import {
  kNeedDrain,
  kOutHeaders,
  kRemaining,
  kStreamed,
  protoEnd,
  protoSetHeader,
  protoWrite,
  type CgiResponse,
  type HttpSocket,
} from './cgi-response.js';

/**
 * The store setHeader() fills (node:http's kOutHeaders): nothing inherited, like node's `{ __proto__: null }`, but
 * made by a constructor so V8 keeps it in fast mode (see Params in protocol/header-block.ts).
 */
const HeaderStore = function HeaderStore() {} as unknown as new () => Record<string, [string, unknown]>;
HeaderStore.prototype = Object.create(null) as Record<string, [string, unknown]>;

/** RFC 9110 tchar: the names node:http's setHeader accepts (its tokenRegExp). */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

function isToken(name: string): boolean {
  const len = name.length;
  if (len === 0) return false;
  for (let i = 0; i < len; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** What node:http's checkInvalidHeaderChar allows: HTAB, VCHAR, SP and obs-text (0x80-0xff). */
function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 ? c !== 0x09 : c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/**
 * res.setHeader with node:http's checks and store layout, for the usual string name and value: a loop over a
 * table instead of two regular expressions behind node's stack-hiding wrappers, and a fast-mode store — the
 * hello app's one setHeader cost ~9 k instructions through node's (bench/instructions.ts). Anything else, and any
 * input node would refuse, goes to node's own setHeader, which throws its usual errors.
 */
export function setHeaderChecked(this: CgiResponse, name: string, value: unknown): CgiResponse {
  if (!this._header && typeof value === 'string' && typeof name === 'string' && isToken(name) && isFieldValue(value)) {
    const self = this as unknown as Record<symbol, Record<string, [string, unknown]> | null>;
    let store = self[kOutHeaders!];
    if (store === null) self[kOutHeaders!] = store = new HeaderStore();
    store![name.toLowerCase()] = [name, value];
    return this;
  }
  return protoSetHeader.call(this, name, value as string) as CgiResponse;
}

/** Head+body in one write up to this size (one copy); larger bodies go as a two-buffer writev, not copied. */
const COPY_LIMIT = 16 * 1024;

/**
 * res.end(body) with nothing sent yet, how most apps answer (a plain handler, Express's res.send, Koa): the head and
 * body leave in one socket write, without node:http's cork, its trailing empty write and the writev they make.
 * What the app and frameworks observe is node:http's: the head stored through writeHead/_storeHeader (so with a
 * Content-Length), `finished`, 'prefinish', then 'finish' once the socket took the bytes. Anything unusual (a body
 * not allowed, a declared length the body exceeds, output already queued, strictContentLength) takes node's path.
 */
export function endInOne(this: CgiResponse, chunk?: unknown, encoding?: unknown, callback?: unknown): CgiResponse {
  const socket = this.socket as HttpSocket | null;
  if (
    this._headerSent ||
    this.finished ||
    this.destroyed ||
    socket === null ||
    socket._httpMessage !== this ||
    !socket.writable ||
    socket.writableCorked !== 0 ||
    this.outputData.length !== 0 ||
    this.strictContentLength === true ||
    typeof encoding === 'function'
  ) {
    // The head already left alone (flushHeaders) or with earlier writes: this is another write, Nagle must not hold it.
    if (this._headerSent) markStreamed(this);
    return protoEnd.call(this, chunk, encoding, callback);
  }
  let len: number;
  if (typeof chunk === 'string') {
    if (encoding !== undefined && encoding !== null && encoding !== 'utf8' && encoding !== 'utf-8' && encoding !== 'latin1') {
      return protoEnd.call(this, chunk, encoding, callback);
    }
    len = encoding === 'latin1' ? chunk.length : Buffer.byteLength(chunk, 'utf8');
  } else if (chunk instanceof Uint8Array) {
    len = chunk.byteLength;
  } else {
    return protoEnd.call(this, chunk, encoding, callback);
  }
  if (len === 0) return protoEnd.call(this, chunk, encoding, callback);
  if (this._header === null) {
    this._contentLength = len; // as write_ does for end(body): the head then gets a Content-Length
    this._implicitHeader(); // writeHead → storeCgiHeader; throws like node:http on a bad header
  }
  const remaining = this[kRemaining];
  if (!this._hasBody || remaining >= 0 && len > remaining) return protoEnd.call(this, chunk, encoding, callback);
  if (remaining >= 0) this[kRemaining] = remaining - len;
  if (typeof callback === 'function') this.once('finish', callback as () => void);

  const head = this._header!;
  this._headerSent = true;
  this.finished = true;
  const res = this;
  // node:http's onFinish: no 'finish' when the socket failed (its 'close' aborts the exchange instead).
  const finish = (): void => {
    if (socket._hadError !== true) res.emit('finish');
  };
  if (typeof chunk === 'string') {
    // As node:http's _send: one string, head included, in the body's encoding.
    socket.write(head + chunk, encoding === 'latin1' ? 'latin1' : 'utf8', finish);
  } else if (len <= COPY_LIMIT) {
    const bytes = Buffer.allocUnsafe(head.length + len);
    bytes.write(head, 0, 'latin1');
    bytes.set(chunk as Uint8Array, head.length);
    socket.write(bytes, finish);
  } else {
    socket.cork();
    socket.write(head, 'latin1');
    socket.write(chunk as Uint8Array, finish);
    socket.uncork();
  }
  this._finish();
  return this;
}

/**
 * res.write(): the body leaves in several writes. Nagle must not hold the later ones back (a response ended by
 * endInOne is one write and needs no TCP_NODELAY), and the socket's 'drain' is relayed to the response, as
 * node:http's server does, only for responses that write.
 */
export function writeStreamed(this: CgiResponse, chunk?: unknown, encoding?: unknown, callback?: unknown): boolean {
  markStreamed(this);
  return protoWrite.call(this, chunk, encoding, callback);
}

function markStreamed(res: CgiResponse): void {
  const socket = res.socket;
  if (res[kStreamed] || socket === null || socket.destroyed) return;
  res[kStreamed] = true;
  socket.setNoDelay(true);
  socket.on('drain', onSocketDrain);
}

function onSocketDrain(this: HttpSocket): void {
  const res = this._httpMessage;
  if (res === null || res === undefined || res.finished) return;
  const flags = res as unknown as Record<symbol, boolean>;
  if (kNeedDrain === undefined) {
    res.emit('drain');
  } else if (flags[kNeedDrain]) {
    flags[kNeedDrain] = false;
    res.emit('drain');
  }
}
