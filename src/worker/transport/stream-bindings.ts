// Node's own libuv stream bindings, the layer net.Socket is built on (tcp_wrap/pipe_wrap handles, WriteWrap,
// ShutdownWrap and the shared read/write state array), reached through process.binding. SCGI opens one connection
// per request, so building a net.Socket (a Duplex with two stream states, nextTicks on every step) is most of a
// Node server's cost per request: ~100 k instructions of the bare reference server's 135 k (docs/benchmarks.md).
// handle-socket.ts serves connections on these handles directly. Everything here is private Node API, pinned by
// test/unit/worker/node-internals.test.ts; when it is missing or differs, the worker falls back to net.Socket.

import type { Server } from 'node:net';
import { getSystemErrorName } from 'node:util';

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
/** What a shutdown of a socket the peer already reset returns (by name: the number differs by platform). */
const ENOTCONN = 'ENOTCONN';

type Binding = (name: string) => Record<string, unknown>;

/** The bindings, or why they cannot be used (the worker then accepts through net.Server as usual). */
export function loadStreamBindings(): StreamBindings | string {
  if (process.env.SCGI_SUPERVISE_NET_SOCKETS === '1') return 'SCGI_SUPERVISE_NET_SOCKETS=1';
  const binding = (process as unknown as { binding?: Binding }).binding;
  if (typeof binding !== 'function') return 'process.binding is not available';
  let wrap: Record<string, unknown>;
  try {
    wrap = binding.call(process, 'stream_wrap');
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

type AcceptingHandle = { onconnection: ((this: unknown, status: number, client?: StreamHandle) => void) | null };

/**
 * Takes over a listening net.Server's accept callback: each accepted connection's handle goes to `onHandle`
 * instead of becoming a net.Socket. Call after 'listening'. False when the server has no handle to take over.
 * server.close() still closes the listening handle; server.getConnections() no longer counts these.
 */
export function acceptHandles(
  server: Server,
  onHandle: (handle: StreamHandle) => void,
  onError: (err: NodeJS.ErrnoException) => void,
): boolean {
  const listening = (server as unknown as { _handle?: AcceptingHandle | null })._handle;
  if (listening === null || listening === undefined || !('onconnection' in listening)) return false;
  listening.onconnection = (status: number, client?: StreamHandle) => {
    if (status !== 0 || client === undefined) {
      onError(errnoError(status, 'accept'));
      return;
    }
    onHandle(client);
  };
  return true;
}

/** An error like net's for a libuv status code (code ECONNRESET, errno, syscall). */
export function errnoError(status: number, syscall: string): NodeJS.ErrnoException {
  let name: string;
  try {
    name = getSystemErrorName(status);
  } catch {
    name = `UV_${status}`;
  }
  const err = new Error(`${syscall} ${name}`) as NodeJS.ErrnoException;
  err.code = name;
  err.errno = status;
  err.syscall = syscall;
  return err;
}

/** True for the status a shutdown returns when the peer is already gone: the write side is over anyway. */
export function isNotConnected(status: number): boolean {
  try {
    return getSystemErrorName(status) === ENOTCONN;
  } catch {
    return false;
  }
}
