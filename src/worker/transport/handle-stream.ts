// One connection served straight on its libuv handle (accept-handles.ts): reads go to the connection that owns it
// (connection.ts) as direct calls, writes go to libuv as they come (libuv keeps them in order and runs the shutdown
// after them), and callbacks and events ('drain', 'finish', 'error', 'close') follow net.Socket's order and timing.
// No stream states and no nextTick per step: building and running a net.Socket per request was most of a Node SCGI
// server's cost (docs/benchmarks.md). Not here: net.Socket's outward surface for apps (handle-socket.ts), what the
// bytes mean (connection.ts), accepting (accept-handles.ts, main.ts).

import { EventEmitter } from 'node:events';
import type { SocketOwner } from './connection-socket.js';
import { UV_EOF, type ShutdownRequest, type StreamBindings, type StreamHandle, type WriteRequest } from '../../node-internals.js';
import { errnoError, isNotConnected } from './accept-handles.js';

type Callback = (err?: Error | null) => void;
type Chunk = string | Uint8Array;

interface SocketWrite extends WriteRequest {
  socket: HandleStream;
  /** The bytes being written, kept alive until libuv is done with them. */
  data: Chunk | Uint8Array[] | null;
  bytes: number;
  callback: Callback | Callback[] | undefined;
}

const kStream = Symbol('scgi-supervise.handle-stream');
export type OwnedHandle = StreamHandle & { [kStream]: HandleStream | null };

/** net.Socket's default writableHighWaterMark. */
const HIGH_WATER_MARK = 16 * 1024;
/** Corked writes are copied into one buffer up to this size; larger go as a writev. */
const COPY_LIMIT = 64 * 1024;

let bindings: StreamBindings;


export class HandleStream extends EventEmitter {
  /** Destroyed with an error (node:http's onFinish checks it). */
  _hadError = false;
  /** node:http's OutgoingMessage#end writes `corked` directly before uncork() (as for a Writable's state). */
  readonly _writableState = { corked: 0 };
  readable = true;
  writable = true;
  destroyed = false;
  writableEnded = false;
  writableFinished = false;
  bytesRead = 0;
  bytesWritten = 0;
  private owner: SocketOwner | null = null;
  protected handle: OwnedHandle | null;
  private paused = false;
  /** Bytes handed to libuv that it has not written yet. */
  private queued = 0;
  private needDrain = false;
  private corked: Array<{ data: Chunk; encoding: BufferEncoding | undefined; callback: Callback | undefined }> | null = null;
  private corkedBytes = 0;
  private error: Error | null = null;
  /** The idle timer of setTimeout() (handle-socket.ts): refreshed by reads and writes, cleared on destroy. */
  protected timer: NodeJS.Timeout | null = null;

  /** Set once, before the first socket, by the worker that found the bindings usable (node-internals.ts chooseIoPath). */
  static use(loaded: StreamBindings): void {
    bindings = loaded;
  }

  constructor(handle: StreamHandle) {
    super();
    this.handle = handle as OwnedHandle;
    (handle as OwnedHandle)[kStream] = this;
  }

  /** Starts reading into `owner`; nothing is read before (the owner is set first). */
  start(owner: SocketOwner): void {
    this.owner = owner;
    const handle = this.handle!;
    handle.onread = onHandleRead;
    const status = handle.readStart();
    if (status !== 0) this.destroy(errnoError(status, 'read'));
  }

  // --- reading ---

  /** @internal Called from onHandleRead. */
  received(buffer: ArrayBuffer | undefined): void {
    const state = bindings.state;
    const nread = state[bindings.kReadBytesOrError]!;
    if (nread > 0) {
      this.bytesRead += nread;
      if (this.timer !== null) this.timer.refresh();
      this.owner?.data(Buffer.from(buffer!, state[bindings.kArrayBufferOffset]!, nread));
      return;
    }
    if (nread === 0) return;
    if (nread !== UV_EOF) {
      this.destroy(errnoError(nread, 'read'));
      return;
    }
    // libuv stops reading at EOF by itself.
    this.readable = false;
    this.owner?.peerEnded();
    if (!this.destroyed) this.emit('end');
  }

  pause(): this {
    if (!this.paused) {
      this.paused = true;
      if (this.handle !== null && this.readable) this.handle.readStop();
    }
    return this;
  }

  resume(): this {
    if (this.paused) {
      this.paused = false;
      if (this.handle !== null && !this.destroyed && this.readable) this.handle.readStart();
    }
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }

  // --- writing ---

