// The master's lifecycle: its phase (idle → starting → running → stopping → stopped), the target size, the serving
// generation, the reload in progress, and the commands that change them (reload, stop, scale, halt) with the
// replies they owe. Not the loop that calls them (master.ts), the decisions (pool.ts) or the roster (worker-table.ts).

import { ControlError, SupervisorError } from '../errors.js';
import type { Config } from '../config/config.js';
import type { Clock } from './clock.js';
import { Deferred } from './deferred.js';
import { stoppingError } from './failures.js';
import type { Phase } from './pool.js';
import { MAX_WORKERS } from '../stats-contract.js';
import { seconds } from './stats.js';
import type { ReloadResult, ScaleResult } from '../stats-contract.js';
import type { WorkerHandle } from './worker-handle.js';
import type { TableLog, WorkerTable } from './worker-table.js';

export type LifecyclePhase = Phase | 'idle' | 'stopped';

export interface Reload {
  generation: number;
  canaryPassed: boolean;
  startedAt: number;
  reply: Deferred<ReloadResult> | undefined;
}

export interface LifecycleOptions {
  config: Config;
  table: WorkerTable;
  log: TableLog;
  clock: Clock;
  listener: { readonly address: string; close(): void };
}


export class Lifecycle {
  phase: LifecyclePhase = 'idle';
  target: number;
  /** The generation that serves, and that respawns carry, when no reload runs. */
  generation = 1;
  reloading: Reload | null = null;
  haltError: SupervisorError | null = null;
  /** A second stop request came: pool.ts kills every worker left instead of waiting (read by master.ts). */
  forceStop = false;
  /** start(): settled when every initial worker is ready, or the start failed. */
  readonly ready = new Deferred<void>();
  /** done: the exit code, once every worker has exited and the listener is closed. */
  readonly finished = new Deferred<number>();
  private lastGeneration = 1;
  private pendingScales: { from: number; reply: Deferred<ScaleResult> }[] = [];

  constructor(private readonly o: LifecycleOptions) {
    this.target = o.config.workers;
    this.ready.promise.catch(() => undefined); // observed through start(); never an unhandled rejection
  }

  allReady(): void {
    this.phase = 'running';
    this.o.log.info(`ready: ${this.target} workers on ${this.o.listener.address}`); // stable line: tests wait for it
    this.ready.resolve();
  }

  useConfig(config: Config): void {
    this.o.config = config;
  }

  /** False when the reload was refused (the reply is rejected). */
  beginReload(reply: Deferred<ReloadResult> | undefined): boolean {
    const refuse = (err: SupervisorError) => {
      this.o.log.warn(`reload refused: ${err.message}`);
      reply?.reject(err);
      return false;
    };
    if (this.phase === 'stopping' || this.phase === 'stopped') return refuse(stoppingError());
    if (this.phase === 'starting') {
      return refuse(new ControlError('ERR_RELOAD_IN_PROGRESS', 'the supervisor is still starting its workers', { hint: 'wait for the ready line, then reload' }));
    }
    if (this.reloading) {
      const ago = seconds(this.o.clock.now() - this.reloading.startedAt);
      return refuse(
        new ControlError('ERR_RELOAD_IN_PROGRESS', `a reload to generation ${this.reloading.generation} is already running (started ${ago}s ago)`, {
          hint: 'wait for it to finish; reloads are never interleaved',
        }),
      );
    }
    const generation = ++this.lastGeneration;
    this.reloading = { generation, canaryPassed: false, startedAt: this.o.clock.now(), reply };
    // New code may fix a crash loop: slots waiting to respawn get their new-generation worker at once.
    for (const slot of this.o.table.slots.values()) {
      slot.backoffUntil = null;
      slot.failures = 0;
    }
    this.o.log.info(`reload: starting generation ${generation} (${this.target} workers, surge ${this.o.config.reloadSurge})`);
    return true;
  }

