// The stop's refusal of new TCP connections: native/syn_filter.c attaches a socket filter that drops SYNs to the
// listening socket, so no connection is queued after the stop began and the queue can be emptied completely before
// the close (issue 13: nothing queued is reset). Loaded once, when a stop needs it; without the addon (no compiler at
// install time) the caller falls back to shrinking the backlog (listener.ts closeForStop) and says so.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** build/syn_filter.node, built at install time by scripts/build-native.mjs (dist/src/master → the package root). */
export const SYN_FILTER_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'build', 'syn_filter.node');

export type RefuseNewConnections = (fd: number) => void;

/** The addon's refuse(fd), or why it cannot load. */
export function loadSynFilter(path: string = SYN_FILTER_PATH): { refuse: RefuseNewConnections } | { error: string } {
  try {
    const addon = createRequire(import.meta.url)(path) as { refuse?: unknown };
    if (typeof addon.refuse !== 'function') return { error: `${path} has no refuse()` };
    return { refuse: addon.refuse as RefuseNewConnections };
  } catch (err) {
    return { error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}
