// The client side of the control socket, used by the CLI verbs: connect, send a request, await its response.
// Not the verbs' output (cli/commands/*.ts) and not the wire format (control/protocol.ts).

import { createConnection, type Socket } from 'node:net';
import { ControlError, isErrnoException } from '../errors.js';
import {
  FrameDecoder,
  MAX_RESPONSE_FRAME_BYTES,
  encodeFrame,
  errorFromData,
  parseResponse,
  type ControlResponse,
} from './protocol.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

function notRunning(path: string, err: NodeJS.ErrnoException): ControlError {
  return new ControlError('ERR_CONTROL_NOT_RUNNING', `no supervisor is running at control socket ${path} (${err.code})`, {
    hint: 'start one with `scgi-supervise start`, or give this command the same --listen/--name/--control as its start',
    cause: err,
  });
}

function connectError(path: string, err: unknown): ControlError {
  if (isErrnoException(err)) {
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTDIR') return notRunning(path, err);
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      return new ControlError('ERR_CONTROL_PERMISSION', `no permission to use the control socket ${path}`, {
        hint: 'run this command as the user that started the supervisor',
        cause: err,
      });
    }
  }
  const text = err instanceof Error ? err.message : String(err);
  return new ControlError('ERR_CONTROL_NOT_RUNNING', `cannot reach the control socket ${path}: ${text}`, {
    hint: 'check that the supervisor is running and that --listen/--name/--control match its start',
    cause: err,
  });
}

/** One connection to a supervisor's control socket. Requests may overlap; responses are matched by id. */
export class ControlClient {
  readonly path: string;
  private socket: Socket | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: ControlResponse) => void; reject: (e: Error) => void }>();
  private closedError: ControlError | null = null;
  private readonly closedPromise: Promise<void>;
  private markClosed!: () => void;

  constructor(path: string) {
    this.path = path;
    this.closedPromise = new Promise((resolve) => (this.markClosed = resolve));
  }

  /** Resolves when the server side has closed the connection (or it failed). */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  connect(timeoutMs: number = DEFAULT_CONNECT_TIMEOUT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new ControlError('ERR_CONTROL_TIMEOUT', `connecting to the control socket ${this.path} took over ${timeoutMs} ms`, {
            hint: 'the supervisor may be overloaded or stuck; check its log',
          }),
        );
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(connectError(this.path, err));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        this.attach(socket);
        resolve();
      });
    });
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    const decoder = new FrameDecoder(MAX_RESPONSE_FRAME_BYTES);
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.type === 'error') {
          this.fail(event.error);
          socket.destroy();
          return;
        }
        const response = parseResponse(event.value);
        if (response instanceof ControlError) {
          this.fail(response);
          socket.destroy();
          return;
        }
        const entry = response.id === null ? undefined : this.waiting.get(response.id);
        if (entry) {
          this.waiting.delete(response.id as number);
          entry.resolve(response);
        } else if (response.id === null && !response.ok) {
          // The server could not tell which request this answers (a framing error): fail them all.
          this.fail(errorFromData(response.error));
        }
      }
    });
    socket.on('error', (err) => this.fail(connectError(this.path, err)));
    socket.on('close', () => {
      this.fail(
        new ControlError('ERR_CONTROL_NOT_RUNNING', `the supervisor closed the control connection ${this.path}`, {
          hint: 'it may have stopped or restarted; check its log',
        }),
      );
      this.markClosed();
    });
  }

  private fail(err: ControlError): void {
    this.closedError ??= err;
    for (const entry of this.waiting.values()) entry.reject(err);
    this.waiting.clear();
  }

  /** Sends one request; resolves with its result or rejects with the supervisor's error as a ControlError. */
  async request<T = unknown>(command: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const socket = this.socket;
    if (!socket) throw new ControlError('ERR_INTERNAL', 'control client used before connect()');
    if (this.closedError) throw this.closedError;
    const id = this.nextId++;
    const response = await new Promise<ControlResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(
          new ControlError('ERR_CONTROL_TIMEOUT', `${command} got no answer within ${(timeoutMs / 1000).toFixed(1)} s`, {
            hint: 'pass a larger --timeout, or check the supervisor log',
          }),
        );
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      socket.write(encodeFrame({ id, command, args }));
    });
    if (!response.ok) throw errorFromData(response.error);
    return response.result as T;
  }

  close(): void {
    this.socket?.destroy();
  }
}

/** Connect, send one request, close: what most verbs need. */
export async function controlRequest<T = unknown>(
  path: string,
  command: string,
  args: Record<string, unknown> = {},
  timeoutMs = 30_000,
): Promise<T> {
  const client = new ControlClient(path);
  await client.connect(Math.min(timeoutMs, DEFAULT_CONNECT_TIMEOUT_MS));
  try {
    return await client.request<T>(command, args, timeoutMs);
  } finally {
    client.close();
  }
}