  /** A worker became ready: the first of the new generation is the canary. */
  workerReady(h: WorkerHandle): void {
    if (this.reloading && h.generation === this.reloading.generation && !this.reloading.canaryPassed) {
      this.reloading.canaryPassed = true;
      this.o.log.info(`reload: canary ${h.label} of generation ${h.generation} is ready; replacing the rest`);
    }
  }

  completeReload(): void {
    const r = this.reloading;
    if (!r) return;
    this.reloading = null;
    this.generation = r.generation;
    const durationMs = Math.round(this.o.clock.now() - r.startedAt);
    this.o.log.info(`reload: generation ${r.generation} serving with ${this.target} workers (${durationMs}ms)`);
    r.reply?.resolve({ generation: r.generation, durationMs, workers: this.target });
  }

  failReload(err: SupervisorError): void {
    const r = this.reloading;
    if (!r) return;
    this.reloading = null;
    // pool.ts drains the new workers still loading (a starting worker newer than the serving generation, with no
    // reload running). Before the canary passed that is all of them; after it, the new workers already serving
    // stay (their old ones are gone) and the remaining slots keep the old generation.
    const serving = [...this.o.table.workers.values()].filter((h) => h.generation === r.generation && h.state === 'ready').length;
    const what = r.canaryPassed ? `generation ${r.generation} failed to load after ${serving} of its workers started` : `generation ${r.generation} did not start`;
    const failed = new ControlError('ERR_RELOAD_FAILED', `${what}: ${err.message}`, {
      hint: `${serving > 0 ? `${serving} workers run generation ${r.generation}, the others ` : ''}generation ${this.generation} keeps serving; fix the app, then reload again`,
      cause: err,
    });
    this.o.log.error(`reload failed: ${failed.message}; generation ${this.generation} keeps serving`);
    r.reply?.reject(failed);
  }

  beginStop(reply: Deferred<void> | undefined): void {
    if (this.phase === 'stopped' || this.phase === 'idle') {
      reply?.resolve();
      return;
    }
    if (this.phase === 'stopping') {
      // A second TERM/INT (or stop): do not wait for in-flight requests any more.
      this.forceStop = true; // pool.ts kills what is left on the next turn
      const left = [...this.o.table.workers.values()].filter((h) => h.killedFor === null).length;
      this.o.log.warn(`second stop request: killing ${left} workers now`);
      reply?.resolve();
      return;
    }
    this.logStopping();
    this.enterStopping(stoppingError());
    reply?.resolve();
  }

  /** The initial start failed, or an invariant broke: stop everything, exit 1 with the error (gunicorn HaltServer). */
  halt(err: SupervisorError): void {
    if (this.haltError || this.phase === 'stopping' || this.phase === 'stopped') return;
    if (this.phase === 'running') this.logStopping();
    this.haltError = err;
    this.enterStopping(err);
  }

  setTarget(workers: number, reply: Deferred<ScaleResult> | undefined): void {
    const refuse = (err: SupervisorError) => {
      this.o.log.warn(`scale refused: ${err.message}`);
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
    if (from !== workers) this.o.log.info(`scale: ${from} → ${workers} workers`);
    if (reply) this.pendingScales.push({ from, reply });
  }

  /** The pool has the target size with every worker ready: answer the scale requests waiting for that. */
  settled(): void {
    const pending = this.pendingScales;
    this.pendingScales = [];
    for (const p of pending) p.reply.resolve({ from: p.from, to: this.target });
  }

  finish(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.o.listener.close();
    this.o.log.info('stopped'); // stable line, just before the process exits
    this.finished.resolve(this.haltError ? 1 : 0);
  }

  private logStopping(): void {
    const s = seconds(this.o.config.gracefulTimeoutMs);
    this.o.log.info(`stopping: draining ${this.o.table.countLive()} workers (graceful timeout ${s}s)`); // stable line
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
}
