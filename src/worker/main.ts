// worker/ owns the child process: this entry, its contract with the master (messages.ts, exit-codes.ts), four rooms.
// The worker process entry (spawned by the master): read WorkerOptions, load the app, accept on the inherited
// listening socket (fd 4), report over IPC (fd 3), drain and exit on request. Exit codes: exit-codes.ts.
// Not here: serving a connection (serve.ts), loading (load-app.ts), deciding when workers come and go (master/).

import net from 'node:net';
import type { Logger } from '../log.js';
import { createLogger } from '../log.js';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../protocol/limits.js';
import { SupervisorError } from '../errors.js';
import { EXIT_APP_LOAD_FAILED, EXIT_LISTEN_FAILED, EXIT_MASTER_GONE, EXIT_OK } from './exit-codes.js';
import { loadApp, type LoadedApp } from './adapters/load-app.js';
import { DURATION_BOUNDS_S, LISTEN_FD, WATCHDOG_FD, WORKER_OPTIONS_ENV, type SerializedError, type WorkerOptions, type WorkerToMaster } from './messages.js';
import type { StartExchange } from './connection/exchange.js';
import { ConnectionSet } from './connection/serve.js';
import { Watchdog } from './watchdog/watchdog.js';
import { HandleStream } from './transport/handle-stream.js';
import { acceptHandles } from './transport/accept-handles.js';
import { ListenerSwitch } from './transport/listener-switch.js';
import { socketFromHandle } from './transport/net-socket-events.js';
import { chooseIoPath, httpInternals, netSocketInternals } from '../node-internals.js';

/** A crash that is not one of the reserved codes: the master replaces the worker. */
const EXIT_CRASHED = 1;

/**
 * loading → serving → draining → exiting. A drain request while loading exits at once (nothing in flight);
 * every later request to drain only keeps the first exit code.
 */
type WorkerState = 'loading' | 'serving' | 'draining' | 'exiting';

class WorkerProcess {
  private state: WorkerState = 'loading';
  private exitCode: number = EXIT_OK;
  private connections: ConnectionSet | null = null;
  private lastStats = '';
  private ioPath: 'handles' | 'net-socket' = 'net-socket';
  /** What accepts: the server on fd 4, then (max-connections) the copies the master sends (listener-switch.ts). */
  private listeners: ListenerSwitch | null = null;
  /** The watchdog thread (watchdog.ts): hung-worker reports and the orphan watch; null if it could not start. */
  private watchdog: Watchdog | null = null;

  constructor(
    private readonly options: WorkerOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    process.on('message', (msg: unknown, handle: unknown) => {
      const type = typeof msg === 'object' && msg !== null ? (msg as { type?: unknown }).type : undefined;
      if (type === 'drain') {
        // A stop's drain carries what is left of its graceful timeout after the listen queue was emptied.
        const graceMs = (msg as { graceMs?: unknown }).graceMs;
        this.drain(EXIT_OK, 'drain requested', typeof graceMs === 'number' && graceMs >= 0 ? Math.min(graceMs, this.options.gracefulTimeoutMs) : undefined);
      }
      else if (type === 'listener') this.listeners?.copyArrived(handle);
    });
    // The master is gone (crashed or SIGKILLed): nobody would ever stop us, so finish what we have and leave.
    process.on('disconnect', () => this.drain(EXIT_MASTER_GONE, 'master gone (IPC closed)'));
    process.on('SIGTERM', () => this.drain(EXIT_OK, 'SIGTERM'));
    // Ctrl-C reaches the whole process group; the master coordinates the stop and tells us to drain.
    process.on('SIGINT', () => this.log.debug('SIGINT ignored; the master coordinates shutdown'));
    process.on('SIGHUP', () => this.log.debug('SIGHUP ignored; the master handles reloads'));
    process.on('unhandledRejection', (reason) => {
      // A promise the app forgot to handle: node:http would crash by default; one request's bug should not
      // take the other requests of this worker down with it.
      this.log.error({ err: reason }, 'unhandled promise rejection in the app');
    });
    process.on('uncaughtException', (err) => this.crashed(err));
    this.startWatchdog();
    void this.load();
  }

