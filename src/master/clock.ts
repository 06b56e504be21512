// Time as the master sees it: a monotonic `now()` in ms and one-shot timers. Injected so unit tests drive the
// master with a fake clock (test/unit/master/fakes.ts) and no real waiting. Not scheduling policy (pool.ts).

export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};
