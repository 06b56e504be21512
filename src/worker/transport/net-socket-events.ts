// The fallback path (accept-handles.ts could not be used): an accepted net.Socket's events, wired to the
// connection that owns it. On the default path a HandleStream calls the same SocketOwner methods (connection-socket.ts) directly.
// Not here: what the connection does with them (connection.ts).

import { Socket } from 'node:net';
import type { StreamHandle } from '../../node-internals.js';
import { relaySocketTimeout } from './handle-socket.js';
import type { SocketOwner } from './connection-socket.js';

const kOwner = Symbol('scgi-supervise.connection');
type TaggedSocket = Socket & { [kOwner]: SocketOwner | null };

/** A net.Socket on an accepted handle, as net.Server's own onconnection makes one (a listening copy has no server). */
export function socketFromHandle(handle: StreamHandle): Socket {
  return new Socket({ handle, allowHalfOpen: true, readable: true, writable: true } as ConstructorParameters<typeof Socket>[0]);
}

/** Routes the socket's data, end, error, close and timeout events to `owner`. */
export function listenToNetSocket(socket: Socket, owner: SocketOwner): void {
  (socket as TaggedSocket)[kOwner] = owner;
  socket.on('data', onSocketData);
  socket.on('end', onSocketEnd);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
  socket.on('timeout', onSocketTimeout);
}

// Shared functions (no closure per connection); `this` is the socket. 'close' is the socket's last event; after it
// the owner is unreachable from the socket (see onSocketClose).
function onSocketData(this: TaggedSocket, chunk: Buffer): void {
  this[kOwner]?.data(chunk);
}
function onSocketEnd(this: TaggedSocket): void {
  this[kOwner]?.peerEnded();
}
function onSocketError(this: TaggedSocket, err: Error): void {
  this[kOwner]?.socketError(err);
}
function onSocketTimeout(this: TaggedSocket): void {
  // Only after the app set a timeout (req/res/socket.setTimeout): node:http's relay to req and res.
  if (this[kOwner] !== null) relaySocketTimeout(this);
}
function onSocketClose(this: TaggedSocket): void {
  const owner = this[kOwner];
  if (owner === null) return;
  // A closed socket stays alive until a full GC (its native handle keeps it past the young-generation GCs), and so
  // would everything it points to: cut the link so the request's objects (parser, head, req/res) die young.
  this[kOwner] = null;
  owner.socketClosed();
}