  /**
   * Started before the app loads, so the orphan watch covers a load that never ends (the worker-timeout report is
   * armed only once serving: a slow load is the boot timeout's). It asks for a drain when the master is gone (the
   * IPC 'disconnect' below usually says so first) and kills the process if this thread cannot drain (blocked).
   */
  private startWatchdog(): void {
    try {
      this.watchdog = new Watchdog({
        workerTimeoutMs: this.options.workerTimeoutMs ?? 0,
        fd: WATCHDOG_FD,
        onMasterGone: () => this.drain(EXIT_MASTER_GONE, 'master gone (parent pid changed)'),
      });
    } catch (err) {
      this.log.warn({ err }, 'could not start the watchdog thread; serving without hung-worker and orphan protection');
    }
  }

  private async load(): Promise<void> {
    let app: LoadedApp;
    try {
      app = await loadApp(this.options.app);
    } catch (err) {
      this.loadFailed(err);
      return;
    }
    if (this.state !== 'loading') return; // drained or crashed while loading
    this.log.debug({ kind: app.description }, `loaded ${this.options.app}`);
    // Only the adapter the app needs is loaded: the fetch one pulls in web streams, the node one node:http.
    const startExchange =
      app.kind === 'node'
        ? (await import('./adapters/node-http-adapter.js')).nodeExchangeStarter(app.handler)
        : (await import('./adapters/fetch-adapter.js')).fetchExchangeStarter(app.app);
    const missing = app.kind === 'node' ? [...httpInternals().missing, ...netSocketInternals().missing] : [];
    if (missing.length > 0) {
      this.log.warn(
        { missing },
        "this Node's node:http lacks private members the (req, res) adapter relies on; responses may break (use the Node versions package.json names)",
      );
    }
    if (this.state !== 'loading') return;
    this.listen(startExchange);
  }

  private listen(startExchange: StartExchange): void {
    const options = this.options;
    const connections = new ConnectionSet({
      startExchange,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
      log: this.log,
      maxConnections: options.maxConnections ?? 0,
      durationBoundsS: DURATION_BOUNDS_S,
      ...(this.watchdog !== null && (options.workerTimeoutMs ?? 0) > 0 ? { tracker: this.watchdog.board } : {}),
    });
    this.connections = connections;
    if ((options.maxRequests ?? 0) > 0) {
      connections.requestLimit = options.maxRequests!;
      connections.onRequestLimit = () => {
        this.log.info(`served ${connections.requests} requests (max-requests): the master recycles this worker`);
        this.send({ type: 'limit-reached', limit: 'max-requests', requests: connections.requests });
      };
    }
    // allowHalfOpen: our FIN goes out only after the response (serve.ts decides when). No noDelay here: a response
    // written in one go (head + body, then FIN) leaves at once anyway, so the adapters turn Nagle off only for a
    // response streamed in several writes (one setsockopt saved per request on the common path).
    const server = net.createServer({ allowHalfOpen: true }, connections.accept);
    server.on('error', (err) => {
      if (this.state === 'loading') {
        this.log.error({ err }, `cannot accept on the inherited listening socket (fd ${LISTEN_FD})`);
        process.exit(EXIT_LISTEN_FAILED);
      }
      this.log.error({ err }, 'listening socket error');
    });
    // Node's listen({ fd }) wraps the inherited socket and calls listen(2) again, which is harmless on a socket
    // the master already listens on, but replaces its backlog: hence the master's (or systemd's) value. Node reads
    // the backlog of an fd listen from the ARGUMENTS only (options.backlog is ignored there, net.js
    // backlogFromArgs): passed as the second argument, or every worker would shrink the queue to 511.
    // Closing this server later closes only our copy of the descriptor.
    server.listen({ fd: LISTEN_FD }, options.backlog ?? 511, () => {
      if (this.state !== 'loading') return;
      this.serveOnHandles(server, connections);
      const listeners = new ListenerSwitch(server, {
        backlog: options.backlog ?? 511,
        onHandle: this.ioPath === 'handles' ? connections.acceptHandle : (h) => connections.accept(socketFromHandle(h)),
        acceptFailed: (err) => this.acceptFailed(err),
        askMaster: () => this.send({ type: 'listener-wanted' }),
        serving: () => this.state === 'serving',
        log: this.log,
      });
      this.listeners = listeners;
      if ((options.maxConnections ?? 0) > 0) connections.gate({ pause: () => listeners.pause(), resume: () => listeners.resume() });
      this.state = 'serving';
      this.watchdog?.board.arm();
      this.send({ type: 'ready' });
      const timer = setInterval(() => this.tick(), Math.max(100, options.statsIntervalMs));
      timer.unref();
    });
  }

