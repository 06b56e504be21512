// Pure decisions about the worker pool: desired state + the workers we have → actions (spawn, drain, kill, forget a
// retired slot, and the milestones all-ready / reload-complete / settled / stopped): the one place that decides what
// happens to a worker process or a slot (lifecycle.ts only changes the desired state), and what a worker's exit means (planned, crash
// replaced at once up to 2/s, boot failure with backoff, halt at start, failed canary). No syscalls, no timers, no logging: master.ts applies what this returns.

import { EXIT_APP_LOAD_FAILED, EXIT_LISTEN_FAILED } from '../worker/exit-codes.js';
import type { KillCause, WorkerState } from './worker-handle.js';
import type { ExitReason } from '../stats-contract.js';
import type { RecyclePolicy } from '../config/config.js';
import { overKillLine, pickRecycles, type RecycleCandidate, type RecycleLimit } from './recycle.js';

export type Phase = 'starting' | 'running' | 'stopping';

export interface PoolWorker {
  readonly id: number;
  readonly pid: number;
  readonly generation: number;
  readonly state: WorkerState;
  readonly since: number;
  readonly killedFor: KillCause | null;
  /** Its watchdog reported the event loop blocked past --worker-timeout (absent: never). */
  readonly blockedSince?: number | null;
  // What recycling reads (recycle.ts); absent in tests that do not recycle.
  readonly startedAt?: number;
  readonly requests?: number;
  readonly requestLimit?: number | null;
  readonly memory?: number | null;
  /** Marked for recycling: it serves on until its slot's replacement is ready, then drains ('recycled'). */
  readonly recycling?: RecycleLimit | null;
}

export interface ReloadProgress {
  /** The generation being rolled out. */
  readonly generation: number;
  /** The first worker of that generation (the canary) became ready: the new code loads. */
  readonly canaryPassed: boolean;
}

export interface PoolView {
  readonly now: number;
  readonly phase: Phase;
  readonly target: number;
  /** The generation that serves (and that respawns use) when no reload runs. */
  readonly generation: number;
  readonly reload: ReloadProgress | null;
  readonly reloadSurge: number;
  /** Every worker not yet exited. */
  readonly workers: readonly PoolWorker[];
  /** Slots that have had a worker, with the time a crashed slot may respawn. */
  readonly slots: ReadonlyMap<number, PoolSlot>;
  readonly bootTimeoutMs: number;
  readonly gracefulTimeoutMs: number;
  /** A second stop request came: kill what is left instead of waiting for in-flight requests. */
  readonly forceStop: boolean;
  /** --max-requests/-memory/-lifetime and --recycle-surge (absent or all 0: no recycling). */
  readonly recycle?: RecyclePolicy;
  /** A stop of a socket we bound: its listen queue is being emptied before the workers drain (absent: drain at once). */
  readonly emptying?: Emptying | null;
}

/**
 * The first stage of a stop (issue 13): the workers stay ready and keep accepting until a reading of the kernel's
 * accept queue says 0 (`empty`), or `until` (the stop + --graceful-timeout) passes; then the master closes its fd
 * (`closed`) and the workers drain. Closing the socket with connections still queued resets them (nginx: 502 POSTs).
 */
export interface Emptying {
  readonly until: number;
  readonly empty: boolean;
  readonly closed: boolean;
}

export interface PoolSlot {
  readonly backoffUntil: number | null;
  /** When the slot's last workers were spawned, oldest first (at most RESPAWNS_PER_WINDOW kept). */
  readonly spawnedAt?: readonly number[];
  /** How its last worker ended: a slot whose app cannot load is never hurried (see decide). */
  readonly lastExit?: { readonly code: number | null } | null;
}

/** A worker that became ready is replaced at once, but a slot spawns at most this many workers … */
export const RESPAWNS_PER_WINDOW = 2;
/** … per this window (2 per second): a request that kills every worker it reaches cannot make the master spin. */
export const RESPAWN_WINDOW_MS = 1000;

/** The earliest time the slot may spawn again under the rate limit (the window after its older kept spawn). */
export function respawnAllowedAt(spawnedAt: readonly number[] | undefined): number {
  if (!spawnedAt || spawnedAt.length < RESPAWNS_PER_WINDOW) return -Infinity;
  return spawnedAt[spawnedAt.length - RESPAWNS_PER_WINDOW]! + RESPAWN_WINDOW_MS;
}

