// Small fakes of OUR interfaces (Clock, SpawnWorker/WorkerProcess, Listener, MasterLog) for the master unit tests:
// events in, actions out, no processes and no real time. Not a test file itself (no .test suffix).

import type { Clock } from '../../../src/master/clock.js';
import type { SpawnWorker, WorkerProcess } from '../../../src/master/spawn-worker.js';
import type { MasterLog } from '../../../src/master/master.js';
import type { MasterToWorker, WorkerOptions, WorkerToMaster } from '../../../src/worker/messages.js';
import type { Config } from '../../../src/config/config.js';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../../../src/protocol/limits.js';

export class FakeClock implements Clock {
  t = 1000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }

  /** Moves time forward, running every timer that falls due on the way (in order), with a bound. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
  }
}

export class FakeWorker implements WorkerProcess {
  readonly sent: MasterToWorker[] = [];
  /** The handle sent with each message (undefined for most). */
  readonly handles: (object | undefined)[] = [];
  readonly signals: NodeJS.Signals[] = [];
  connected = true;
  private messageListener: ((m: WorkerToMaster) => void) | null = null;
  private exitListener: ((code: number | null, signal: NodeJS.Signals | null) => void) | null = null;

  constructor(
    readonly pid: number,
    readonly options: WorkerOptions,
  ) {}

  send(message: MasterToWorker, handle?: object): boolean {
    if (!this.connected) return false;
    this.sent.push(message);
    this.handles.push(handle);
    return true;
  }
  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal);
  }
  onMessage(listener: (m: WorkerToMaster) => void): void {
    this.messageListener = listener;
  }
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.exitListener = listener;
  }

  // What the real worker would do:
  emit(message: WorkerToMaster): void {
    this.messageListener?.(message);
  }
  ready(): void {
    this.emit({ type: 'ready' });
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.connected = false;
    this.exitListener?.(code, signal);
  }
}

export class FakeSpawner {
  readonly all: FakeWorker[] = [];
  private nextPid = 100;
  failNext = false;

  readonly spawn: SpawnWorker = (options) => {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('EAGAIN');
    }
    const w = new FakeWorker(this.nextPid++, options);
    this.all.push(w);
    return w;
  };

  /** Workers not yet told to exit by the test. */
  get alive(): FakeWorker[] {
    return this.all.filter((w) => w.connected);
  }
  ofGeneration(generation: number): FakeWorker[] {
    return this.alive.filter((w) => w.options.generation === generation);
  }
}

export class FakeLog implements MasterLog {
  readonly lines: string[] = [];
  debug(msg: string): void {
    this.lines.push(`DEBUG ${msg}`);
  }
  info(msg: string): void {
    this.lines.push(`INFO ${msg}`);
  }
  warn(msg: string): void {
    this.lines.push(`WARN ${msg}`);
  }
  error(obj: object | string, msg?: string): void {
    this.lines.push(`ERROR ${typeof obj === 'string' ? obj : msg ?? ''}`);
  }
  has(text: string): boolean {
    return this.lines.some((l) => l.includes(text));
  }
}

export class FakeListener {
  readonly fd = 42;
  readonly address = '127.0.0.1:4000';
  closed = 0;
  /** Stands for the listening socket's handle a worker gets a copy of (max-connections). */
  readonly socketHandle = { fake: 'listening handle' };
  close(): void {
    this.closed++;
  }
  handle(): object | null {
    return this.closed > 0 ? null : this.socketHandle;
  }
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    app: '/srv/app.js',
    workers: 2,
    listen: { kind: 'tcp', host: '127.0.0.1', port: 4000 },
    socketMode: 0o666,
    socketGroup: null,
    backlog: 511,
    gracefulTimeoutMs: 5000,
    bootTimeoutMs: 3000,
    workerTimeoutMs: 0,
    reloadSurge: 1,
    restartBackoffMinMs: 100,
    restartBackoffMaxMs: 1600,
    statsIntervalMs: 1000,
    metricsListen: null,
    name: null,
    control: null,
    controlGroup: null,
    limits: { ...DEFAULT_LIMITS },
    timeouts: { ...DEFAULT_TIMEOUTS },
    maxConnections: 0,
    recycle: { maxRequests: 0, maxRequestsJitter: 0, maxMemoryBytes: 0, maxLifetimeMs: 0, surge: 1 },
    logLevel: 'info',
    logFormat: 'text',
    user: null,
    group: null,
    chdir: null,
    env: {},
    nodeArgs: null,
    ...overrides,
  };
}
