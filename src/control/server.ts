// control/ owns the control socket: its framing, one file per command, and the client the CLI uses.
// The control socket server that runs inside the master: a 0600 Unix socket in a 0700 directory, framed JSON
// (control/protocol.ts), dispatch to one file per command (control/commands/*.ts). It only calls the ControlTarget;
// it never touches workers. The path comes from control/paths.ts; the CLI creates, listens and closes it.

import { createServer, type Server, type Socket } from 'node:net';
import { chmod, chown } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ControlError, isErrnoException } from '../errors.js';
import type { Logger } from '../log.js';
import type { ControlTarget } from './target.js';
import { busyError, prepareDirectory, removeStaleSocket } from './socket-file.js';
import {
  FrameDecoder,
  MAX_REQUEST_FRAME_BYTES,
  encodeFrame,
  errorData,
  parseRequest,
  salvageId,
  type ControlRequest,
  type ControlResponse,
} from './protocol.js';
import * as reload from './commands/reload.js';
import * as stats from './commands/stats.js';
import * as scale from './commands/scale.js';
import * as stop from './commands/stop.js';
import * as metrics from './commands/metrics.js';

interface CommandModule {
  name: string;
  parseArgs(args: Record<string, unknown>): unknown;
  run(target: ControlTarget, args: never): Promise<unknown>;
}

const COMMANDS: ReadonlyMap<string, CommandModule> = new Map(
  ([reload, stats, scale, stop, metrics] as CommandModule[]).map((c) => [c.name, c]),
);