export type PoolAction =
  | { type: 'spawn'; id: number; generation: number }
  /** graceMs: what is left of a stop's graceful timeout after its emptying (absent: the worker's own, in full). */
  | { type: 'drain'; pid: number; reason: ExitReason; graceMs?: number }
  | { type: 'kill'; pid: number; cause: KillCause }
  /** Mark a serving worker for recycling: its slot gets a replacement, and it drains once that one is ready. */
  | { type: 'recycle'; pid: number; limit: RecycleLimit }
  /** A slot above the target with no process left: drop its record (stats must not list it). */
  | { type: 'forget'; id: number }
  /** The stop's emptying ends: close the master's fd of the listening socket, then the drains that follow. */
  | { type: 'close-listener'; reason: 'empty' | 'timeout' | 'no-worker' }
  | { type: 'all-ready' }
  | { type: 'reload-complete' }
  | { type: 'settled' }
  | { type: 'stopped' };

export interface Decision {
  actions: PoolAction[];
  /** When to decide again even if nothing happens (a deadline or a backoff ends), or null. */
  wakeAt: number | null;
}

/** The worker closes what is left itself at gracefulTimeoutMs; SIGKILL only if it has not exited this much later. */
export const DRAIN_KILL_GRACE_MS = 2000;

export function decide(v: PoolView): Decision {
  const actions: PoolAction[] = [];
  let wakeAt: number | null = null;
  const wake = (t: number) => {
    if (wakeAt === null || t < wakeAt) wakeAt = t;
  };

  // Deadlines: boot timeout until ready, then the drain deadline (Puma `term`, gunicorn `murder_workers`).
  const killed = new Set<number>();
  for (const w of v.workers) {
    if (w.killedFor !== null) continue;
    // The worker's own watchdog thread measured the block (the master's view of a blocked worker is only silence).
    if (w.blockedSince != null && (w.state === 'ready' || w.state === 'draining')) {
      actions.push({ type: 'kill', pid: w.pid, cause: 'worker-timeout' });
      killed.add(w.pid);
      continue;
    }
    // Twice --max-memory: no waiting for a replacement (the OOM killer would not wait either).
    if (v.recycle && overKillLine({ memory: w.memory ?? null }, v.recycle) && (w.state === 'ready' || w.state === 'draining')) {
      actions.push({ type: 'kill', pid: w.pid, cause: 'max-memory' });
      killed.add(w.pid);
      continue;
    }
    const deadline =
      w.state === 'starting' ? w.since + v.bootTimeoutMs : w.state === 'draining' ? w.since + v.gracefulTimeoutMs + DRAIN_KILL_GRACE_MS : null;
    if (deadline === null) continue;
    if (v.now >= deadline) {
      actions.push({ type: 'kill', pid: w.pid, cause: w.state === 'starting' ? 'boot-timeout' : 'drain-timeout' });
      killed.add(w.pid);
    } else wake(deadline);
  }

  // A worker being killed still holds its slot until its exit is reaped (no second worker in the slot meanwhile).
  const live = v.workers.filter((w) => w.state === 'starting' || w.state === 'ready');
  const dying = (w: PoolWorker) => w.killedFor !== null || killed.has(w.pid);

  if (v.phase === 'stopping') {
    if (v.forceStop) {
      // Marked draining first, so the exit reads as the planned stop it is, then SIGKILL (Puma's second TERM).
      for (const w of v.workers) {
        if (dying(w)) continue;
        if (w.state !== 'draining') actions.push({ type: 'drain', pid: w.pid, reason: 'stopped' });
        actions.push({ type: 'kill', pid: w.pid, cause: 'stop-now' });
      }
    } else {
      const e = v.emptying;
      if (e && !e.closed) {
        // Nobody left to accept (a stop during boot, or every worker died): waiting would only delay the resets.
        const serving = live.some((w) => w.state === 'ready' && !dying(w));
        if (e.empty || !serving || v.now >= e.until) {
          actions.push({ type: 'close-listener', reason: e.empty ? 'empty' : !serving ? 'no-worker' : 'timeout' });
        } else {
          wake(e.until); // the workers keep accepting; master.ts reads the queue and decides again on each reading
          return { actions, wakeAt };
        }
      }
      // One graceful timeout for the whole stop: the emptying's time (in which requests in flight went on) counts.
      const graceMs = e ? Math.max(0, e.until - v.now) : undefined;
      for (const w of live) if (!dying(w)) actions.push({ type: 'drain', pid: w.pid, reason: 'stopped', ...(graceMs === undefined ? {} : { graceMs }) });
    }
    if (v.workers.length === 0) actions.push({ type: 'stopped' });
    return { actions, wakeAt };
  }

  // A retired slot (scaled away) keeps its record only while a process of it is still exiting.
  for (const id of v.slots.keys()) if (id > v.target && !v.workers.some((w) => w.id === id)) actions.push({ type: 'forget', id });

  // A failed reload leaves new workers still loading: they are not wanted any more (those already serving stay).
  if (!v.reload) {
    for (const w of live) if (w.state === 'starting' && w.generation > v.generation && !dying(w)) actions.push({ type: 'drain', pid: w.pid, reason: 'reload' });
  }

  // Scale down one worker at a time: the highest slot first, the next once it has gone.
  const excess = live.filter((w) => w.id > v.target && !dying(w));
  if (excess.length > 0 && !v.workers.some((w) => w.id > v.target && w.state === 'draining')) {
    const victim = excess.reduce((a, b) => (b.id > a.id ? b : a));
    actions.push({ type: 'drain', pid: victim.pid, reason: 'stopped' });
  }

  // Recycling: a marked worker no longer counts for its slot (so the slot gets a replacement below) and drains once
  // that replacement is ready. Never while starting, reloading (the reload replaces every worker anyway) or stopping.
  const marked = new Set<number>();
  for (const w of v.workers) if (w.recycling != null && !dying(w)) marked.add(w.pid);
  if (v.phase === 'running' && !v.reload && v.recycle) {
    const recyclingSlots = new Set(v.workers.filter((w) => marked.has(w.pid)).map((w) => w.id)).size;
    const serving = live.filter(
      (w) => w.state === 'ready' && w.id <= v.target && !dying(w) && !marked.has(w.pid) && !live.some((o) => o !== w && o.id === w.id),
    );
    const { picks, wakeAt: lifetimeEnds } = pickRecycles(serving.map(recycleCandidate), recyclingSlots, v.recycle, v.now);
    for (const p of picks) {
      actions.push({ type: 'recycle', pid: p.pid, limit: p.limit });
      marked.add(p.pid);
    }
    if (lifetimeEnds !== null) wake(lifetimeEnds);
  }

  const generation = v.reload ? v.reload.generation : v.generation;
  const needs: number[] = [];
  let allReady = true;
  for (let id = 1; id <= v.target; id++) {
    const inSlot = live.filter((w) => w.id === id);
    const current = v.reload ? inSlot.filter((w) => w.generation === generation) : inSlot.filter((w) => !marked.has(w.pid));
    if (current.length === 0) needs.push(id);
    const ready = current.some((w) => w.state === 'ready');
    if (!ready) allReady = false;
    // Rolling reload: the slot's old worker drains only once its replacement is ready.
    if (v.reload && ready) {
      for (const old of inSlot) if (old.generation !== generation) actions.push({ type: 'drain', pid: old.pid, reason: 'reload' });
    }
    // Recycling: likewise, the marked worker drains once its replacement is ready.
    if (!v.reload && ready) {
      for (const old of inSlot) if (marked.has(old.pid)) actions.push({ type: 'drain', pid: old.pid, reason: 'recycled' });
    }
  }

  let startingNew = live.filter((w) => w.state === 'starting' && w.generation === generation).length;
  let startingAny = live.filter((w) => w.state === 'starting').length;
  // Never every slot waiting in backoff with no worker up: connections queue in the kernel meanwhile (issue 13: a
  // storm of crashing requests left both slots at a 10 s backoff, and every respawn took one and died). The slot whose
  // backoff ends first spawns now, still within the rate limit; not a slot whose app cannot load or bind (it would
  // only fail again). Code 3 is also what an app's own process.exit(3) gives; that worker was ready, so its slot waits
  // only for the rate limit, which this rule keeps anyway.
  let hurry: number | null = null;
  if (v.phase === 'running' && !v.reload && live.length === 0 && needs.length > 0) {
    const waiting = needs.map((id) => ({ id, slot: v.slots.get(id) }));
    if (waiting.every(({ slot }) => slot?.backoffUntil != null && slot.backoffUntil > v.now)) {
      const hopeful = waiting.filter(({ slot }) => slot?.lastExit?.code !== EXIT_APP_LOAD_FAILED && slot?.lastExit?.code !== EXIT_LISTEN_FAILED);
      if (hopeful.length > 0) {
        const first = hopeful.reduce((a, b) => (b.slot!.backoffUntil! < a.slot!.backoffUntil! ? b : a));
        const allowed = respawnAllowedAt(first.slot!.spawnedAt);
        if (allowed <= v.now) hurry = first.id;
        else wake(allowed);
      }
    }
  }
  for (const id of needs) {
    const slot = v.slots.get(id);
    if (slot?.backoffUntil != null && slot.backoffUntil > v.now && id !== hurry) {
      wake(slot.backoffUntil);
      continue;
    }
    if (v.reload) {
      // The first new worker is a canary: nothing else of its generation starts until it is ready.
      const limit = v.reload.canaryPassed ? Math.max(1, v.reloadSurge) : 1;
      if (startingNew >= limit) break;
    } else if (v.phase === 'running' && slot === undefined && startingAny > 0) {
      break; // scale up one new slot at a time; respawns of known slots never wait
    }
    startingNew++;
    startingAny++;
    actions.push({ type: 'spawn', id, generation });
  }

  if (allReady) {
    if (v.phase === 'starting') actions.push({ type: 'all-ready' });
    else if (v.reload) {
      if (!v.workers.some((w) => w.generation !== generation)) actions.push({ type: 'reload-complete' });
    } else if (!v.workers.some((w) => w.id > v.target)) actions.push({ type: 'settled' });
  }
  return { actions, wakeAt };
}