  write(data: Chunk, encoding?: BufferEncoding | Callback | null, callback?: Callback | null): boolean {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    } else if (!encoding) {
      encoding = undefined; // node:http passes null
    }
    if (typeof callback !== 'function') callback = undefined; // and null callbacks
    if (this.writableEnded || this.destroyed) {
      const err = new Error(this.destroyed ? 'Cannot call write after a stream was destroyed' : 'write after end') as NodeJS.ErrnoException;
      err.code = this.destroyed ? 'ERR_STREAM_DESTROYED' : 'ERR_STREAM_WRITE_AFTER_END';
      if (callback !== undefined) process.nextTick(callback, err);
      return false;
    }
    if (this._writableState.corked > 0) {
      (this.corked ??= []).push({ data, encoding, callback });
      this.corkedBytes += typeof data === 'string' ? data.length : data.byteLength;
      return this.corkedBytes + this.queued < HIGH_WATER_MARK || this.mustDrain();
    }
    return this.dispatch(data, encoding, callback);
  }

  end(data?: Chunk | Callback, encoding?: BufferEncoding | Callback, callback?: Callback): this {
    if (typeof data === 'function') {
      callback = data;
      data = undefined;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (data !== undefined && data !== null) this.write(data, encoding);
    if (callback !== undefined) this.once('finish', callback);
    if (this.writableEnded || this.destroyed) return this;
    if (this._writableState.corked > 0) {
      this._writableState.corked = 0;
      this.flush();
    }
    this.writableEnded = true;
    this.writable = false;
    const req = new bindings.ShutdownWrap() as ShutdownWithSocket;
    req.handle = this.handle!;
    req.socket = this;
    req.oncomplete = onShutdownComplete;
    const status = this.handle!.shutdown(req);
    if (status === 1 || (status !== 0 && isNotConnected(status))) process.nextTick(finishWrites, this);
    else if (status !== 0) this.destroy(errnoError(status, 'shutdown'));
    return this;
  }

  cork(): void {
    this._writableState.corked++;
  }

  uncork(): void {
    const state = this._writableState;
    if (state.corked > 0 && --state.corked === 0) this.flush();
  }

  get writableCorked(): number {
    return this._writableState.corked;
  }

  get writableLength(): number {
    return this.queued + this.corkedBytes;
  }

  get writableHighWaterMark(): number {
    return HIGH_WATER_MARK;
  }

  get writableNeedDrain(): boolean {
    return this.needDrain;
  }

  private mustDrain(): false {
    this.needDrain = true;
    return false;
  }

  private flush(): void {
    const list = this.corked;
    if (list === null || list.length === 0) return;
    this.corked = null;
    this.corkedBytes = 0;
    if (this.destroyed) {
      for (const w of list) if (w.callback !== undefined) process.nextTick(w.callback, new Error('socket destroyed'));
      return;
    }
    if (list.length === 1) {
      const only = list[0]!;
      this.dispatch(only.data, only.encoding, only.callback);
      return;
    }
    const buffers: Buffer[] = [];
    const callbacks: Callback[] = [];
    let total = 0;
    for (const w of list) {
      const b = typeof w.data === 'string' ? Buffer.from(w.data, w.encoding ?? 'utf8') : Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength);
      if (w.callback !== undefined) callbacks.push(w.callback);
      if (b.length === 0) continue;
      buffers.push(b);
      total += b.length;
    }
    const callback = callbacks.length === 0 ? undefined : callbacks.length === 1 ? callbacks[0] : callbacks;
    if (buffers.length <= 1 || total <= COPY_LIMIT) {
      this.dispatch(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers, total), undefined, callback);
    } else {
      this.dispatch(buffers, undefined, callback);
    }
  }

  /** One write request to libuv; callbacks always run later, as a Writable's do. */
  private dispatch(data: Chunk | Uint8Array[], encoding: BufferEncoding | undefined, callback: Callback | Callback[] | undefined): boolean {
    const handle = this.handle!;
    const req = new bindings.WriteWrap() as SocketWrite;
    req.handle = handle;
    req.oncomplete = onWriteComplete;
    req.async = false;
    req.socket = this;
    req.callback = callback;
    req.data = null;
    let status: number;
    if (typeof data === 'string') {
      status =
        encoding === undefined || encoding === 'utf8' || encoding === 'utf-8'
          ? handle.writeUtf8String(req, data)
          : encoding === 'latin1' || encoding === 'binary'
            ? handle.writeLatin1String(req, data)
            : handle.writeBuffer(req, Buffer.from(data, encoding));
    } else if (Array.isArray(data)) {
      status = handle.writev(req, data, true);
    } else {
      status = handle.writeBuffer(req, data);
    }
    const state = bindings.state;
    const bytes = state[bindings.kBytesWritten]!;
    this.bytesWritten += bytes;
    if (this.timer !== null) this.timer.refresh();
    if (status !== 0) {
      const err = errnoError(status, 'write');
      process.nextTick(failWrite, this, err, callback);
      return false;
    }
    if (state[bindings.kLastWriteWasAsync] === 0) {
      if (callback !== undefined) process.nextTick(runCallbacks, callback, null);
      // A write refused while corked may have gone out at once: 'drain' is owed all the same.
      if (this.needDrain && this.queued === 0) process.nextTick(emitDrain, this);
      return this.queued < HIGH_WATER_MARK || this.mustDrain();
    }
    req.async = true;
    req.bytes = bytes;
    if (typeof data !== 'string') req.data = data; // libuv writes from this memory later: keep it alive
    this.queued += bytes;
    return this.queued < HIGH_WATER_MARK || this.mustDrain();
  }

  /** @internal An asynchronous write finished. */
  written(req: SocketWrite, status: number): void {
    this.queued -= req.bytes;
    req.data = null;
    if (status < 0) {
      const err = errnoError(status, 'write');
      if (req.callback !== undefined) runCallbacks(req.callback, err);
      this.destroy(err);
      return;
    }
    if (req.callback !== undefined) runCallbacks(req.callback, null);
    this.drained();
  }

  /** @internal 'drain' once a refused write's bytes are all out. */
  drained(): void {
    if (this.needDrain && this.queued === 0 && this.corkedBytes === 0 && !this.destroyed) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  /** @internal The shutdown went out (or the peer was gone). */
  finished(): void {
    if (this.writableFinished) return;
    this.writableFinished = true;
    this.emit('finish');
  }

  // --- closing ---

  destroy(error?: Error | null): this {
    if (this.destroyed) return this;
    this.markDestroyed(error);
    this.handle!.close(onHandleClose);
    return this;
  }

  /** Closes with RST (TCP only, like net.Socket, which throws ERR_INVALID_HANDLE_TYPE for other handles). */
  resetAndDestroy(): this {
    if (this.destroyed) return this;
    const handle = this.handle!;
    if (typeof handle.reset !== 'function') {
      const err = new TypeError('Invalid handle type') as NodeJS.ErrnoException;
      err.code = 'ERR_INVALID_HANDLE_TYPE';
      throw err;
    }
    this.markDestroyed(null);
    if (handle.reset(onHandleClose) !== 0) handle.close(onHandleClose);
    return this;
  }

  private markDestroyed(error: Error | null | undefined): void {
    this.destroyed = true;
    this.readable = false;
    this.writable = false;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (error !== null && error !== undefined) {
      this.error = error;
      this._hadError = true;
    }
  }

  /** @internal The handle is closed: the owner first (as the connection's listener came first), then 'error', 'close'. */
  closed(): void {
    const owner = this.owner;
    const error = this.error;
    this.owner = null;
    if (this.handle !== null) {
      this.handle[kStream] = null;
      this.handle = null;
    }
    if (error !== null && owner !== null) owner.socketError(error);
    if (owner !== null) owner.socketClosed();
    if (error !== null && this.listenerCount('error') > 0) this.emit('error', error);
    this.emit('close', error !== null);
  }
}

