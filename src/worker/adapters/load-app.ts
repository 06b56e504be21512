// adapters/ owns the app's world: loading it (here), node:http req/res, fetch() Request/Response, the CGI head.
// Loads the user's unchanged app module (CJS or ESM) and works out what kind of app it exports.
// Accepts: a (req, res) handler, an object with fetch(Request), a Koa app, a Fastify app, or a Promise/thenable
// of one of these (ESM top-level await works by itself). Not here: serving requests (serve.ts and the adapters).

import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppLoadError } from '../../errors.js';
import type { FetchApp } from './fetch-adapter.js';
import type { NodeHandler } from './node-http-adapter.js';

export type LoadedApp =
  | { kind: 'node'; handler: NodeHandler; description: string }
  | { kind: 'fetch'; app: FetchApp; description: string };

const EXPECTED =
  'a (req, res) handler (Express, connect, Koa app.callback()), an object with fetch(request) (Hono), a Koa or Fastify app, or a Promise of one';

/** Resolves to the app, or rejects with AppLoadError (ERR_APP_NOT_FOUND / ERR_APP_LOAD_FAILED / ERR_APP_BAD_EXPORT). */
export async function loadApp(file: string): Promise<LoadedApp> {
  const path = await resolveAppFile(file);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw loadFailed(path, err);
  }
  let value = exportedValue(namespace);
  for (let depth = 0; depth < 3; depth++) {
    const app = await classify(path, value);
    if (app !== null) return app;
    if (!isThenable(value)) break;
    // async set-up: `module.exports = createApp()` returning a Promise (Fastify's own thenable is classified above)
    try {
      value = unwrapDefault(await value);
    } catch (err) {
      throw loadFailed(path, err);
    }
  }
  const named = Object.keys(namespace).filter((k) => k !== 'default' && k !== 'module.exports');
  const found =
    value === undefined && named.length > 0 ? `no default export (named exports: ${named.slice(0, 10).join(', ')})` : describe(value);
  throw new AppLoadError('ERR_APP_BAD_EXPORT', path, `${path} exports ${found}; expected ${EXPECTED}`, {
    hint: 'export the app itself, e.g. `module.exports = app` or `export default app`',
  });
}

async function resolveAppFile(file: string): Promise<string> {
  const path = resolvePath(file);
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (err) {
    throw new AppLoadError('ERR_APP_NOT_FOUND', path, `app file ${path} does not exist`, {
      hint: 'check the path given to `start` (relative paths are taken from the current directory)',
      cause: err,
    });
  }
  if (!isDirectory) return path;
  // A package directory: the file Node itself would load (package.json "main", then index.js).
  try {
    return createRequire(pathToFileURL(`${path}/`).href).resolve(path);
  } catch (err) {
    throw new AppLoadError('ERR_APP_NOT_FOUND', path, `${path} is a directory without a package main or index.js`, {
      hint: 'pass the app file itself',
      cause: err,
    });
  }
}

function loadFailed(path: string, err: unknown): AppLoadError {
  const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new AppLoadError('ERR_APP_LOAD_FAILED', path, `${path} failed to load: ${what}`, {
    hint: 'fix the error in the app (its stack trace follows); it must load with plain `node`',
    cause: err,
  });
}

/** module.exports for CJS, the default export for ESM, or the namespace itself when it has a named `fetch`. */
function exportedValue(namespace: Record<string, unknown>): unknown {
  if ('default' in namespace && namespace.default !== undefined) return unwrapDefault(namespace.default);
  if (typeof namespace.fetch === 'function') return namespace;
  return namespace.default;
}

/** TypeScript/Babel CJS output: `exports.default = app` with `__esModule`. */
function unwrapDefault(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { __esModule?: unknown }).__esModule === true) {
    const inner = (value as { default?: unknown }).default;
    if (inner !== undefined) return inner;
  }
  return value;
}

async function classify(path: string, value: unknown): Promise<LoadedApp | null> {
  if (value === null || value === undefined) return null;
  const obj = value as Record<string, unknown>;
  // Fastify first: its instance is itself a thenable (avvio), and also has use().
  if (typeof obj.routing === 'function' && typeof obj.ready === 'function' && typeof obj.register === 'function') {
    try {
      await (obj.ready as () => Promise<unknown>).call(obj);
    } catch (err) {
      throw loadFailed(path, err);
    }
    const fastify = obj as { routing: NodeHandler };
    return { kind: 'node', handler: (req, res) => fastify.routing(req, res), description: 'a Fastify app' };
  }
  if (typeof value === 'function') {
    return { kind: 'node', handler: value as NodeHandler, description: 'a (req, res) handler' };
  }
  if (typeof value !== 'object') return null;
  // Koa: an object (not a function) with use() and callback().
  if (typeof obj.callback === 'function' && typeof obj.use === 'function') {
    const handler = (obj.callback as () => unknown).call(obj);
    if (typeof handler !== 'function') return null;
    return { kind: 'node', handler: handler as NodeHandler, description: 'a Koa app' };
  }
  if (typeof obj.fetch === 'function') {
    return { kind: 'fetch', app: obj as unknown as FetchApp, description: 'a fetch app' };
  }
  return null;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** For the bad-export message: what was found instead. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing (module.exports / the default export is undefined)';
  if (value === null) return 'null';
  if (isThenable(value)) return 'a Promise that resolved to nothing usable';
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty object (did you forget `module.exports = app`?)';
    const shown = keys.slice(0, 10).join(', ');
    return `an object with keys ${shown}${keys.length > 10 ? `, … (${keys.length} keys)` : ''}`;
  }
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  return `a ${typeof value} (${String(value)})`;
}
