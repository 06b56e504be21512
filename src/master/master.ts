// The master: ONE event queue and one step() (drain events → reap exited → reconcile, which also enforces
// deadlines), in the shape of unicorn's `join` and Puma's `check_workers`; it applies what pool.ts decides.
// Not the decisions (pool.ts), the phases and commands (lifecycle.ts), the roster and process operations
// (worker-table.ts), the errors it reports (failures.ts) or the socket (listener.ts).
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
import { sampleUsage, seconds, withUsage, workerRows, type Usage, type UsageSampler } from './stats.js';
import type { ReloadResult, ScaleResult, StatsSnapshot } from '../stats-contract.js';
import type { RequestCounts } from '../worker/messages.js';
import type { ListenQueue, ListenQueueReader } from './listen-queue.js';
import { OVER_LIMIT_SAMPLE_MS, overMemoryLimit } from './recycle.js';
import { addCounts, emptyCounts, formatMetrics, WORKER_STATES, type MetricsInput } from './metrics-text.js';
import { QueueEmptying } from './stop-emptying.js';

export type MasterLog = TableLog;

export interface MasterOptions {
  config: Config;
  listener: Pick<Listener, 'fd' | 'address' | 'close'> & Partial<Pick<Listener, 'handle' | 'unlinkPath' | 'closeForStop'>>;
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
  private readonly sample: UsageSampler;
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