interface ShutdownWithSocket extends ShutdownRequest {
  socket: HandleStream;
}

// Callbacks from C++ and timers are shared functions; `this` or the argument leads to the socket.
function onHandleRead(this: StreamHandle, buffer: ArrayBuffer | undefined): void {
  (this as OwnedHandle)[kStream]?.received(buffer);
}
function onWriteComplete(this: WriteRequest, status: number): void {
  const req = this as SocketWrite;
  req.socket.written(req, status);
}
function onShutdownComplete(this: ShutdownRequest, status: number): void {
  // A failed shutdown (ECANCELED when closed first) emits no 'finish'.
  if (status === 0) (this as ShutdownWithSocket).socket.finished();
}
function finishWrites(socket: HandleStream): void {
  socket.finished();
}
function onHandleClose(this: StreamHandle): void {
  (this as OwnedHandle)[kStream]?.closed();
}
function emitDrain(socket: HandleStream): void {
  socket.drained();
}
function failWrite(socket: HandleStream, err: Error, callback: Callback | Callback[] | undefined): void {
  if (callback !== undefined) runCallbacks(callback, err);
  socket.destroy(err);
}
function runCallbacks(callback: Callback | Callback[], err: Error | null): void {
  if (typeof callback === 'function') callback(err);
  else for (const cb of callback) cb(err);
}
