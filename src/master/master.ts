// The master: ONE event queue and one step() (drain events → reap exited → reconcile, which also enforces
// deadlines), in the shape of unicorn's `join` and Puma's `check_workers`; it applies what pool.ts decides.
// Not the decisions (pool.ts), the phases and commands (lifecycle.ts), the roster and process operations
// (worker-table.ts), the errors it reports (failures.ts), the socket (listener.ts), the stop's emptying
// (stop-emptying.ts), the periodic sample (sampler.ts) or the life-long counters (ledger.ts).
// Satisfies control/target.ts ControlTarget structurally; signals.ts and the control commands feed the same queue.

import { SupervisorError } from '../errors.js';
import type { Config } from '../config/config.js';
import type { WorkerToMaster } from '../worker/messages.js';
import { Deferred } from './deferred.js';
import { failureError } from './failures.js';
import { Lifecycle } from './lifecycle.js';
import { CRASH_WINDOW_MS, noteCrash, recentCrashes, summaryDueAt, summaryWritten } from './crash-log.js';
import { classifyExit, decide, type ExitDecision, type FailureCause, type Phase, type PoolAction } from './pool.js';
import type { WorkerHandle } from './worker-handle.js';
import { WorkerTable, type ProcessEvent, type SlotRecord, type TableLog } from './worker-table.js';
import type { SpawnWorker } from './spawn-worker.js';
import type { Listener } from './listener.js';
import { systemClock, type Clock } from './clock.js';
import { sampleUsage, seconds, withUsage, workerRows, type UsageSampler } from './stats.js';
import type { ReloadResult, ScaleResult, StatsSnapshot } from '../stats-contract.js';
import type { ListenQueueReader } from './listen-queue.js';
import { OVER_LIMIT_SAMPLE_MS, overMemoryLimit } from './recycle.js';
import { formatMetrics, type MetricsInput } from './metrics-text.js';
import { Ledger } from './ledger.js';
import { Sampler } from './sampler.js';
import { QueueEmptying } from './stop-emptying.js';

/**
 * After new SYNs are refused, the queue is not called empty before this long: a handshake whose SYN came just before
 * completes within a round trip (microseconds on loopback, milliseconds on a LAN) and lands in the queue.
 */
const SYN_SETTLE_MS = 100;

export type MasterLog = TableLog;

export interface MasterOptions {
  config: Config;
  listener: Pick<Listener, 'fd' | 'address' | 'close'> & Partial<Pick<Listener, 'handle' | 'unlinkPath' | 'closeForStop' | 'refuseNewConnections'>>;
  spawnWorker: SpawnWorker;
  log: MasterLog;
  clock?: Clock;
  sampleUsage?: UsageSampler;
  version?: string;
  /** Told where the master stands after every turn of its loop (sd-notify.ts diffs these into sd_notify lines). */
  observe?: (milestone: MasterMilestone) => void;
  /**
   * The listening socket's queue (listen-queue.ts). When given, the master samples it and the workers' CPU and
   * memory every --stats-interval, and metrics() serves that sample; without it (unit tests) nothing is sampled.
   */
  readListenQueue?: ListenQueueReader;
  /** [0, 1): draws each worker's --max-requests-jitter (default Math.random). */
  random?: () => number;
}

/** What an observer of the master's lifecycle sees after each step(): plain values, never the live objects. */
export interface MasterMilestone {
  phase: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';
  /** Workers in state ready (any generation), out of target. */
  ready: number;
  target: number;
  generation: number;
  /** The generation a running reload starts, or null. */
  reloading: number | null;
  /** Reload requests received so far, refused ones included (a refusal changes nothing else an observer sees). */
  reloadRequests: number;
  /** Crashes respawned since start, over every slot. */
  restarts: number;
}

export type MasterEvent =
  | ProcessEvent
  // config: the next generation's (cli/config-reload.ts re-read the file); kept only if the reload starts and succeeds.
  | { type: 'reload'; reply?: Deferred<ReloadResult>; config?: Config }
  /** A reload refused before it reached the master (cli/config-reload.ts): only observers (sd_notify) care. */
  | { type: 'reload-refused' }
  | { type: 'stop'; reply?: Deferred<void> }
  | { type: 'scale'; workers: number; reply?: Deferred<ScaleResult> }
  | { type: 'ttin' }
  | { type: 'ttou' };

