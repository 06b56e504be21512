// Per-connection adjustments to the accepted socket that node:http's objects read or write through: the
// front end's client address (REMOTE_ADDR/PORT, HTTPS) as the socket's peer, and (net.Socket only) one write per
// response. Both rely on private net.Socket fields, probed by src/node-internals.ts (which decides the fallbacks) and
// pinned in test/unit/worker/node-internals.test.ts, which a HandleSocket (handle-socket.ts) has too.

import { Socket as NetSocket, type Socket } from 'node:net';
import { netSocketInternals } from '../../node-internals.js';
import type { ConnectionSocket } from '../transport/connection-socket.js';
import { isHttps } from './request-headers.js';

type WritevChunks = Array<{ chunk: string | Buffer; encoding: BufferEncoding }>;
type WritevSocket = Socket & {
  _writev(chunks: WritevChunks, cb: (err?: Error | null) => void): void;
  _write(chunk: string | Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void;
};
const { writev } = netSocketInternals();
const netWritev = writev as WritevSocket['_writev'] | null;

/** Makes the socket send a lone non-empty chunk of a flush as a plain write (when net.Socket has _writev/_write). */
export function writeInOne(socket: Socket): void {
  if (netWritev !== null) (socket as WritevSocket)._writev = writevSkippingEmpty;
}

/**
 * node:http's `end()` corks the socket and queues the head+body and then an empty string, so every response left as a
 * two-chunk writev (StreamBase::Writev converts each string): when only one chunk has bytes, write it alone.
 */
function writevSkippingEmpty(this: WritevSocket, chunks: WritevChunks, cb: (err?: Error | null) => void): void {
  let only = -1;
  for (let i = 0; i < chunks.length; i++) {
    if (chunks[i]!.chunk.length === 0) continue;
    if (only !== -1) return netWritev!.call(this, chunks, cb);
    only = i;
  }
  if (only === -1) return netWritev!.call(this, chunks, cb);
  this._write(chunks[only]!.chunk, chunks[only]!.encoding, cb);
}

export function describePeer(socket: ConnectionSocket, params: Record<string, string>): void {
  const addr = params.REMOTE_ADDR;
  const port = params.REMOTE_PORT;
  if (addr || port) {
    // net.Socket's remoteAddress/remotePort/remoteFamily are non-configurable prototype getters that read the
    // socket's cached `_peername` (pinned in test/unit/worker/node-internals.test.ts). Filling the cache is one
    // store; three Object.defineProperty calls per request cost ~5 k instructions (docs/benchmarks.md).
    const real = addr && port ? undefined : (socket as PeerCache)._getpeername();
    (socket as PeerCache)._peername = {
      address: addr || real?.address,
      family: addr ? (addr.includes(':') ? 'IPv6' : 'IPv4') : real?.family,
      port: port ? Number(port) : real?.port,
    };
  }
  if (isHttps(params)) (socket as ConnectionSocket & { encrypted: boolean }).encrypted = true; // what a TLSSocket says
}

interface PeerName {
  address?: string;
  family?: string;
  port?: number;
}
type PeerCache = ConnectionSocket & { _peername?: PeerName; _getpeername(): PeerName };
