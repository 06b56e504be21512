// The master's roster: live WorkerHandles by pid, what it remembers per slot (restarts, backoff, last exit), and
// the operations on one worker process (spawn, drain, kill, record its messages). Not the decisions (pool.ts) and
// not the lifecycle phases (master.ts): it does what it is told and reports process events through `notify`.

import type { Config } from '../config/config.js';
import type { WorkerToMaster } from '../worker/messages.js';
import type { Clock } from './clock.js';
import type { SpawnWorker } from './spawn-worker.js';
import type { ExitReason } from '../stats-contract.js';
import { WorkerHandle, type KillCause, type LastExit } from './worker-handle.js';
import type { CrashHistory } from './crash-log.js';
import { RESPAWNS_PER_WINDOW } from './pool.js';
import { requestLimitFor, type RecycleLimit } from './recycle.js';

/** What the master remembers per slot across its workers. */
export interface SlotRecord extends CrashHistory {
  restarts: number;
  /** Planned replacements by a recycling limit (not in restarts, which counts unplanned exits). */
  recycles: number;
  /** Consecutive boot failures: exits before ready (drives the backoff; a worker that was ready resets it). */
  failures: number;
  backoffUntil: number | null;
  /** When its last RESPAWNS_PER_WINDOW workers were spawned, oldest first (the respawn rate limit, pool.ts). */
  spawnedAt: number[];
  lastExit: LastExit | null;
  generation: number;
}

export interface TableLog {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(obj: object | string, msg?: string): void;
}

export type ProcessEvent =
  | { type: 'worker-message'; pid: number; message: WorkerToMaster }
  | { type: 'worker-exit'; pid: number; code: number | null; signal: NodeJS.Signals | null };

export interface WorkerTableOptions {
  config: Config;
  listenFd: number;
  spawnWorker: SpawnWorker;
  clock: Clock;
  log: TableLog;
  notify(event: ProcessEvent): void;
  /** The listening socket's handle, sent to a worker that asks for a copy (max-connections); null: none to send. */
  listenHandle?(): object | null;
  /** [0, 1): draws each worker's max-requests jitter (default Math.random; tests pass their own). */
  random?: () => number;
}

export class WorkerTable {
  readonly workers = new Map<number, WorkerHandle>();
  readonly slots = new Map<number, SlotRecord>();

  constructor(private readonly o: WorkerTableOptions) {}

  /** A reload with a re-read config file: later spawns use it. */
  useConfig(config: Config): void {
    this.o.config = config;
  }

  get(pid: number): WorkerHandle | undefined {
    return this.workers.get(pid);
  }

  /** Takes an exited worker off the roster. */
  remove(pid: number): WorkerHandle | undefined {
    const h = this.workers.get(pid);
    this.workers.delete(pid);
    return h;
  }

  slotOf(id: number, generation: number): SlotRecord {
    let slot = this.slots.get(id);
    if (!slot) {
      slot = { restarts: 0, recycles: 0, failures: 0, backoffUntil: null, spawnedAt: [], lastExit: null, generation, crashedAt: [], crashLoggedAt: null, crashesUnlogged: 0 };
      this.slots.set(id, slot);
    }
    return slot;
  }

  /** A slot retired by scale-down is forgotten once nothing runs in it. */
  /** Drops a retired slot's record (pool.ts decides when: above the target, no process left). */
  forget(id: number): void {
    this.slots.delete(id);
  }

  /** Live means not draining: what serves (or will) in the current pool. */
  countLive(): number {
    return [...this.workers.values()].filter((h) => h.state === 'starting' || h.state === 'ready').length;
  }

  spawn(id: number, generation: number): void {
    const { config, clock, log } = this.o;
    const slot = this.slotOf(id, generation);
    slot.backoffUntil = null;
    slot.generation = generation;
    const requestLimit = requestLimitFor(config.recycle, this.o.random ?? Math.random);
    let child;
    try {
      child = this.o.spawnWorker(
        {
          app: config.app,
          workerId: id,
          generation,
          limits: config.limits,
          timeouts: config.timeouts,
          gracefulTimeoutMs: config.gracefulTimeoutMs,
          statsIntervalMs: config.statsIntervalMs,
          logLevel: config.logLevel,
          logFormat: config.logFormat,
          backlog: config.backlog,
          maxConnections: config.maxConnections,
          workerTimeoutMs: config.workerTimeoutMs,
          ...(requestLimit === null ? {} : { maxRequests: requestLimit }),
        },
        this.o.listenFd,
      );
    } catch (err) {
      // EAGAIN/ENOMEM from fork: back the slot off like a crash, never spin.
      slot.failures++;
      slot.backoffUntil = clock.now() + Math.max(config.restartBackoffMinMs, 100) * 2 ** Math.min(slot.failures, 6);
      log.error({ err }, `worker ${id}: could not start a process; retrying`);
      return;
    }
    slot.spawnedAt = [...slot.spawnedAt, clock.now()].slice(-RESPAWNS_PER_WINDOW);
    const h = new WorkerHandle({ id, generation, process: child, now: clock.now(), restarts: slot.restarts });
    h.requestLimit = requestLimit;
    this.workers.set(h.pid, h);
    child.onMessage((message) => this.o.notify({ type: 'worker-message', pid: h.pid, message }));
    child.onExit((code, signal) => this.o.notify({ type: 'worker-exit', pid: h.pid, code, signal }));
    log.debug(`${h.label} started (generation ${generation})`);
  }

