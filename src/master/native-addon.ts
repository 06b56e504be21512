// Loading one of the small N-API addons built at install time (scripts/build-native.mjs → build/<name>.node): its
// path from dist/src/master, and the one function a caller wants from it, or why it cannot load (not built: no C
// compiler at install time; or a foreign build). Callers fall back and say so; nothing here logs.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** build/<name>.node at the package root (dist/src/master → ../../..). */
export function addonPath(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'build', `${name}.node`);
}

/** The addon's function `fn`, or the reason it cannot be had. */
export function loadAddonFunction<F>(path: string, fn: string): { fn: F } | { error: string } {
  try {
    const addon = createRequire(import.meta.url)(path) as Record<string, unknown>;
    if (typeof addon[fn] !== 'function') return { error: `${path} has no ${fn}()` };
    return { fn: addon[fn] as F };
  } catch (err) {
    return { error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}
