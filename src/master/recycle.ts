// Recycling, as pure decisions: which serving worker has reached a limit (--max-requests + jitter, --max-memory,
// --max-lifetime), which of those to replace now (at most --recycle-surge slots at once), which one to kill at once
// (twice --max-memory), and each worker's request limit drawn at spawn. pool.ts calls these from decide(): a
// worker marked for recycling no longer counts for its slot, so the slot gets a replacement, and the marked worker
// drains only once that replacement is ready (the same rule as a rolling reload): capacity never drops below the
// target. No syscalls, no timers, no logging.

import type { RecyclePolicy } from '../config/config.js';

import type { RecycleLimit } from '../stats-contract.js';

export type { RecycleLimit };

/** What recycling reads of a worker (structurally a pool.ts PoolWorker). */
export interface RecycleCandidate {
  readonly id: number;
  readonly pid: number;
  readonly startedAt: number;
  /** Requests it has served (its last report, or its `limit-reached` message). */
  readonly requests: number;
  /** Its own max-requests with the jitter drawn at spawn; null: no limit. */
  readonly requestLimit: number | null;
  /** Resident set size in bytes at the master's last sample; null: not sampled yet. */
  readonly memory: number | null;
}

/** While any worker is over --max-memory, the master samples this often instead of --stats-interval. */
export const OVER_LIMIT_SAMPLE_MS = 250;

/** The limit a worker has reached, or null; memory first (it is the one that can hurt the machine). */
export function reachedLimit(w: RecycleCandidate, policy: RecyclePolicy, now: number): RecycleLimit | null {
  if (policy.maxMemoryBytes > 0 && w.memory !== null && w.memory > policy.maxMemoryBytes) return 'max-memory';
  if (w.requestLimit !== null && w.requests >= w.requestLimit) return 'max-requests';
  if (policy.maxLifetimeMs > 0 && now >= w.startedAt + policy.maxLifetimeMs) return 'max-lifetime';
  return null;
}

/** Twice --max-memory: too big to wait for a replacement (uWSGI's evil-reload-on-rss); killed at that sample. */
export function overKillLine(w: Pick<RecycleCandidate, 'memory'>, policy: RecyclePolicy): boolean {
  return policy.maxMemoryBytes > 0 && w.memory !== null && w.memory > 2 * policy.maxMemoryBytes;
}

/** Any worker over --max-memory: sample faster, so the one growing fast is caught before twice the limit. */
export function overMemoryLimit(memories: Iterable<number>, policy: RecyclePolicy): boolean {
  if (policy.maxMemoryBytes <= 0) return false;
  for (const m of memories) if (m > policy.maxMemoryBytes) return true;
  return false;
}

export interface RecyclePick {
  pid: number;
  limit: RecycleLimit;
}

/**
 * Which serving workers to mark now. `serving`: ready workers of slots within the target that have no other live
 * worker and are not marked yet; `recyclingSlots`: slots with a marked worker still there (its replacement not up,
 * or it is still draining). Memory first, then the oldest: when more are due than the surge allows, the rest wait
 * for a later turn. Also returns when a lifetime ends next (the caller wakes then).
 */
export function pickRecycles(
  serving: readonly RecycleCandidate[],
  recyclingSlots: number,
  policy: RecyclePolicy,
  now: number,
): { picks: RecyclePick[]; wakeAt: number | null } {
  const due: { w: RecycleCandidate; limit: RecycleLimit }[] = [];
  let wakeAt: number | null = null;
  for (const w of serving) {
    const limit = reachedLimit(w, policy, now);
    if (limit !== null) due.push({ w, limit });
    else if (policy.maxLifetimeMs > 0) {
      const at = w.startedAt + policy.maxLifetimeMs;
      if (wakeAt === null || at < wakeAt) wakeAt = at;
    }
  }
  const room = Math.max(0, policy.surge - recyclingSlots);
  due.sort((a, b) => rank(a.limit) - rank(b.limit) || a.w.startedAt - b.w.startedAt || a.w.id - b.w.id);
  return { picks: due.slice(0, room).map(({ w, limit }) => ({ pid: w.pid, limit })), wakeAt };
}

function rank(limit: RecycleLimit): number {
  return limit === 'max-memory' ? 0 : 1;
}

/** A worker's request limit: max-requests plus a whole number drawn from [0, jitter] once per worker (gunicorn's
 *  randint), so workers started together do not all reach it together. `random` in [0, 1) is injected for tests. */
export function requestLimitFor(policy: RecyclePolicy, random: () => number): number | null {
  if (policy.maxRequests <= 0) return null;
  return policy.maxRequests + Math.min(policy.maxRequestsJitter, Math.floor(random() * (policy.maxRequestsJitter + 1)));
}