  /** graceMs: a shorter graceful timeout for this drain (what is left of a stop's); absent: the worker's own. */
  drain(pid: number, reason: ExitReason, graceMs?: number): void {
    const h = this.workers.get(pid);
    if (!h || h.state === 'draining' || h.state === 'exited') return;
    const wasReady = h.state === 'ready';
    h.transition('draining', this.o.clock.now());
    h.drainReason = reason;
    // A worker still loading its app cannot drain anything: SIGTERM it (the default action ends it).
    if (!wasReady || !h.process.send(graceMs === undefined ? { type: 'drain' } : { type: 'drain', graceMs })) h.process.kill('SIGTERM');
  }

  /** pool.ts picked it for recycling: it serves on; its slot gets a replacement, then it drains. */
  markRecycle(pid: number, limit: RecycleLimit): void {
    const h = this.workers.get(pid);
    if (!h || h.recycling !== null) return;
    h.recycling = limit;
    const { recycle } = this.o.config;
    const why =
      limit === 'max-requests'
        ? `${h.requests} requests, limit ${h.requestLimit ?? recycle.maxRequests}`
        : limit === 'max-memory'
          ? `${mib(h.memory ?? 0)} MiB resident, limit ${mib(recycle.maxMemoryBytes)} MiB`
          : `up ${Math.round((this.o.clock.now() - h.startedAt) / 1000)}s, limit ${recycle.maxLifetimeMs / 1000}s`;
    this.o.log.info(`${h.label} reached ${limit} (${why}); recycling: its replacement starts, then it drains`);
  }

  kill(pid: number, cause: KillCause): void {
    const h = this.workers.get(pid);
    if (!h) return;
    h.killedFor = cause;
    const waited = Math.round((this.o.clock.now() - h.since) / 100) / 10;
    if (cause === 'boot-timeout') this.o.log.warn(`${h.label} not ready after ${waited}s (boot timeout), killing`);
    else if (cause === 'drain-timeout') this.o.log.warn(`${h.label} still draining after ${waited}s (graceful timeout), killing`);
    else if (cause === 'max-memory') {
      const limit = this.o.config.recycle.maxMemoryBytes;
      this.o.log.warn(`${h.label} uses ${mib(h.memory ?? 0)} MiB resident, over twice max-memory (${mib(limit)} MiB): killing it now (in-flight requests: ${h.inflight})`);
    }
    h.process.kill('SIGKILL');
  }

  /** Records a worker's message; returns the handle that just became ready, if one did. */
  record(pid: number, message: WorkerToMaster): WorkerHandle | null {
    const h = this.workers.get(pid);
    if (!h) {
      this.o.log.warn(`message ${message.type} from unknown pid ${pid}; ignored`); // Puma: "Out-of-sync worker list"
      return null;
    }
    h.lastBeat = this.o.clock.now();
    switch (message.type) {
      case 'ready':
        if (h.state !== 'starting') return null; // told to drain while loading: it is on its way out
        h.transition('ready', this.o.clock.now());
        this.o.log.info(`${h.label} ready`); // stable line (RULES.md); test/integration waits for it
        return h;
      case 'load-failed':
        h.loadError = message.error;
        return null;
      case 'stats':
        h.requests = message.requests;
        h.inflight = message.inflight;
        h.timeouts = message.timeouts ?? 0; // a worker of an older build does not send it
        if (message.counts) h.counts = message.counts;
        return null;
      case 'limit-reached':
        h.requests = Math.max(h.requests, message.requests);
        return null;
      case 'listener-wanted': {
        // max-connections: the worker closed its listening descriptor at its cap and wants a fresh one. Never to a
        // draining worker (it would accept again); the worker itself also closes a copy that arrives late.
        const handle = this.o.listenHandle?.() ?? null;
        if (h.state === 'ready' && handle !== null) h.process.send({ type: 'listener' }, handle);
        else if (handle === null) this.o.log.warn(`${h.label} asked for a copy of the listening socket; none to send`);
        return null;
      }
      case 'draining':
        h.inflight = message.inflight;
        return null;
      case 'blocked': {
        if (h.blockedSince !== null) return null;
        h.blockedSince = this.o.clock.now();
        const serving = message.requests.map((r) => `method=${r.method} uri=${r.uri} age=${r.ageS}s`).join(', ') || 'no request';
        // Stable line (test/integration/worker-timeout.test.ts greps the pid and the uri): pool.ts kills it next.
        this.o.log.warn(
          `${h.label} event loop blocked for ${Math.round(message.blockedMs / 100) / 10}s (worker timeout), killing; serving: ${serving}`);
        return null;
      }
      default: {
        const never: never = message;
        this.o.log.warn(`unknown message ${JSON.stringify(never)} from ${h.label}; ignored`);
        return null;
      }
    }
  }
}

function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}
