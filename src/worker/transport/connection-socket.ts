// transport/ owns the bytes on a socket: the libuv-handle path and the net.Socket fallback, behind this one interface.
// The one seam between transport/ and connection/: what a connection calls on its socket (ConnectionSocket) and
// what the socket calls on its connection (SocketOwner). Both I/O paths implement it: a HandleSocket
// (handle-socket.ts) on the libuv-handle path, and a net.Socket (structurally) wired by net-socket-events.ts on the
// fallback. Types only; which path a worker takes is decided once, in src/node-internals.ts.

/** A socket as connection/ and the adapters use it; net.Socket and HandleSocket both have exactly this. */
export interface ConnectionSocket {
  readonly destroyed: boolean;
  /** Bytes written and not yet taken by the kernel, and bytes written in all; send-timeout's measure of progress. */
  readonly writableLength: number;
  readonly bytesWritten: number;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  write(data: string | Uint8Array, callback?: (err?: Error | null) => void): boolean;
  write(data: string | Uint8Array, encoding?: BufferEncoding, callback?: (err?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
  /** FIN after what is written (the connection's half-close before its drain). */
  end(): unknown;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
  setNoDelay(noDelay?: boolean): unknown;
  destroy(): unknown;
  /** RST; throws ERR_INVALID_HANDLE_TYPE on a Unix socket, as net.Socket does. */
  resetAndDestroy(): unknown;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/** What a socket reports to the connection that owns it, in net.Socket's event order. */
export interface SocketOwner {
  data(chunk: Buffer): void;
  /** The peer's FIN ('end'). */
  peerEnded(): void;
  socketError(err: Error): void;
  /** The last call; the socket forgets its owner after it. */
  socketClosed(): void;
}
