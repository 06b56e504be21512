// Every private Node API scgi-supervise uses, probed here and nowhere else, with each fallback decided here once:
// the libuv stream bindings a worker serves on (else net.Socket: chooseIoPath), node:http's private fields and
// symbols (httpInternals), net.Socket's (netSocketInternals), and net._createServerHandle (master/listener.ts).
// A leaf like errors.ts (imports nothing from src/), so master/ and worker/ both may. What the code does with them
// lives with that code (worker/transport/, worker/adapters/, master/listener.ts); test/unit/worker/node-internals.test.ts
// pins each probe, so a Node major that renames one fails there first, by name.

import net, { type Server } from 'node:net';
import { getSystemErrorName } from 'node:util';

// --- libuv stream handles (process.binding): the worker's default I/O path ---

/** A libuv stream handle as node's C++ exposes it (TCPWrap or PipeWrap, both StreamBase). */
export interface StreamHandle {
  /** Called by C++ with the handle as `this`; the read's length or error is in StreamBindings.state. */
  onread: ((this: StreamHandle, buffer: ArrayBuffer | undefined) => void) | null;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteRequest, data: Uint8Array): number;
  writeUtf8String(req: WriteRequest, data: string): number;
  writeLatin1String(req: WriteRequest, data: string): number;
  writev(req: WriteRequest, chunks: Uint8Array[], allBuffers: true): number;
  shutdown(req: ShutdownRequest): number;
  /** The callback runs with the handle as `this` once libuv has closed it. */
  close(callback: (this: StreamHandle) => void): void;
  /** TCP only: close with RST. */
  reset?(callback: (this: StreamHandle) => void): number;
  getpeername?(out: Record<string, unknown>): number;
  getsockname?(out: Record<string, unknown>): number;
  setNoDelay?(enable: boolean): number;
  setKeepAlive?(enable: boolean, delaySeconds: number): number;
  ref(): void;
  unref(): void;
}

/** A WriteWrap: C++ calls oncomplete with it as `this` when an asynchronous write finishes. */
export interface WriteRequest {
  handle: StreamHandle;
  oncomplete: (this: WriteRequest, status: number) => void;
  async: boolean;
}

export interface ShutdownRequest {
  handle: StreamHandle;
  oncomplete: (this: ShutdownRequest, status: number) => void;
}

export interface StreamBindings {
  WriteWrap: new () => WriteRequest;
  ShutdownWrap: new () => ShutdownRequest;
  /** streamBaseState: what the last read or write call reported, indexed by the constants below. */
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kBytesWritten: number;
  kLastWriteWasAsync: number;
}

/** libuv's UV_EOF (the same on every platform libuv supports; pinned through util.getSystemErrorName). */
export const UV_EOF = -4095;

