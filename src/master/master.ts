// The master: ONE event queue and one step() (drain events → reap exited → reconcile, which also enforces
// deadlines), in the shape of unicorn's `join` and Puma's `check_workers`. Owns the lifecycle phases and applies
// what pool.ts decides. Not the decisions (pool.ts), the socket (listener.ts) or processes (spawn-worker.ts).
// Satisfies control/target.ts ControlTarget structurally; signals.ts and the control commands feed the same queue.

import { ControlError, SupervisorError } from '../errors.js';
import type { Config } from '../config/config.js';
import type { WorkerToMaster } from '../worker/messages.js';
import { Deferred } from './deferred.js';
import { failureError, stoppingError } from './failures.js';
import { classifyExit, decide, type ExitDecision, type FailureCause, type Phase, type PoolAction } from './pool.js';
import { WorkerHandle } from './worker-handle.js';
import type { SpawnWorker } from './spawn-worker.js';
import type { Listener } from './listener.js';
import { systemClock, type Clock } from './clock.js';
import { sampleUsage, seconds, withUsage, workerRows, type ReloadResult, type ScaleResult, type SlotRecord, type StatsSnapshot, type UsageSampler } from './stats.js';

export interface MasterLog {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface MasterOptions {
  config: Config;
  listener: Pick<Listener, 'fd' | 'address' | 'close'>;
  spawnWorker: SpawnWorker;
  log: MasterLog;
  clock?: Clock;
  sampleUsage?: UsageSampler;
  version?: string;
}

export type MasterEvent =
  | { type: 'worker-message'; pid: number; message: WorkerToMaster }
  | { type: 'worker-exit'; pid: number; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'reload'; reply?: Deferred<ReloadResult> }
  | { type: 'stop'; reply?: Deferred<void> }
  | { type: 'scale'; workers: number; reply?: Deferred<ScaleResult> }
  | { type: 'ttin' }
  | { type: 'ttou' };

type Slot = SlotRecord;

interface Reload {
  generation: number;
  canaryPassed: boolean;
  startedAt: number;
  reply: Deferred<ReloadResult> | undefined;
}

export const MAX_WORKERS = 1024;
/** A worker up this long resets its slot's crash count (the backoff starts again from zero). */
const STABLE_UPTIME_MS = 10_000;

export class Master {
  private readonly config: Config;
  private readonly listener: MasterOptions['listener'];
  private readonly spawn: SpawnWorker;
  private readonly log: MasterLog;
  private readonly clock: Clock;
  private readonly sample: UsageSampler;
  private readonly version: string;
  private readonly startedAt: number;

  private phase: Phase | 'idle' | 'stopped' = 'idle';
  private target: number;
  private generation = 1;
  private lastGeneration = 1;
  private reloading: Reload | null = null;
  private readonly workers = new Map<number, WorkerHandle>();
  private readonly slots = new Map<number, Slot>();
  private readonly queue: MasterEvent[] = [];
  private readonly exited: Extract<MasterEvent, { type: 'worker-exit' }>[] = [];
  private pendingScales: { from: number; reply: Deferred<ScaleResult> }[] = [];
  private haltError: SupervisorError | null = null;
  private readonly ready = new Deferred<void>();
  private readonly finished = new Deferred<number>();
  private cancelTimer: (() => void) | null = null;
  private timerAt: number | null = null;

  constructor(options: MasterOptions) {
    this.config = options.config;
    this.listener = options.listener;
    this.spawn = options.spawnWorker;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    this.sample = options.sampleUsage ?? sampleUsage;
    this.version = options.version ?? '0.0.0';
    this.target = options.config.workers;
    this.startedAt = this.clock.now();
    this.ready.promise.catch(() => undefined); // observed through start(); never an unhandled rejection
  }

  /** Spawns the initial workers; resolves when all are ready, rejects with AppLoadError/ListenError (or ERR_STOPPING). */
  start(): Promise<void> {
    if (this.phase === 'idle') {
      this.phase = 'starting';
      this.schedule(this.clock.now());
    }
    return this.ready.promise;
  }

  /** Resolves with the process exit code once every worker has exited and the listener is closed. */
  get done(): Promise<number> {
    return this.finished.promise;
  }