  /**
   * Accepted connections skip net.Socket when node's stream bindings are usable (node-internals.ts decides): the
   * largest single cost of a request. Otherwise they stay net.Sockets, through the server's 'connection' listener.
   * Logged at info once per worker, with the reason for a fallback.
   */
  private serveOnHandles(server: net.Server, connections: ConnectionSet): void {
    const path = chooseIoPath(server);
    if (path.kind === 'net-socket') {
      // test/integration/worker-net-sockets.test.ts relies on both lines.
      this.log.info(`serving connections as net.Socket: ${path.reason}`);
      return;
    }
    HandleStream.use(path.bindings);
    this.ioPath = 'handles';
    acceptHandles(server, connections.acceptHandle, (err) => this.acceptFailed(err));
    this.log.info("serving connections on their libuv handles (node's stream bindings probed usable)");
  }

  private acceptFailed(err: NodeJS.ErrnoException): void {
    // EMFILE/ENFILE and the like, once per failed accept while they last: rate-limited. libuv keeps listening.
    const hint = err.code === 'EMFILE' || err.code === 'ENFILE' ? '; raise the open-files limit (ulimit -n, LimitNOFILE=)' : '';
    this.connections?.warnings.warn({ code: err.code }, `accept failed: ${err.message}${hint}`);
  }

  private loadFailed(err: unknown): void {
    const error = serializeError(err);
    this.log.error({ err }, error.message); // "<file> failed to load: …", with the app's stack after "caused by:"
    this.state = 'exiting';
    this.send({ type: 'load-failed', error }, () => process.exit(EXIT_APP_LOAD_FAILED));
  }

  private crashed(err: Error): void {
    if (this.state === 'loading') {
      // A throw from the app's own async set-up (a timer, an event) is a load failure, not a crash loop.
      this.loadFailed(err);
      return;
    }
    // After an uncaught exception the app's state may be corrupt (Node's docs: "not safe to resume"), so this
    // worker stops taking new connections, lets the in-flight ones finish, and exits non-zero: the master
    // starts a fresh one in its slot.
    this.log.error({ err }, 'uncaught exception in the app; draining and exiting so the master replaces this worker');
    this.drain(EXIT_CRASHED, 'uncaught exception');
  }

  private drain(exitCode: number, reason: string, graceMs = this.options.gracefulTimeoutMs): void {
    switch (this.state) {
      case 'loading':
        this.state = 'exiting';
        this.log.info(`exiting before serving: ${reason}`);
        process.exit(exitCode);
        return;
      case 'serving':
        break;
      case 'draining':
      case 'exiting':
        return;
      default:
        return assertNever(this.state);
    }
    this.state = 'draining';
    this.exitCode = exitCode;
    const connections = this.connections!;
    this.listeners?.stop();
    this.log.info({ inflight: connections.inflight, open: connections.open }, `draining: ${reason}`);
    this.send({ type: 'draining', inflight: connections.inflight });
    if (connections.open === 0) {
      this.exit();
      return;
    }
    connections.onEmpty = () => this.exit();
    const deadline = setTimeout(() => {
      this.log.warn(
        { open: connections.open },
        `graceful timeout (${graceMs} ms) passed; closing the connections left`,
      );
      connections.destroyAll();
      // 'close' events follow destroy(); if one never came, leave anyway.
      setTimeout(() => this.exit(), 1000);
    }, graceMs);
    deadline.unref();
  }

