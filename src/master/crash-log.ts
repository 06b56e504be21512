// A slot's crash history for `stats` (recentRestarts) and for a log that reports a crash loop once a minute per slot
// instead of once per crash. Pure bookkeeping on the SlotRecord (worker-table.ts); master.ts writes the lines.

/** recentRestarts counts the crashes of this window, and the log reports a loop at most once per window. */
export const CRASH_WINDOW_MS = 60_000;

export interface CrashHistory {
  /** Times of the slot's crashes in the last CRASH_WINDOW_MS, oldest first. */
  crashedAt: number[];
  /** When the log last said something about this slot's crashes, or null. */
  crashLoggedAt: number | null;
  /** Crashes since then that the log has not told. */
  crashesUnlogged: number;
}

export function recentCrashes(h: Pick<CrashHistory, 'crashedAt'>, now: number): number {
  let n = 0;
  for (const t of h.crashedAt) if (t > now - CRASH_WINDOW_MS) n++;
  return n;
}

/**
 * Records a crash; returns how to log it: 'each' (the usual per-crash line: the first crash in a window), 'summary'
 * (a loop that has been quiet in the log for a window: one line with the count) or 'quiet'.
 */
export function noteCrash(h: CrashHistory, now: number): 'each' | 'summary' | 'quiet' {
  h.crashedAt = h.crashedAt.filter((t) => t > now - CRASH_WINDOW_MS);
  h.crashedAt.push(now);
  if (h.crashLoggedAt !== null && now - h.crashLoggedAt < CRASH_WINDOW_MS) {
    h.crashesUnlogged++;
    return 'quiet';
  }
  h.crashLoggedAt = now;
  h.crashesUnlogged = 0;
  return h.crashedAt.length > 1 ? 'summary' : 'each';
}

/** When the summary of crashes kept quiet is due (a window after the last line), or null if there are none. */
export function summaryDueAt(h: CrashHistory): number | null {
  return h.crashesUnlogged > 0 && h.crashLoggedAt !== null ? h.crashLoggedAt + CRASH_WINDOW_MS : null;
}

/** Marks the summary written (call when summaryDueAt(h) <= now). */
export function summaryWritten(h: CrashHistory, now: number): void {
  h.crashLoggedAt = now;
  h.crashesUnlogged = 0;
}