function recycleCandidate(w: PoolWorker): RecycleCandidate {
  return {
    id: w.id,
    pid: w.pid,
    startedAt: w.startedAt ?? w.since,
    requests: w.requests ?? 0,
    requestLimit: w.requestLimit ?? null,
    memory: w.memory ?? null,
  };
}

export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
}

export interface ExitInput {
  now: number;
  phase: Phase;
  target: number;
  reload: ReloadProgress | null;
  worker: {
    id: number;
    generation: number;
    /** The state it was in when it exited: 'starting' (never ready) is a boot failure, 'ready' a crash in service. */
    state: WorkerState;
    startedAt: number;
    drainReason: ExitReason | null;
    killedFor: KillCause | null;
  };
  code: number | null;
  signal: string | null;
  /** Consecutive boot failures of the slot before this one. */
  failures: number;
  /** When the slot's last workers were spawned (SlotRecord.spawnedAt), for the respawn rate limit. */
  spawnedAt: readonly number[];
  backoff: BackoffPolicy;
}

export type FailureCause = 'load-failed' | 'listen-failed' | 'boot-timeout' | 'crashed';

export type ExitDecision =
  | { kind: 'planned'; reason: ExitReason }
  /** The initial start cannot succeed: stop the master with the app's error, no crash loop. */
  | { kind: 'halt'; cause: FailureCause }
  /** The reload's canary did not come up (or a later new worker failed to load): abort; old workers keep serving. */
  | { kind: 'canary-failed'; cause: FailureCause }
  /** failures: consecutive boot failures (0 after a worker that was ready); delayMs: wait before the respawn. */
  | { kind: 'crash'; respawn: boolean; failures: number; delayMs: number };