export class Master {
  private config: Config;
  /** The config before a reload with a new one, put back if that reload fails. */
  private configBeforeReload: Config | null = null;
  private readonly listener: MasterOptions['listener'];
  private readonly log: MasterLog;
  private readonly clock: Clock;
  private readonly version: string;
  private readonly startedAt: number;

  private readonly table: WorkerTable;
  private readonly life: Lifecycle;
  private readonly queue: MasterEvent[] = [];
  private readonly exited: Extract<MasterEvent, { type: 'worker-exit' }>[] = [];
  private cancelTimer: (() => void) | null = null;
  private timerAt: number | null = null;
  private readonly observe: ((milestone: MasterMilestone) => void) | undefined;
  private reloadRequests = 0;

  // What metrics() and stats() serve besides the live workers: counters that never go down, and the last sample.
  private readonly readListenQueue: ListenQueueReader | null;
  private readonly ledger = new Ledger();
  private readonly sampler: Sampler;
  private readonly startedAtEpochMs = Date.now();
  /** A stop's first stage: the listen queue is emptied before the workers drain (stop-emptying.ts, issue 13). */
  private emptying: QueueEmptying | null = null;

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
      listenHandle: () => options.listener.handle?.() ?? null,
      ...(options.random ? { random: options.random } : {}),
    });
    this.log = options.log;
    this.version = options.version ?? '0.0.0';
    this.life = new Lifecycle({ config: options.config, table: this.table, log: options.log, clock: this.clock, listener: options.listener });
    this.startedAt = this.clock.now();
    this.observe = options.observe;
    this.readListenQueue = options.readListenQueue ?? null;
    this.sampler = new Sampler({
      sampleUsage: options.sampleUsage ?? sampleUsage,
      readListenQueue: this.readListenQueue,
      pids: () => [...this.table.workers.values()].filter((h) => h.state !== 'exited').map((h) => h.pid),
      // Faster while a worker is over --max-memory: one growing fast is caught before twice the limit.
      nextIntervalMs: (usage) =>
        overMemoryLimit([...usage.values()].map((u) => u.memory), this.config.recycle)
          ? Math.min(OVER_LIMIT_SAMPLE_MS, this.config.statsIntervalMs)
          : this.config.statsIntervalMs,
      sampled: (usage) => {
        // Recycling reads memory from this sample (pool.ts): decide again now, not at the next event.
        for (const h of this.table.workers.values()) h.memory = usage.get(h.pid)?.memory ?? h.memory;
        if (this.config.recycle.maxMemoryBytes > 0) this.schedule(this.clock.now());
      },
    });
  }

  /** Spawns the initial workers; resolves when all are ready, rejects with AppLoadError/ListenError (or ERR_STOPPING). */
  start(): Promise<void> {
    if (this.life.phase === 'idle') {
      this.life.phase = 'starting';
      this.schedule(this.clock.now());
      this.sampler.start();
    }
    return this.life.ready.promise;
  }

  /** Resolves with the process exit code once every worker has exited and the listener is closed. */
  get done(): Promise<number> {
    return this.life.finished.promise;
  }

  enqueue(event: MasterEvent): void {
    this.queue.push(event);
    this.schedule(this.clock.now());
  }

  reload(config?: Config): Promise<ReloadResult> {
    const reply = new Deferred<ReloadResult>();
    this.enqueue({ type: 'reload', reply, config });
    return reply.promise;
  }

  /** A reload was refused before it reached the master: observers still see a request (sd_notify RELOADING/READY). */
  reloadRefused(): void {
    this.enqueue({ type: 'reload-refused' });
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

  /** Read-only: a consistent snapshot of the state now, with cpu/memory from the last periodic sample (never sampled on demand). */
  async stats(): Promise<StatsSnapshot> {
    const now = this.clock.now();
    const workers = withUsage(workerRows(this.table.workers.values(), this.table.slots, now), this.sampler.usage);
    return {
      master: {
        pid: process.pid,
        version: this.version,
        listen: this.listener.address,
        generation: this.life.generation,
        uptime: seconds(now - this.startedAt),
        workers: this.life.target,
        listenQueue: this.sampler.queue,
        config: { ...this.config },
        totals: this.ledger.totals(this.table.workers.values()),
      },
      workers,
    };
  }

  /** The Prometheus text: counters as of the workers' last reports, CPU/memory/queue from the last sample. */
  async metrics(): Promise<string> {
    return formatMetrics(this.metricsInput());
  }

  metricsInput(): MetricsInput {
    const input = { version: this.version, startTimeSeconds: Math.floor(this.startedAtEpochMs / 1000), generation: this.life.generation, now: this.clock.now() };
    return this.ledger.metricsInput({ ...input, queue: this.sampler.queue, usage: this.sampler.usage }, this.table.workers, this.table.slots);
  }

  /** One periodic sample now (sampler.ts); public so unit tests can take one without the timer. */
  sampleNow(): Promise<void> {
    return this.sampler.sampleNow();
  }

  /** One turn of the loop. Public so unit tests can drive it with a fake clock. */
  step(): void {
    this.timerAt = null;
    this.cancelTimer = null;
    if (this.life.phase === 'idle' || this.life.phase === 'stopped') return;
    for (let event = this.queue.shift(); event; event = this.queue.shift()) this.guard(() => this.handle(event));
    this.reapExited();
    this.guard(() => this.reconcile());
    if (this.observe) this.guard(() => this.observe!(this.milestone()));
  }

  private milestone(): MasterMilestone {
    let ready = 0;
    for (const h of this.table.workers.values()) if (h.state === 'ready') ready++;
    let restarts = 0;
    for (const slot of this.table.slots.values()) restarts += slot.restarts;
    const { phase, target, generation, reloading } = this.life;
    return { phase, ready, target, generation, reloading: reloading?.generation ?? null, reloadRequests: this.reloadRequests, restarts };
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
        this.life.halt(err);
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
        this.reloadRequests++;
        if (!this.life.beginReload(event.reply) || event.config === undefined) return;
        this.configBeforeReload = this.config;
        return this.useConfig(event.config);
      case 'reload-refused':
        this.reloadRequests++;
        return;
      case 'stop': {
        const first = this.life.phase !== 'stopping';
        this.life.beginStop(event.reply);
        if (first && this.life.phase === 'stopping') this.beginEmptying();
        return;
      }
      case 'scale':
        return this.life.setTarget(event.workers, event.reply);
      case 'ttin':
      case 'ttou': {
        const to = this.life.target + (event.type === 'ttin' ? 1 : -1);
        if (to < 1) return this.log.warn(`${event.type.toUpperCase()}: already at 1 worker; not scaling down`);
        return this.life.setTarget(to, undefined);
      }
      default: {
        const never: never = event;
        throw new Error(`unknown master event ${JSON.stringify(never)}`);
      }
    }
  }

  private onMessage(pid: number, message: WorkerToMaster): void {
    const h = this.table.record(pid, message);
    if (h) this.life.workerReady(h);
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
    // Counters never go down: the worker's last report (its final one when it drained) stays in the totals.
    this.ledger.retire(h, this.sampler.forget(h.pid));
    const now = this.clock.now();
    const slot = this.table.slotOf(h.id, h.generation);
    const decision = classifyExit({
      now,
      phase: this.life.phase as Phase,
      target: this.life.target,
      reload: this.life.reloading,
      worker: { id: h.id, generation: h.generation, state: h.state, startedAt: h.startedAt, drainReason: h.drainReason, killedFor: h.killedFor },
      code: e.code,
      signal: e.signal,
      failures: slot.failures,
      spawnedAt: slot.spawnedAt,
      backoff: { minMs: this.config.restartBackoffMinMs, maxMs: this.config.restartBackoffMaxMs },
    });
    h.transition('exited', now);
    const how = e.code !== null ? `with code ${e.code}` : `on ${e.signal ?? 'an unknown signal'}`;
    slot.lastExit = { code: e.code, signal: e.signal, reason: decision.kind === 'planned' ? decision.reason : h.killedFor === 'worker-timeout' ? 'worker-timeout' : 'crash' };
    if (slot.lastExit.reason === 'recycled') {
      const limit = h.recycling ?? 'max-memory'; // unmarked only when killed at twice max-memory
      slot.lastExit.limit = limit;
      slot.recycles++;
      this.ledger.recycled(limit);
    }
    // The worker logged the app's error with its stack already; the master keeps it for the halt/reload error.
    if (h.loadError) this.log.debug(`${h.label} could not load ${this.config.app}: ${h.loadError.message}`);
    this.applyExit(h, slot, decision, how);
  }

  private applyExit(h: WorkerHandle, slot: SlotRecord, decision: ExitDecision, how: string): void {
    switch (decision.kind) {
      case 'planned':
        this.log.info(`${h.label} exited ${how} (${decision.reason}${slot.lastExit?.limit ? `: ${slot.lastExit.limit}` : ''})`);
        break;
      case 'crash':
        slot.restarts++;
        // The watchdog's kill of a stuck worker (issue 14) reports lastExit.reason 'worker-timeout'; every other unplanned exit is a crash.
        this.ledger.restarted(slot.lastExit?.reason === 'worker-timeout' ? 'worker-timeout' : 'crash');
        slot.failures = decision.failures;
        slot.backoffUntil = decision.delayMs > 0 ? this.clock.now() + decision.delayMs : null;
        switch (noteCrash(slot, this.clock.now())) {
          case 'each':
            // Stable log line (RULES.md): "worker 2 (pid 4711) exited on SIGKILL; respawning[ in 400ms]".
            this.log.warn(`${h.label} exited ${how}${decision.respawn ? `; respawning${decision.delayMs > 0 ? ` in ${decision.delayMs}ms` : ''}` : ''}`);
            break;
          case 'summary':
            this.log.warn(crashSummary(h.id, slot, this.clock.now()));
            break;
          case 'quiet':
            break; // told once a minute by reportCrashLoops()
        }
        break;
      case 'halt':
        this.log.warn(`${h.label} exited ${how} before it was ready`);
        this.life.halt(this.failureError(h, decision.cause, how));
        break;
      case 'canary-failed':
        this.log.warn(`${h.label} exited ${how} before it was ready (canary of generation ${h.generation})`);
        this.life.failReload(this.failureError(h, decision.cause, how));
        if (this.configBeforeReload) this.useConfig(this.configBeforeReload);
        this.configBeforeReload = null;
        break;
      default: {
        const never: never = decision;
        throw new Error(`unknown exit decision ${JSON.stringify(never)}`);
      }
    }
  }

  private reconcile(): void {
    // Decide again after acting: a spawn or drain starts a deadline that the next wake-up must cover.
    for (let round = 0; round < 4; round++) {
      const phase = this.life.phase;
      if (phase === 'idle' || phase === 'stopped') return;
      const { actions, wakeAt } = decide({
        now: this.clock.now(),
        phase,
        target: this.life.target,
        generation: this.life.generation,
        reload: this.life.reloading,
        reloadSurge: this.config.reloadSurge,
        workers: [...this.table.workers.values()],
        slots: this.table.slots,
        bootTimeoutMs: this.config.bootTimeoutMs,
        gracefulTimeoutMs: this.config.gracefulTimeoutMs,
        forceStop: this.life.forceStop,
        recycle: this.config.recycle,
        emptying: this.emptying?.view() ?? null,
      });
      for (const action of actions) this.guard(() => this.apply(action));
      if (wakeAt !== null) this.schedule(wakeAt);
      this.reportCrashLoops();
      // Also after a change of phase or generation: what the pool decides in 'running' (recycling's next wake-up) differs.
      if (!actions.some((a) => a.type === 'spawn' || a.type === 'drain' || a.type === 'kill' || a.type === 'recycle' || a.type === 'all-ready' || a.type === 'reload-complete')) return;
    }
  }

  private apply(action: PoolAction): void {
    switch (action.type) {
      case 'spawn':
        return this.table.spawn(action.id, action.generation);
      case 'drain':
        return this.table.drain(action.pid, action.reason, action.graceMs);
      case 'kill':
        return this.table.kill(action.pid, action.cause);
      case 'recycle':
        return this.table.markRecycle(action.pid, action.limit);
      case 'forget':
        return this.table.forget(action.id);
      case 'close-listener':
        this.emptying?.close(action.reason, this.table.countLive());
        return this.listener.closeForStop ? this.listener.closeForStop() : this.listener.close();
      case 'all-ready':
        return this.life.allReady();
      case 'reload-complete':
        this.configBeforeReload = null;
        return this.life.completeReload();
      case 'settled':
        return this.life.settled();
      case 'stopped':
        this.emptying?.cancel();
        this.cancelTimer?.();
        this.sampler.stop();
        return this.life.finish();
      default: {
        const never: never = action;
        throw new Error(`unknown pool action ${JSON.stringify(never)}`);
      }
    }
  }

  /** A crash loop is logged once a minute per slot: the crashes kept quiet since the last line, in one line. */
  private reportCrashLoops(): void {
    const now = this.clock.now();
    for (const [id, slot] of this.table.slots) {
      const due = summaryDueAt(slot);
      if (due === null) continue;
      if (due > now) {
        this.schedule(due);
        continue;
      }
      this.log.warn(crashSummary(id, slot, now));
      summaryWritten(slot, now);
    }
  }

  /**
   * A stop of a socket we bound: unlink a unix path now (new connects fail with ENOENT, nginx moves on), and keep
   * the workers serving until the queue reads empty (pool.ts). systemd's socket (fd:N) is never unlinked or waited
   * on: its queue stays with systemd. Without a reader the workers drain at once, as before issue 13.
   */
  private beginEmptying(): void {
    if (this.config.listen.kind === 'fd') return;
    this.listener.unlinkPath?.();
    let settleMs = 0;
    if (this.config.listen.kind === 'tcp' && this.listener.refuseNewConnections) {
      const why = this.listener.refuseNewConnections();
      if (why === null) {
        settleMs = SYN_SETTLE_MS;
        this.log.info('stopping: new connections refused (their SYNs dropped: clients retry, then find the port closed); the queued ones are served');
      } else this.log.warn(`stopping: cannot refuse new connections (${why}); the close will shrink the backlog instead, which may reset one`);
    }
    if (this.readListenQueue === null) return;
    const onReading = () => this.schedule(this.clock.now());
    this.emptying = new QueueEmptying({ read: this.readListenQueue, clock: this.clock, log: this.log, gracefulTimeoutMs: this.config.gracefulTimeoutMs, settleMs, onReading });
  }

  private failureError(h: WorkerHandle, cause: FailureCause, how: string): SupervisorError {
    return failureError({ cause, how, app: this.config.app, address: this.listener.address, bootTimeoutMs: this.config.bootTimeoutMs, loadError: h.loadError });
  }

  /** The config every later spawn, deadline and stats reply reads (the table and lifecycle hold the same object). */
  private useConfig(config: Config): void {
    this.config = config;
    this.table.useConfig(config);
    this.life.useConfig(config);
  }

  private schedule(at: number): void {
    if (this.life.phase === 'stopped') return;
    if (this.timerAt !== null && this.timerAt <= at) return;
    this.cancelTimer?.();
    this.timerAt = at;
    this.cancelTimer = this.clock.setTimer(at - this.clock.now(), () => this.step());
  }
}

/** Stable log line (test/frontends grep "crashed N times"): "worker 2 crashed 37 times in the last 60 s (last: exited with code 3)". */
function crashSummary(id: number, slot: SlotRecord, now: number): string {
  const e = slot.lastExit;
  const last = e === null ? 'unknown' : e.code !== null ? `exited with code ${e.code}` : `exited on ${e.signal ?? 'an unknown signal'}`;
  return `worker ${id} crashed ${recentCrashes(slot, now)} times in the last ${CRASH_WINDOW_MS / 1000} s (last: ${last})`;
}
