// The master: ONE event queue and one step() (drain events → reap exited → reconcile, which also enforces
// deadlines), in the shape of unicorn's `join` and Puma's `check_workers`. Owns the lifecycle phases and applies
// what pool.ts decides. Not the decisions (pool.ts), the socket (listener.ts), the roster and process operations
// (worker-table.ts) or the errors it reports (failures.ts).
// Satisfies control/target.ts ControlTarget structurally; signals.ts and the control commands feed the same queue.

import { ControlError, SupervisorError } from '../errors.js';
import type { Config } from '../config/config.js';
import type { WorkerToMaster } from '../worker/messages.js';
import { Deferred } from './deferred.js';
import { failureError, stoppingError } from './failures.js';
import { classifyExit, decide, type ExitDecision, type FailureCause, type Phase, type PoolAction } from './pool.js';
import type { WorkerHandle } from './worker-handle.js';
import { WorkerTable, type ProcessEvent, type TableLog } from './worker-table.js';
import type { SpawnWorker } from './spawn-worker.js';
import type { Listener } from './listener.js';
import { systemClock, type Clock } from './clock.js';
import { sampleUsage, seconds, withUsage, workerRows, type ReloadResult, type ScaleResult, type SlotRecord, type StatsSnapshot, type UsageSampler } from './stats.js';

export type MasterLog = TableLog;

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
  | ProcessEvent
  | { type: 'reload'; reply?: Deferred<ReloadResult> }
  | { type: 'stop'; reply?: Deferred<void> }
  | { type: 'scale'; workers: number; reply?: Deferred<ScaleResult> }
  | { type: 'ttin' }
  | { type: 'ttou' };

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
  private readonly table: WorkerTable;
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
    this.clock = options.clock ?? systemClock;
    this.table = new WorkerTable({
      config: options.config,
      listenFd: options.listener.fd,
      spawnWorker: options.spawnWorker,
      clock: this.clock,
      log: options.log,
      notify: (event) => this.enqueue(event),
    });
    this.log = options.log;
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
    const workers = await withUsage(workerRows(this.table.workers.values(), this.table.slots, now), this.sample);
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

  /**
   * The master never dies because of a worker or a bug in one event: log with the stack and go on (unicorn).
   * A broken invariant (InternalError, e.g. an illegal state transition) stops the workers and exits non-zero
   * instead (gunicorn HaltServer): the master's view of its workers can no longer be trusted.
   */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof SupervisorError && err.code === 'ERR_INTERNAL') {
        this.log.error({ err }, 'broken invariant in the master; stopping');
        this.halt(err);
        return;
      }
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
    const h = this.table.record(pid, message);
    if (h && this.reloading && h.generation === this.reloading.generation && !this.reloading.canaryPassed) {
      this.reloading.canaryPassed = true;
      this.log.info(`reload: canary ${h.label} of generation ${h.generation} is ready; replacing the rest`);
    }
  }

  private reapExited(): void {
    for (let e = this.exited.shift(); e; e = this.exited.shift()) {
      const event = e;
      this.guard(() => this.reap(event));
    }
  }

  private reap(e: Extract<MasterEvent, { type: 'worker-exit' }>): void {
    const h = this.table.remove(e.pid);
    if (!h) return this.log.debug(`exit of unknown pid ${e.pid}; ignored`);
    const now = this.clock.now();
    const slot = this.table.slotOf(h.id, h.generation);
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

  private applyExit(h: WorkerHandle, slot: SlotRecord, decision: ExitDecision, how: string): void {
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
    this.table.forgetIfRetired(h.id, this.target);
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
        workers: [...this.table.workers.values()],
        slots: this.table.slots,
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
        return this.table.spawn(action.id, action.generation);
      case 'drain':
        return this.table.drain(action.pid, action.reason);
      case 'kill':
        return this.table.kill(action.pid, action.cause);
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
    for (const slot of this.table.slots.values()) {
      slot.backoffUntil = null;
      slot.failures = 0;
    }
    this.log.info(`reload: starting generation ${generation} (${this.target} workers, surge ${this.config.reloadSurge})`);
  }

  private failReload(err: SupervisorError): void {
    const r = this.reloading;
    if (!r) return;
    this.reloading = null;
    // New workers still loading are stopped. Before the canary passed that is all of them; after it, the new
    // workers already serving stay (their old ones are gone) and the remaining slots keep the old generation.
    const started = [...this.table.workers.values()].filter((h) => h.generation === r.generation);
    for (const h of started) if (h.state === 'starting') this.table.drain(h.pid, 'reload');
    const serving = started.filter((h) => h.state === 'ready').length;
    const what = r.canaryPassed ? `generation ${r.generation} failed to load after ${serving} of its workers started` : `generation ${r.generation} did not start`;
    const failed = new ControlError('ERR_RELOAD_FAILED', `${what}: ${err.message}`, {
      hint: `${serving > 0 ? `${serving} workers run generation ${r.generation}, the others ` : ''}generation ${this.generation} keeps serving; fix the app, then reload again`,
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
      this.log.warn(`second stop request: killing ${this.table.killAll()} workers now`);
      reply?.resolve();
      return;
    }
    this.log.info(`stopping: draining ${this.table.countLive()} workers (graceful timeout ${seconds(this.config.gracefulTimeoutMs)}s)`); // stable line
    this.enterStopping(stoppingError());
    reply?.resolve();
  }

  /** The initial start failed, or an invariant broke: stop everything, exit 1 with the error (gunicorn HaltServer). */
  private halt(err: SupervisorError): void {
    if (this.haltError || this.phase === 'stopping' || this.phase === 'stopped') return;
    if (this.phase === 'running') this.log.info(`stopping: draining ${this.table.countLive()} workers (graceful timeout ${seconds(this.config.gracefulTimeoutMs)}s)`);
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
    // A retired slot waiting out a backoff has nothing to drain: forget it now (stats must not list it).
    for (const id of [...this.table.slots.keys()]) this.table.forgetIfRetired(id, workers);
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