export type ControlLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface ControlServerOptions {
  path: string;
  log: ControlLog;
  /** --control-group as a gid: the socket becomes 0660 in that group (and a directory we create 0750 in it). */
  group?: number | null;
  maxFrameBytes?: number;
  /** A connection with no traffic and no request in progress is closed after this long. */
  idleTimeoutMs?: number;
  maxConnections?: number;
  /** Requests one connection may have in progress before the server stops reading from it. */
  maxPendingPerConnection?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 64;
const DEFAULT_MAX_PENDING = 16;
/** Unsent response bytes above which the server stops reading from a client that does not read. */
const MAX_UNSENT_BYTES = 1024 * 1024;
/** After closing a connection for a fatal frame error, how long the client gets to read the error. */
const LINGER_MS = 1000;

interface Connection {
  socket: Socket;
  decoder: FrameDecoder;
  pending: number;
}

export class ControlServer {
  readonly path: string;
  private readonly target: ControlTarget;
  private readonly log: ControlLog;
  private readonly maxFrameBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly maxPending: number;
  private readonly group: number | null;
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();

  constructor(target: ControlTarget, options: ControlServerOptions) {
    this.target = target;
    this.path = options.path;
    this.log = options.log;
    this.maxFrameBytes = options.maxFrameBytes ?? MAX_REQUEST_FRAME_BYTES;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.maxPending = options.maxPendingPerConnection ?? DEFAULT_MAX_PENDING;
    this.group = options.group ?? null;
  }

  /** Open client connections (tests check that a bad client leaves none behind). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Prepares the directory, removes a stale socket, binds with umask 0177 (so the file is 0600 from its first
   * instant, never wider), then widens it to 0660 in the --control-group if one is given. Rejects with ControlError.
   */
  async listen(): Promise<void> {
    if (this.server) return;
    await prepareDirectory(dirname(this.path), this.group);
    await removeStaleSocket(this.path);
    const server = createServer({ allowHalfOpen: false }, (socket) => this.onConnection(socket));
    server.maxConnections = this.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // bind(2) creates the file with 0777 & ~umask. The umask is process-wide, but listen() binds synchronously
      // (a path listen in the master process, not in a cluster worker), so nothing else runs in between: no other
      // file, and no worker spawned, sees the narrowed umask. A chmod after the bind would leave a window.
      const previous = process.umask(0o177);
      try {
        server.listen(this.path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(previous);
      }
    }).catch((err: unknown) => {
      throw listenError(this.path, err);
    });
    if (this.group !== null) {
      // Group first, then mode: at no moment may the wider mode apply to the old (our primary) group.
      await chown(this.path, -1, this.group);
      await chmod(this.path, 0o660);
    }
    server.on('error', (err) => this.log.error({ err }, `control socket ${this.path} failed`));
    this.server = server;
    this.log.debug(`control socket listening on ${this.path}`);
  }

  /** Stops accepting, ends every connection (destroyed after a short linger), removes the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const conn of this.connections) endConnection(conn.socket);
    // libuv unlinks the socket file when the server handle closes.
    await closed;
  }

  private onConnection(socket: Socket): void {
    const conn: Connection = { socket, decoder: new FrameDecoder(this.maxFrameBytes), pending: 0 };
    this.connections.add(conn);
    socket.setTimeout(this.idleTimeoutMs);
    // A reload can take minutes with no bytes on the wire: idle means no traffic *and* nothing in progress.
    socket.on('timeout', () => {
      if (conn.pending === 0) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('drain', () => this.maybeResume(conn));
    // A client that disconnects mid-frame or mid-request only loses its own answers.
    socket.on('error', (err) => this.log.debug({ err }, 'control client connection error'));
    socket.on('close', () => this.connections.delete(conn));
  }

  private onData(conn: Connection, chunk: Buffer): void {
    for (const event of conn.decoder.push(chunk)) {
      if (event.type === 'error') {
        this.send(conn, { id: null, ok: false, error: event.error.toJSON() });
        if (event.fatal) {
          endConnection(conn.socket);
          return;
        }
        continue;
      }
      const request = parseRequest(event.value);
      if (request instanceof ControlError) {
        this.send(conn, { id: salvageId(event.value), ok: false, error: request.toJSON() });
        continue;
      }
      conn.pending += 1;
      void this.dispatch(request).then((response) => {
        conn.pending -= 1;
        this.send(conn, response);
        this.maybeResume(conn);
      });
    }
    if (conn.pending >= this.maxPending || conn.socket.writableLength > MAX_UNSENT_BYTES) conn.socket.pause();
  }

  private maybeResume(conn: Connection): void {
    if (conn.socket.isPaused() && conn.pending < this.maxPending && conn.socket.writableLength <= MAX_UNSENT_BYTES) {
      if (!conn.decoder.isFailed) conn.socket.resume();
    }
  }

  private send(conn: Connection, response: ControlResponse): void {
    if (conn.socket.destroyed || !conn.socket.writable) return;
    conn.socket.write(encodeFrame(response));
  }

  private async dispatch(request: ControlRequest): Promise<ControlResponse> {
    const command = COMMANDS.get(request.command);
    if (!command) {
      return {
        id: request.id,
        ok: false,
        error: new ControlError('ERR_CONTROL_UNKNOWN_COMMAND', `unknown control command ${JSON.stringify(request.command)}`, {
          hint: `known commands: ${[...COMMANDS.keys()].join(', ')}`,
        }).toJSON(),
      };
    }
    this.log.debug(`control: ${command.name} requested`);
    try {
      const args = command.parseArgs(request.args);
      const result = await command.run(this.target, args as never);
      return { id: request.id, ok: true, result };
    } catch (err) {
      const data = errorData(err);
      if (data.code === 'ERR_INTERNAL') this.log.error({ err }, `control command ${command.name} failed`);
      return { id: request.id, ok: false, error: data };
    }
  }
}

function endConnection(socket: Socket): void {
  socket.end();
  // end() waits for the client's FIN; a client that never sends it must not hold the master's fd.
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

function listenError(path: string, err: unknown): ControlError {
  if (isErrnoException(err) && err.code === 'EADDRINUSE') return busyError(path);
  return new ControlError('ERR_CONTROL_PERMISSION', `cannot listen on the control socket ${path}: ${errText(err)}`, {
    hint: 'pass --control PATH in a directory you own with mode 0700',
    cause: err,
  });
}

function errText(err: unknown): string {
  return isErrnoException(err) ? err.code ?? err.message : err instanceof Error ? err.message : String(err);
}