  // What metrics() serves: counters that never go down (a dead worker's last report stays in `retired`), and the
  // last periodic sample of what is slow to read.
  private readonly readListenQueue: ListenQueueReader | null;
  private sampleTimer: NodeJS.Timeout | null = null;
  private lastQueue: ListenQueue | null = null;
  private lastUsage = new Map<number, Usage>();
  private readonly retired: RequestCounts = emptyCounts();
  /** --request-timeout cuts of the workers that have exited (their last report), for `stats` master.totals. */
  private retiredTimeouts = 0;
  private retiredRequests = 0;
  /** Per slot id: CPU seconds of its processes that have exited. */
  private readonly retiredCpu = new Map<number, number>();
  private readonly restartsBy: MetricsInput['restarts'] = { crash: 0, 'worker-timeout': 0 };
  /** Each planned 'recycled' exit under the limit that caused it (metrics recycles_total{limit}, totals.recycles). */
  private readonly recyclesBy: MetricsInput['recycles'] = { 'max-requests': 0, 'max-memory': 0, 'max-lifetime': 0 };
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
    this.sample = options.sampleUsage ?? sampleUsage;
    this.version = options.version ?? '0.0.0';
    this.life = new Lifecycle({ config: options.config, table: this.table, log: options.log, clock: this.clock, listener: options.listener });
    this.startedAt = this.clock.now();
    this.observe = options.observe;
    this.readListenQueue = options.readListenQueue ?? null;
  }

  /** Spawns the initial workers; resolves when all are ready, rejects with AppLoadError/ListenError (or ERR_STOPPING). */
  start(): Promise<void> {
    if (this.life.phase === 'idle') {
      this.life.phase = 'starting';
      this.schedule(this.clock.now());
      this.sampleEvery();
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
    const workers = withUsage(workerRows(this.table.workers.values(), this.table.slots, now), this.lastUsage);
    return {
      master: {
        pid: process.pid,
        version: this.version,
        listen: this.listener.address,
        generation: this.life.generation,
        uptime: seconds(now - this.startedAt),
        workers: this.life.target,
        listenQueue: this.lastQueue,
        config: { ...this.config },
        totals: this.totals(),
      },
      workers,
    };
  }

  /** Over the master's life: live workers' last reports plus what exited workers last reported (the metrics' own counters). */
  private totals(): StatsSnapshot['master']['totals'] {
    const m = this.metricsInput();
    let timeouts = this.retiredTimeouts;
    let requests = this.retiredRequests;
    for (const h of this.table.workers.values()) {
      if (h.state === 'exited') continue;
      timeouts += h.timeouts;
      requests += h.requests;
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return { requests, timeouts, recycles: sum(Object.values(m.recycles)), restarts: sum(Object.values(m.restarts)) };
  }

  /** The Prometheus text: counters as of the workers' last reports, CPU/memory/queue from the last sample. */
  async metrics(): Promise<string> {
    return formatMetrics(this.metricsInput());
  }

  metricsInput(): MetricsInput {
    const requests = addCounts(emptyCounts(), this.retired);
    let inflight = 0;
    const live = [...this.table.workers.values()].filter((h) => h.state !== 'exited');
    for (const h of live) {
      addCounts(requests, h.counts);
      inflight += h.inflight;
    }
    const workers = Object.fromEntries(WORKER_STATES.map((s) => [s, 0])) as MetricsInput['workers'];
    for (const row of workerRows(this.table.workers.values(), this.table.slots, this.clock.now())) workers[row.state]++;
    const slotIds = new Set<number>([...this.retiredCpu.keys(), ...live.map((h) => h.id)]);
    const slots = [...slotIds].sort((a, b) => a - b).map((id) => {
      let cpuSeconds: number | null = this.retiredCpu.get(id) ?? null;
      let memoryBytes: number | null = null;
      for (const h of live) {
        if (h.id !== id) continue;
        const u = this.lastUsage.get(h.pid);
        if (!u) continue;
        cpuSeconds = (cpuSeconds ?? 0) + u.cpuSeconds;
        // Two processes in one slot during a reload: the newer one's memory (the old one is on its way out).
        memoryBytes = u.memory;
      }
      return { id, cpuSeconds, memoryBytes };
    });
    return {
      version: this.version,
      nodeVersion: process.version,
      startTimeSeconds: Math.floor(this.startedAtEpochMs / 1000),
      generation: this.life.generation,
      requests,
      inflight,
      workers,
      restarts: { ...this.restartsBy },
      recycles: { ...this.recyclesBy },
      listenQueue: this.lastQueue,
      slots,
    };
  }

  /**
   * The one sample of what is slow to read (workers' CPU/memory, the listen queue): `stats` and the metrics serve
   * its last result. Public so unit tests can take a sample without the timer.
   */
  async sampleNow(): Promise<void> {
    const read = this.readListenQueue;
    const pids = [...this.table.workers.values()].filter((h) => h.state !== 'exited').map((h) => h.pid);
    const [queue, usage] = await Promise.all([read === null ? null : read(), this.sample(pids).catch(() => new Map<number, Usage>())]);
    this.lastQueue = queue;
    this.lastUsage = usage;
    // Recycling reads memory from this sample (pool.ts): decide again now, not at the next event.
    for (const h of this.table.workers.values()) h.memory = usage.get(h.pid)?.memory ?? h.memory;
    if (this.config.recycle.maxMemoryBytes > 0) this.schedule(this.clock.now());
  }

  /**
   * The periodic sample (a timer of its own, unref'd: it must never keep the master alive nor wait on the loop).
   * A sample that takes longer than the interval delays the next one instead of piling up.
   */
  private sampleEvery(): void {
    const again = (): void => {
      if (this.life.phase === 'stopped') return;
      // Faster while a worker is over --max-memory: one growing fast is caught before twice the limit.
      const over = overMemoryLimit([...this.lastUsage.values()].map((u) => u.memory), this.config.recycle);
      const intervalMs = over ? Math.min(OVER_LIMIT_SAMPLE_MS, this.config.statsIntervalMs) : this.config.statsIntervalMs;
      this.sampleTimer = setTimeout(() => void this.sampleNow().finally(again), intervalMs);
      this.sampleTimer.unref();
    };
    void this.sampleNow().finally(again);
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
    addCounts(this.retired, h.counts);
    this.retiredTimeouts += h.timeouts;
    this.retiredRequests += h.requests;
    const cpu = this.lastUsage.get(h.pid)?.cpuSeconds;
    if (cpu !== undefined) this.retiredCpu.set(h.id, (this.retiredCpu.get(h.id) ?? 0) + cpu);
    this.lastUsage.delete(h.pid);
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
      this.recyclesBy[limit]++;
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
        this.restartsBy[slot.lastExit?.reason === 'worker-timeout' ? 'worker-timeout' : 'crash']++;
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
        if (this.sampleTimer !== null) clearTimeout(this.sampleTimer);
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
    if (this.readListenQueue === null) return;
    const onReading = () => this.schedule(this.clock.now());
    this.emptying = new QueueEmptying({ read: this.readListenQueue, clock: this.clock, log: this.log, gracefulTimeoutMs: this.config.gracefulTimeoutMs, onReading });
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
