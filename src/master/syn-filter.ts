// The stop's refusal of new TCP connections: native/syn_filter.c attaches a socket filter that drops SYNs to the
// listening socket, so no connection is queued after the stop began and the queue can be emptied completely before
// the close (issue 13: nothing queued is reset). Loaded once, when a stop needs it; without the addon (no compiler at
// install time) the caller falls back to shrinking the backlog (listener.ts closeForStop) and says so.

import { addonPath, loadAddonFunction } from './native-addon.js';

/** build/syn_filter.node, built at install time by scripts/build-native.mjs. */
export const SYN_FILTER_PATH = addonPath('syn_filter');

export type RefuseNewConnections = (fd: number) => void;

/** The addon's refuse(fd), or why it cannot load. */
export function loadSynFilter(path: string = SYN_FILTER_PATH): { refuse: RefuseNewConnections } | { error: string } {
  const loaded = loadAddonFunction<RefuseNewConnections>(path, 'refuse');
  return 'error' in loaded ? loaded : { refuse: loaded.fn };
}
