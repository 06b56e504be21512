// Serving on Node's own libuv stream handles, the layer net.Socket is built on: taking over a listening server's
// accepts, and libuv status codes as errors. SCGI opens one connection per request, so building a net.Socket (a
// Duplex with two stream states, nextTicks on every step) is most of a Node server's cost per request: ~100 k
// instructions of the bare reference server's 135 k (docs/benchmarks.md); handle-socket.ts serves connections on
// these handles directly. Not here: probing the bindings and deciding the fallback (src/node-internals.ts).

import type { Server } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { listeningHandle, type ListeningCopy, type StreamHandle } from '../../node-internals.js';

/** What a shutdown of a socket the peer already reset returns (by name: the number differs by platform). */
const ENOTCONN = 'ENOTCONN';

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
  const listening = listeningHandle(server);
  if (listening === null) return false;
  listening.onconnection = (status: number, client?: StreamHandle) => {
    if (status !== 0 || client === undefined) {
      onError(errnoError(status, 'accept'));
      return;
    }
    onHandle(client);
  };
  return true;
}

/**
 * Listens on a copy of the listening socket the master sent (max-connections: the worker closed its own at the
 * cap); each accepted connection's handle goes to `onHandle`. Returns listen()'s libuv status (0: accepting).
 * listen(2) again on a socket that already listens is harmless (as for fd 4 in main.ts).
 */
export function listenOnCopy(
  copy: ListeningCopy,
  backlog: number,
  onHandle: (handle: StreamHandle) => void,
  onError: (err: NodeJS.ErrnoException) => void,
): number {
  copy.onconnection = (status: number, client?: StreamHandle) => {
    if (status !== 0 || client === undefined) {
      onError(errnoError(status, 'accept'));
      return;
    }
    onHandle(client);
  };
  return copy.listen(backlog);
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
