// The net.Socket look-alike the app sees as req.socket when the worker serves on libuv handles: a HandleStream
// (handle-stream.ts, the reading and writing) plus the rest of net.Socket's surface that node:http and apps and
// frameworks reach for: the peer's and our addresses, setTimeout/'timeout', setNoDelay, setKeepAlive, ref/unref,
// readyState, and node:http's own fields on a socket. Not a net.Socket instance and not a stream to pipe from.

import type { ConnectionSocket } from './connection-socket.js';
import { HandleStream } from './handle-stream.js';

interface PeerName {
  address?: string;
  family?: string;
  port?: number;
}

export class HandleSocket extends HandleStream implements ConnectionSocket {
  /** Set by ServerResponse while it owns the socket (node:http's field). */
  _httpMessage: unknown = null;
  /** net.Socket's cached getpeername(), filled in advance by describePeer with the front end's client. */
  _peername: PeerName | undefined = undefined;
  readonly connecting = false;
  readonly pending = false;

  setNoDelay(noDelay = true): this {
    this.handle?.setNoDelay?.(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelayMs = 0): this {
    this.handle?.setKeepAlive?.(enable, Math.floor(initialDelayMs / 1000));
    return this;
  }

  /** 'timeout' after `ms` without reads or writes (0 turns it off), like net.Socket#setTimeout. */
  setTimeout(ms: number, callback?: () => void): this {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (ms > 0 && !this.destroyed) {
      this.timer = setTimeout(emitTimeout, ms, this);
      this.timer.unref();
      if (callback !== undefined) this.once('timeout', callback);
    } else if (callback !== undefined) {
      this.removeListener('timeout', callback);
    }
    return this;
  }

  ref(): this {
    this.handle?.ref();
    return this;
  }

  unref(): this {
    this.handle?.unref();
    return this;
  }

  _getpeername(): PeerName {
    if (this._peername !== undefined) return this._peername;
    const out: Record<string, unknown> = {};
    if (this.handle === null || this.destroyed || typeof this.handle.getpeername !== 'function' || this.handle.getpeername(out) !== 0) return {};
    return (this._peername = out as PeerName);
  }

  get remoteAddress(): string | undefined {
    return this._getpeername().address;
  }

  get remotePort(): number | undefined {
    return this._getpeername().port;
  }

  get remoteFamily(): string | undefined {
    return this._getpeername().family;
  }

  address(): PeerName | Record<string, never> {
    const out: Record<string, unknown> = {};
    if (this.handle === null || this.destroyed || typeof this.handle.getsockname !== 'function' || this.handle.getsockname(out) !== 0) return {};
    return out as PeerName;
  }

  get localAddress(): string | undefined {
    return this.address().address;
  }

  get localPort(): number | undefined {
    return this.address().port;
  }

  get localFamily(): string | undefined {
    return this.address().family;
  }

  get readyState(): string {
    if (this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    return this.readable ? 'readOnly' : this.writable ? 'writeOnly' : 'closed';
  }

  get bufferSize(): number {
    return this.writableLength;
  }
}

function emitTimeout(socket: HandleSocket): void {
  if (socket.destroyed) return;
  relaySocketTimeout(socket);
  socket.emit('timeout');
}

interface TimeoutListener {
  emit(event: 'timeout', socket: unknown): boolean;
}

/**
 * What node:http's server does when a socket's timeout (set by req.setTimeout, res.setTimeout or
 * socket.setTimeout) fires: the request, while its body is still coming, and the response hear 'timeout'; when
 * neither listens, the connection is dropped. For a HandleSocket and, from connection.ts, a net.Socket.
 */
export function relaySocketTimeout(socket: { _httpMessage?: unknown; destroy(): unknown }): void {
  const res = socket._httpMessage as (TimeoutListener & { req?: TimeoutListener & { complete: boolean } }) | null | undefined;
  const req = res?.req;
  const reqHeard = req !== undefined && req !== null && !req.complete && req.emit('timeout', socket);
  const resHeard = res !== undefined && res !== null && res.emit('timeout', socket);
  if (!reqHeard && !resHeard) socket.destroy();
}