export function classifyExit(e: ExitInput): ExitDecision {
  const w = e.worker;
  if (w.state === 'draining') return { kind: 'planned', reason: w.drainReason ?? 'stopped' };
  // Killed at twice --max-memory: a recycle that could not wait for its replacement, not a crash.
  if (w.killedFor === 'max-memory') return { kind: 'planned', reason: 'recycled' };
  if (e.phase === 'stopping') return { kind: 'planned', reason: 'stopped' };
  const cause: FailureCause =
    w.killedFor === 'boot-timeout'
      ? 'boot-timeout'
      : e.code === EXIT_APP_LOAD_FAILED
        ? 'load-failed'
        : e.code === EXIT_LISTEN_FAILED
          ? 'listen-failed'
          : 'crashed';
  if (w.state === 'starting' && e.phase === 'starting') return { kind: 'halt', cause };
  if (w.state === 'starting' && e.reload && w.generation === e.reload.generation) {
    if (!e.reload.canaryPassed) return { kind: 'canary-failed', cause };
    // The code changed again on disk mid-reload: retrying would loop and the reload would never end.
    if (cause === 'load-failed') return { kind: 'canary-failed', cause };
  }
  // A worker that was ready loaded and served: what killed it was a request (or a kill -9), not its code. Replace it
  // at once, at most RESPAWNS_PER_WINDOW per RESPAWN_WINDOW_MS. One that never became ready is a boot failure: back off.
  const failures = w.state === 'ready' ? 0 : e.failures + 1;
  const limitMs = Math.max(0, respawnAllowedAt(e.spawnedAt) - e.now);
  const delayMs = Math.max(limitMs, backoffDelay(failures, e.backoff));
  return { kind: 'crash', respawn: w.id <= e.target, failures, delayMs };
}

/** Boot failures: the first respawns at once, a loop waits min, 2·min, 4·min … up to max. */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  if (failures <= 1) return 0;
  return Math.min(policy.maxMs, policy.minMs * 2 ** (failures - 2));
}