  enqueue(event: MasterEvent): void {
    this.queue.push(event);
    this.schedule(this.clock.now());
  }

  reload(): Promise<ReloadResult> {
    const reply = new Deferred<ReloadResult>();
    this.enqueue({ type: 'reload', reply });
    return reply.promise;
  }

  stop(): Promise<void> {
    const reply = new Deferred<void>();
    this.enqueue({ type: 'stop', reply });
    return reply.promise;
  }

  scale(workers: number): Promise<ScaleResult> {
    const reply = new Deferred<ScaleResult>();
    this.enqueue({ type: 'scale', workers, reply });
    return reply.promise;
  }

  /** Read-only: a consistent snapshot of the state now, then cpu/memory sampled for the live pids. */
  async stats(): Promise<StatsSnapshot> {
    const now = this.clock.now();
    const workers = await withUsage(workerRows(this.workers.values(), this.slots, now), this.sample);
    return {
      master: { pid: process.pid, version: this.version, listen: this.listener.address, generation: this.generation, uptime: seconds(now - this.startedAt), workers: this.target },
      workers,
    };
  }

  /** One turn of the loop. Public so unit tests can drive it with a fake clock. */
  step(): void {
    this.timerAt = null;
    this.cancelTimer = null;
    if (this.phase === 'idle' || this.phase === 'stopped') return;
    for (let event = this.queue.shift(); event; event = this.queue.shift()) this.guard(() => this.handle(event));
    this.reapExited();
    this.guard(() => this.reconcile());
  }