/** The StreamBase methods a HandleStream/HandleSocket calls on TCP and Pipe handles alike. */
export const STREAM_METHODS = ['readStart', 'readStop', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writev', 'shutdown', 'close', 'ref', 'unref'] as const;
/** TCP handles only (a Pipe has none: a HandleSocket checks for each before calling it). */
export const TCP_METHODS = ['reset', 'setNoDelay', 'setKeepAlive', 'getpeername', 'getsockname'] as const;

type Binding = (name: string) => Record<string, unknown>;

function binding(name: string): Record<string, unknown> {
  return ((process as unknown as { binding: Binding }).binding).call(process, name);
}

/** The bindings, or why they cannot be used (the worker then accepts through net.Server as usual). */
export function loadStreamBindings(): StreamBindings | string {
  if (process.env.SCGI_SUPERVISE_NET_SOCKETS === '1') return 'SCGI_SUPERVISE_NET_SOCKETS=1';
  if (typeof (process as unknown as { binding?: Binding }).binding !== 'function') return 'process.binding is not available';
  let wrap: Record<string, unknown>;
  try {
    wrap = binding('stream_wrap');
  } catch (err) {
    return `process.binding('stream_wrap') failed: ${(err as Error).message}`;
  }
  const state = wrap.streamBaseState;
  const names = ['kReadBytesOrError', 'kArrayBufferOffset', 'kBytesWritten', 'kLastWriteWasAsync'] as const;
  if (typeof wrap.WriteWrap !== 'function' || typeof wrap.ShutdownWrap !== 'function' || !(state instanceof Int32Array)) {
    return 'stream_wrap has no WriteWrap, ShutdownWrap or streamBaseState';
  }
  for (const name of names) if (typeof wrap[name] !== 'number') return `stream_wrap has no ${name}`;
  if (getSystemErrorName(UV_EOF) !== 'EOF') return 'UV_EOF is not -4095 here';
  const handles = missingHandleMethods();
  if (handles !== null) return handles;
  return {
    WriteWrap: wrap.WriteWrap as StreamBindings['WriteWrap'],
    ShutdownWrap: wrap.ShutdownWrap as StreamBindings['ShutdownWrap'],
    state,
    kReadBytesOrError: wrap.kReadBytesOrError as number,
    kArrayBufferOffset: wrap.kArrayBufferOffset as number,
    kBytesWritten: wrap.kBytesWritten as number,
    kLastWriteWasAsync: wrap.kLastWriteWasAsync as number,
  };
}

/** Why the TCP and Pipe handles lack what a HandleSocket calls (null: they have it all). */
function missingHandleMethods(): string | null {
  try {
    const tcp = (binding('tcp_wrap').TCP as { prototype: Record<string, unknown> } | undefined)?.prototype;
    const pipe = (binding('pipe_wrap').Pipe as { prototype: Record<string, unknown> } | undefined)?.prototype;
    if (tcp === undefined || pipe === undefined) return 'tcp_wrap or pipe_wrap has no TCP or Pipe';
    for (const [kind, proto] of [['TCP', tcp], ['Pipe', pipe]] as const) {
      for (const m of STREAM_METHODS) if (typeof proto[m] !== 'function') return `${kind} handles have no ${m}()`;
      if (!('onread' in proto)) return `${kind} handles have no onread`;
    }
    for (const m of TCP_METHODS) if (typeof tcp[m] !== 'function') return `TCP handles have no ${m}()`;
    return null;
  } catch (err) {
    return `process.binding('tcp_wrap'/'pipe_wrap') failed: ${(err as Error).message}`;
  }
}

/** A listening net.Server's libuv handle, whose onconnection callback gets each accepted handle. */
export interface AcceptingHandle {
  onconnection: ((this: unknown, status: number, client?: StreamHandle) => void) | null;
}

/**
 * A copy of the listening socket another process sent over IPC: child_process hands the receiver the raw TCP or
 * Pipe handle (its 'net.Native' conversion), which is not listening yet in this process. listen() starts libuv's
 * accept watcher on it; close() closes this process's descriptor only.
 */
export interface ListeningCopy extends AcceptingHandle {
  listen(backlog: number): number;
  close(callback?: () => void): void;
}

export function isListeningCopy(value: unknown): value is ListeningCopy {
  const h = value as Partial<ListeningCopy> | null | undefined;
  return typeof h === 'object' && h !== null && typeof h.listen === 'function' && typeof h.close === 'function';
}

/** The listening server's `_handle`, when it has one that accepts through onconnection (after 'listening'). */
export function listeningHandle(server: Server): AcceptingHandle | null {
  const handle = (server as unknown as { _handle?: AcceptingHandle | null })._handle;
  return handle === null || handle === undefined || !('onconnection' in handle) ? null : handle;
}

/**
 * How a worker serves its connections, decided once at listen time: on their libuv handles (the default, half the
 * cost of a request), or as net.Sockets through the server's 'connection' listener, with the reason.
 */
export type IoPath =
  | { kind: 'handles'; bindings: StreamBindings; listening: AcceptingHandle }
  | { kind: 'net-socket'; reason: string };

export function chooseIoPath(server: Server): IoPath {
  const bindings = loadStreamBindings();
  if (typeof bindings === 'string') return { kind: 'net-socket', reason: bindings };
  const listening = listeningHandle(server);
  if (listening === null) return { kind: 'net-socket', reason: 'the server has no handle to take over' };
  return { kind: 'handles', bindings, listening };
}

// --- node:http: the (req, res) adapter's private fields ---

type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

export interface HttpInternals {
  /** Where node keeps setHeader()'s headers as [name, value] pairs; undefined: the adapter keeps node's setHeader. */
  kOutHeaders: symbol | undefined;
  /** Set by OutgoingMessage#write when it returned false (node:http relays 'drain' only then). */
  kNeedDrain: symbol | undefined;
  /** How many rawHeaders entries req.headers is built from; undefined: the adapter builds req.headers itself. */
  kHeadersCount: symbol | undefined;
  /** OutgoingMessage.prototype's own methods, which the adapter's replacements fall back to. */
  outgoing: { _send: AnyMethod; setHeader: AnyMethod; end: AnyMethod; write: AnyMethod; destroy: AnyMethod };
  /** Private OutgoingMessage/ServerResponse/IncomingMessage members the adapter relies on and this Node lacks. */
  missing: string[];
}

let http: HttpInternals | null = null;

/**
 * node:http's private symbols and methods, read on first call: node:http is loaded only by a worker whose app
 * needs it (the master never does).
 */
export function httpInternals(): HttpInternals {
  if (http !== null) return http;
  const { IncomingMessage, OutgoingMessage, ServerResponse } = process.getBuiltinModule('node:http');
  const { Socket } = net;
  const outgoingSymbols = Object.getOwnPropertySymbols(new OutgoingMessage());
  const incomingSymbols = Object.getOwnPropertySymbols(new IncomingMessage(null as never));
  const proto = OutgoingMessage.prototype as unknown as Record<string, AnyMethod>;
  const missing: string[] = [];
  const req = new IncomingMessage(new Socket()) as unknown as Record<string, unknown>;
  const res = new ServerResponse(req as never) as unknown as Record<string, unknown>;
  for (const m of ['_storeHeader', '_send', 'setHeader', 'end', 'write', 'destroy']) if (typeof proto[m] !== 'function') missing.push(`OutgoingMessage#${m}`);
  for (const m of ['_implicitHeader', '_finish', 'writeContinue', 'writeProcessing', 'writeEarlyHints']) if (typeof res[m] !== 'function') missing.push(`ServerResponse#${m}`);
  for (const f of ['_header', '_headerSent', '_hasBody', '_last', '_removedContLen', '_closed', 'outputData', 'chunkedEncoding', 'useChunkedEncodingByDefault', 'shouldKeepAlive']) {
    if (!(f in res)) missing.push(`ServerResponse.${f}`);
  }
  if (typeof req._dump !== 'function') missing.push('IncomingMessage#_dump');
  if (!('_consuming' in req)) missing.push('IncomingMessage._consuming');
  http = {
    kOutHeaders: outgoingSymbols.find((s) => s.description === 'kOutHeaders'),
    kNeedDrain: outgoingSymbols.find((s) => s.description === 'kNeedDrain'),
    kHeadersCount: incomingSymbols.find((s) => s.description === 'kHeadersCount'),
    outgoing: { _send: proto._send!, setHeader: proto.setHeader!, end: proto.end!, write: proto.write!, destroy: proto.destroy! },
    missing,
  };
  return http;
}

// --- net.Socket: the fallback path's sockets ---

export interface NetSocketInternals {
  /** net.Socket's own _writev; null: the adapter leaves a socket's flushes as node makes them. */
  writev: AnyMethod | null;
  /** remoteAddress/remotePort/remoteFamily read the `_peername` cache, which describePeer fills in advance. */
  peernameCache: boolean;
  /** What the adapter relies on and this Node lacks (the worker warns at start; there is no fallback). */
  missing: string[];
}

let netSocket: NetSocketInternals | null = null;

export function netSocketInternals(): NetSocketInternals {
  if (netSocket !== null) return netSocket;
  const proto = net.Socket.prototype as unknown as Record<string, unknown>;
  const writev = typeof proto._writev === 'function' && typeof proto._write === 'function' ? (proto._writev as AnyMethod) : null;
  const probe = new net.Socket() as net.Socket & { _peername?: unknown };
  let peernameCache = typeof proto._getpeername === 'function';
  if (peernameCache) {
    probe._peername = { address: '192.0.2.1', family: 'IPv4', port: 1 };
    peernameCache = probe.remoteAddress === '192.0.2.1' && probe.remotePort === 1 && probe.remoteFamily === 'IPv4';
  }
  probe.destroy();
  const missing: string[] = [];
  if (!peernameCache) missing.push('net.Socket _peername cache (REMOTE_ADDR would not reach req.socket.remoteAddress)');
  netSocket = { writev, peernameCache, missing };
  return netSocket;
}

// --- net._createServerHandle: the master's listening socket ---

/** What Node's `net._createServerHandle` returns: a libuv TCP or Pipe handle (cluster's SCHED_NONE uses it too). */
export interface ServerHandle {
  fd: number;
  getsockname?(out: { address?: string; port?: number; family?: string }): number;
  /** uv_listen: listen(2) with this backlog, and polling from the loop's next turn (master/listener.ts closeForStop). */
  listen?(backlog: number): number;
  close(): void;
}

/** Returns a handle or a negative libuv status (bind failed). */
export type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number, flags?: number) => ServerHandle | number;

/** net._createServerHandle, or null on a Node without it (the listener then fails with ERR_LISTEN_FAILED). */
export const createServerHandle: CreateServerHandle | null = (() => {
  const f = (net as unknown as { _createServerHandle?: unknown })._createServerHandle;
  return typeof f === 'function' ? (f as CreateServerHandle) : null;
})();