  private exit(): void {
    if (this.state === 'exiting') return;
    this.state = 'exiting';
    const code = this.exitCode;
    process.exitCode = code;
    const c = this.connections;
    if (c === null) {
      process.exit(code);
      return;
    }
    c.stop();
    // The last counters, then leave once the message is written (or without IPC, at once).
    this.send({ type: 'stats', requests: c.requests, inflight: c.inflight, timeouts: c.timeouts, counts: c.counts }, () => process.exit(code));
  }

  /** Every stats interval while serving: the counters, and a check that the master is still there. */
  private tick(): void {
    if (process.send !== undefined && !process.connected) {
      // The IPC channel is closed but 'disconnect' never came: node holds that event back while it believes a
      // message is half read (seen once: a worker left serving, orphaned, after its master was killed).
      this.drain(EXIT_MASTER_GONE, 'master gone (IPC closed, no disconnect event)');
      return;
    }
    this.sendStats(false);
  }

  private sendStats(force: boolean): void {
    const c = this.connections;
    if (c === null) return;
    const key = `${c.requests}/${c.inflight}/${c.timeouts}`;
    if (!force && key === this.lastStats) return;
    this.lastStats = key;
    this.send({ type: 'stats', requests: c.requests, inflight: c.inflight, timeouts: c.timeouts, counts: c.counts });
  }

  /** process.send when the channel is up; `done` runs once the message is written (or at once without IPC). */
  private send(msg: WorkerToMaster, done?: () => void): void {
    if (process.send === undefined || !process.connected) {
      done?.();
      return;
    }
    process.send(msg, undefined, {}, () => done?.());
  }
}

function serializeError(err: unknown): SerializedError {
  if (err instanceof SupervisorError) {
    // The app's own error (the cause) carries the stack the user needs, not our wrapper's.
    const cause = (err as { cause?: unknown }).cause;
    const stack = cause instanceof Error ? cause.stack : err.stack;
    const out: SerializedError = { code: err.code, message: err.message };
    if (err.hint !== undefined) out.hint = err.hint;
    if (stack !== undefined) out.stack = stack;
    return out;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const out: SerializedError = { code: 'ERR_APP_LOAD_FAILED', message: `the app failed to load: ${e.message}` };
  if (e.stack !== undefined) out.stack = e.stack;
  return out;
}

function readOptions(): WorkerOptions {
  const raw = process.env[WORKER_OPTIONS_ENV];
  // The app must not see (or pass on to its own children) the supervisor's options.
  delete process.env[WORKER_OPTIONS_ENV];
  if (raw === undefined) {
    process.stderr.write(`scgi-supervise worker: ${WORKER_OPTIONS_ENV} is not set; workers are started by \`scgi-supervise start\`\n`);
    process.exit(EXIT_CRASHED);
  }
  let options: WorkerOptions;
  try {
    options = JSON.parse(raw) as WorkerOptions;
  } catch (err) {
    process.stderr.write(`scgi-supervise worker: ${WORKER_OPTIONS_ENV} is not valid JSON: ${String(err)}\n`);
    process.exit(EXIT_CRASHED);
  }
  if (typeof options.app !== 'string' || typeof options.workerId !== 'number') {
    process.stderr.write(`scgi-supervise worker: ${WORKER_OPTIONS_ENV} lacks app or workerId\n`);
    process.exit(EXIT_CRASHED);
  }
  return options;
}

function assertNever(state: never): never {
  throw new Error(`unreachable worker state ${String(state)}`);
}

const options = readOptions();
// After the master is gone, the pipes it read answer EPIPE (node ignores SIGPIPE): the app's writes to
// process.stdout/stderr emit 'error', which must not become an uncaught exception in a worker finishing its
// requests. The logger's own writes (log.ts, pino's destination) already drop EPIPE.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
const log = createLogger({ name: `worker ${options.workerId}`, level: options.logLevel, format: options.logFormat, fd: options.logFd });
new WorkerProcess(options, log).start();