  /** The master never dies because of a worker or a bug in one event: log with the stack and go on (unicorn). */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'unexpected error in the master loop; continuing');
    }
  }

  private handle(event: MasterEvent): void {
    switch (event.type) {
      case 'worker-message':
        return this.onMessage(event.pid, event.message);
      case 'worker-exit':
        this.exited.push(event);
        return;
      case 'reload':
        return this.beginReload(event.reply);
      case 'stop':
        return this.beginStop(event.reply);
      case 'scale':
        return this.setTarget(event.workers, event.reply);
      case 'ttin':
      case 'ttou': {
        const to = this.target + (event.type === 'ttin' ? 1 : -1);
        if (to < 1) return this.log.warn(`${event.type.toUpperCase()}: already at 1 worker; not scaling down`);
        return this.setTarget(to, undefined);
      }
      default: {
        const never: never = event;
        throw new Error(`unknown master event ${JSON.stringify(never)}`);
      }
    }
  }

  private onMessage(pid: number, message: WorkerToMaster): void {
    const h = this.workers.get(pid);
    if (!h) return this.log.warn(`message ${message.type} from unknown pid ${pid}; ignored`); // Puma: out-of-sync worker list
    h.lastBeat = this.clock.now();
    switch (message.type) {
      case 'ready':
        if (h.state !== 'starting') return;
        h.transition('ready', this.clock.now());
        this.log.info(`${h.label} ready`); // test/integration relies on this line
        if (this.reloading && h.generation === this.reloading.generation && !this.reloading.canaryPassed) {
          this.reloading.canaryPassed = true;
          this.log.info(`reload: canary ${h.label} of generation ${h.generation} is ready; replacing the rest`);
        }
        return;
      case 'load-failed':
        h.loadError = message.error;
        return;
      case 'stats':
        h.requests = message.requests;
        h.inflight = message.inflight;
        return;
      case 'draining':
        h.inflight = message.inflight;
        return;
      default: {
        const never: never = message;
        this.log.warn(`unknown message ${JSON.stringify(never)} from ${h.label}; ignored`);
      }
    }
  }

  private reapExited(): void {
    for (let e = this.exited.shift(); e; e = this.exited.shift()) {
      const event = e;
      this.guard(() => this.reap(event));
    }
  }

  private reap(e: Extract<MasterEvent, { type: 'worker-exit' }>): void {
    const h = this.workers.get(e.pid);
    if (!h) return this.log.debug(`exit of unknown pid ${e.pid}; ignored`);
    this.workers.delete(e.pid);
    const now = this.clock.now();
    const slot = this.slotOf(h.id, h.generation);
    const decision = classifyExit({
      now,
      phase: this.phase as Phase,
      target: this.target,
      reload: this.reloading,
      worker: { id: h.id, generation: h.generation, state: h.state, startedAt: h.startedAt, drainReason: h.drainReason, killedFor: h.killedFor },
      code: e.code,
      signal: e.signal,
      failures: slot.failures,
      backoff: { minMs: this.config.restartBackoffMinMs, maxMs: this.config.restartBackoffMaxMs, stableMs: STABLE_UPTIME_MS },
    });
    h.transition('exited', now);
    const how = e.code !== null ? `with code ${e.code}` : `on ${e.signal ?? 'an unknown signal'}`;
    slot.lastExit = { code: e.code, signal: e.signal, reason: decision.kind === 'planned' ? decision.reason : 'crash' };
    // The worker logged the app's error with its stack already; the master keeps it for the halt/reload error.
    if (h.loadError) this.log.debug(`${h.label} could not load ${this.config.app}: ${h.loadError.message}`);
    this.applyExit(h, slot, decision, how);
  }

  private applyExit(h: WorkerHandle, slot: Slot, decision: ExitDecision, how: string): void {
    switch (decision.kind) {
      case 'planned':
        this.log.info(`${h.label} exited ${how} (${decision.reason})`);
        break;
      case 'crash':
        slot.restarts++;
        slot.failures = decision.failures;
        slot.backoffUntil = decision.delayMs > 0 ? this.clock.now() + decision.delayMs : null;
        // Stable log line (RULES.md): "worker 2 (pid 4711) exited on SIGKILL; respawning[ in 400ms]".
        this.log.warn(`${h.label} exited ${how}${decision.respawn ? `; respawning${decision.delayMs > 0 ? ` in ${decision.delayMs}ms` : ''}` : ''}`);
        break;
      case 'halt':
        this.log.warn(`${h.label} exited ${how} before it was ready`);
        this.halt(this.failureError(h, decision.cause, how));
        break;
      case 'canary-failed':
        this.log.warn(`${h.label} exited ${how} before it was ready (canary of generation ${h.generation})`);
        this.failReload(this.failureError(h, decision.cause, how));
        break;
      default: {
        const never: never = decision;
        throw new Error(`unknown exit decision ${JSON.stringify(never)}`);
      }
    }
    // A slot retired by scale-down is forgotten once nothing runs in it.
    if (h.id > this.target && ![...this.workers.values()].some((w) => w.id === h.id)) this.slots.delete(h.id);
  }

  private reconcile(): void {
    // Decide again after acting: a spawn or drain starts a deadline that the next wake-up must cover.
    for (let round = 0; round < 4; round++) {
      if (this.phase === 'idle' || this.phase === 'stopped') return;
      const { actions, wakeAt } = decide({
        now: this.clock.now(),
        phase: this.phase,
        target: this.target,
        generation: this.generation,
        reload: this.reloading,
        reloadSurge: this.config.reloadSurge,
        workers: [...this.workers.values()],
        slots: this.slots,
        bootTimeoutMs: this.config.bootTimeoutMs,
        gracefulTimeoutMs: this.config.gracefulTimeoutMs,
      });
      for (const action of actions) this.guard(() => this.apply(action));
      if (wakeAt !== null) this.schedule(wakeAt);
      if (!actions.some((a) => a.type === 'spawn' || a.type === 'drain' || a.type === 'kill')) return;
    }
  }

  private apply(action: PoolAction): void {
    const now = this.clock.now();
    switch (action.type) {
      case 'spawn':
        return this.spawnSlot(action.id, action.generation);
      case 'drain': {
        const h = this.workers.get(action.pid);
        if (!h || h.state === 'draining' || h.state === 'exited') return;
        const wasReady = h.state === 'ready';
        h.transition('draining', now);
        h.drainReason = action.reason;
        // A worker still loading its app cannot drain anything: SIGTERM it (the default action ends it).
        if (!wasReady || !h.process.send({ type: 'drain' })) h.process.kill('SIGTERM');
        return;
      }
      case 'kill': {
        const h = this.workers.get(action.pid);
        if (!h) return;
        h.killedFor = action.cause;
        const waited = seconds(now - h.since);
        this.log.warn(
          action.cause === 'boot-timeout'
            ? `${h.label} not ready after ${waited}s (boot timeout), killing`
            : `${h.label} still draining after ${waited}s (graceful timeout), killing`,
        );
        h.process.kill('SIGKILL');
        return;
      }
      case 'all-ready':
        this.phase = 'running';
        this.log.info(`ready: ${this.target} workers on ${this.listener.address}`); // stable: tests wait for it
        this.ready.resolve();
        return;
      case 'reload-complete': {
        const r = this.reloading!;
        this.reloading = null;
        this.generation = r.generation;
        const durationMs = Math.round(now - r.startedAt);
        this.log.info(`reload: generation ${r.generation} serving with ${this.target} workers (${durationMs}ms)`);
        r.reply?.resolve({ generation: r.generation, durationMs, workers: this.target });
        return;
      }
      case 'settled': {
        const pending = this.pendingScales;
        this.pendingScales = [];
        for (const p of pending) p.reply.resolve({ from: p.from, to: this.target });
        return;
      }
      case 'stopped':
        return this.finish();
      default: {
        const never: never = action;
        throw new Error(`unknown pool action ${JSON.stringify(never)}`);
      }
    }
  }

  private spawnSlot(id: number, generation: number): void {
    const slot = this.slotOf(id, generation);
    slot.backoffUntil = null;
    slot.generation = generation;
    let child;
    try {
      child = this.spawn(
        {
          app: this.config.app,
          workerId: id,
          generation,
          limits: this.config.limits,
          timeouts: this.config.timeouts,
          gracefulTimeoutMs: this.config.gracefulTimeoutMs,
          statsIntervalMs: this.config.statsIntervalMs,
          logLevel: this.config.logLevel,
          logFormat: this.config.logFormat,
          backlog: this.config.backlog,
        },
        this.listener.fd,
      );
    } catch (err) {
      slot.failures++;
      slot.backoffUntil = this.clock.now() + Math.max(this.config.restartBackoffMinMs, 100) * 2 ** Math.min(slot.failures, 6);
      this.log.error({ err }, `worker ${id}: could not start a process; retrying`);
      return;
    }
    const h = new WorkerHandle({ id, generation, process: child, now: this.clock.now(), restarts: slot.restarts });
    this.workers.set(h.pid, h);
    child.onMessage((message) => this.enqueue({ type: 'worker-message', pid: h.pid, message }));
    child.onExit((code, signal) => this.enqueue({ type: 'worker-exit', pid: h.pid, code, signal }));
    this.log.debug(`${h.label} started (generation ${generation})`);
  }

  private beginReload(reply: Deferred<ReloadResult> | undefined): void {
    const refuse = (err: SupervisorError) => {
      this.log.warn(`reload refused: ${err.message}`);
      reply?.reject(err);
    };
    if (this.phase === 'stopping' || this.phase === 'stopped') return refuse(stoppingError());
    if (this.phase === 'starting') {
      return refuse(new ControlError('ERR_RELOAD_IN_PROGRESS', 'the supervisor is still starting its workers', { hint: 'wait for the ready line, then reload' }));
    }
    if (this.reloading) {
      const ago = seconds(this.clock.now() - this.reloading.startedAt);
      return refuse(
        new ControlError('ERR_RELOAD_IN_PROGRESS', `a reload to generation ${this.reloading.generation} is already running (started ${ago}s ago)`, {
          hint: 'wait for it to finish; reloads are never interleaved',
        }),
      );
    }
    const generation = ++this.lastGeneration;
    this.reloading = { generation, canaryPassed: false, startedAt: this.clock.now(), reply };
    // New code may fix a crash loop: slots waiting to respawn get their new-generation worker at once.
    for (const slot of this.slots.values()) slot.backoffUntil = null;
    this.log.info(`reload: starting generation ${generation} (${this.target} workers, surge ${this.config.reloadSurge})`);
  }

  private failReload(err: SupervisorError): void {
    const r = this.reloading;
    if (!r) return;
    this.reloading = null;
    for (const h of this.workers.values()) {
      if (h.generation === r.generation) this.apply({ type: 'drain', pid: h.pid, reason: 'reload' });
    }
    const failed = new ControlError('ERR_RELOAD_FAILED', `generation ${r.generation} did not start: ${err.message}`, {
      hint: `generation ${this.generation} keeps serving; fix the app, then reload again`,
      cause: err,
    });
    this.log.error(`reload failed: ${failed.message}; generation ${this.generation} keeps serving`);
    r.reply?.reject(failed);
  }

  private beginStop(reply: Deferred<void> | undefined): void {
    if (this.phase === 'stopped' || this.phase === 'idle') {
      reply?.resolve();
      if (this.phase === 'idle') this.finish();
      return;
    }
    if (this.phase === 'stopping') {
      // A second TERM/INT (or stop): do not wait for in-flight requests any more.
      const left = [...this.workers.values()].filter((h) => h.killedFor === null);
      this.log.warn(`second stop request: killing ${left.length} workers now`);
      for (const h of left) {
        if (h.state !== 'draining') h.transition('draining', this.clock.now());
        h.drainReason ??= 'stopped';
        h.killedFor = 'stop-now';
        h.process.kill('SIGKILL');
      }
      reply?.resolve();
      return;
    }
    const draining = [...this.workers.values()].filter((h) => h.state === 'starting' || h.state === 'ready').length;
    this.log.info(`stopping: draining ${draining} workers (graceful timeout ${seconds(this.config.gracefulTimeoutMs)}s)`); // stable line
    this.enterStopping(stoppingError());
    reply?.resolve();
  }

  /** Initial start failed: stop everything and report the app's error (gunicorn HaltServer), no crash loop. */
  private halt(err: SupervisorError): void {
    if (this.haltError || this.phase === 'stopping') return;
    this.haltError = err;
    this.enterStopping(err);
  }

  private enterStopping(err: SupervisorError): void {
    this.phase = 'stopping';
    this.ready.reject(err);
    if (this.reloading) {
      this.reloading.reply?.reject(stoppingError());
      this.reloading = null;
    }
    for (const p of this.pendingScales) p.reply.reject(stoppingError());
    this.pendingScales = [];
  }

  private setTarget(workers: number, reply: Deferred<ScaleResult> | undefined): void {
    const refuse = (err: SupervisorError) => {
      this.log.warn(`scale refused: ${err.message}`);
      reply?.reject(err);
    };
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
      return refuse(new ControlError('ERR_CONTROL_BAD_ARGS', `cannot scale to ${String(workers)} workers`, { hint: `give a whole number from 1 to ${MAX_WORKERS}` }));
    }
    if (this.phase === 'stopping' || this.phase === 'stopped') return refuse(stoppingError());
    if (this.reloading) {
      return refuse(new ControlError('ERR_RELOAD_IN_PROGRESS', 'a reload is running', { hint: 'scale again once the reload has finished' }));
    }
    const from = this.target;
    this.target = workers;
    if (from !== workers) this.log.info(`scale: ${from} → ${workers} workers`);
    if (reply) this.pendingScales.push({ from, reply });
  }

  private finish(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.cancelTimer?.();
    this.listener.close();
    this.log.info('stopped'); // stable line, just before the process exits
    this.finished.resolve(this.haltError ? 1 : 0);
  }

  private slotOf(id: number, generation: number): Slot {
    let slot = this.slots.get(id);
    if (!slot) {
      slot = { restarts: 0, failures: 0, backoffUntil: null, lastExit: null, generation };
      this.slots.set(id, slot);
    }
    return slot;
  }

  private failureError(h: WorkerHandle, cause: FailureCause, how: string): SupervisorError {
    return failureError({ cause, how, app: this.config.app, address: this.listener.address, bootTimeoutMs: this.config.bootTimeoutMs, loadError: h.loadError });
  }

  private schedule(at: number): void {
    if (this.phase === 'stopped') return;
    if (this.timerAt !== null && this.timerAt <= at) return;
    this.cancelTimer?.();
    this.timerAt = at;
    this.cancelTimer = this.clock.setTimer(at - this.clock.now(), () => this.step());
  }
}
