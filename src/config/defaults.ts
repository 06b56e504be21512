// The default of every option, in the file's units (seconds, octal strings), so load.ts treats defaults as the lowest
// layer like any other. `app` has none (it is required). Kept in step with supervisor.example.yaml and
// docs/configuration.md (test/unit/config/example-yaml.test.ts checks the example against these).

import { availableParallelism } from 'node:os';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../protocol/limits.js';
import type { FileConfig } from './schema.js';

export const DEFAULTS: Readonly<Omit<FileConfig, 'app'>> = Object.freeze({
  workers: 'auto',
  listen: '127.0.0.1:4000', // loopback: nothing is reachable from outside unless asked for
  'socket-mode': '0666', // the same reach as the loopback TCP default; restrict with 0660 + socket-group
  'socket-group': null,
  backlog: 511, // nginx's and Node's default
  'graceful-timeout': 30,
  'boot-timeout': 30,
  'worker-timeout': 30, // gunicorn's timeout and Puma's worker_timeout default; 0 turns the watchdog off
  'reload-surge': 1,
  'restart-backoff-min': 0.1,
  'restart-backoff-max': 10,
  'stats-interval': 1,
  'metrics-listen': null, // off: Prometheus metrics are served only where asked for
  name: null,
  control: null,
  'control-group': null,
  'log-level': 'info',
  'log-format': 'text',
  'max-header-bytes': DEFAULT_LIMITS.maxHeaderBytes,
  'max-header-count': DEFAULT_LIMITS.maxHeaderCount,
  'max-body-bytes': DEFAULT_LIMITS.maxBodyBytes,
  'header-timeout': DEFAULT_TIMEOUTS.headerTimeoutMs / 1000,
  'body-timeout': DEFAULT_TIMEOUTS.bodyIdleTimeoutMs / 1000,
  'send-timeout': DEFAULT_TIMEOUTS.sendIdleTimeoutMs / 1000,
  strict: DEFAULT_LIMITS.strict,
  user: null, // workers run as the master does
  group: null,
  chdir: null, // the master's current folder
  env: {},
  'node-args': null, // null: the master's own node flags (minus --inspect); a string replaces them
  'request-timeout': DEFAULT_TIMEOUTS.requestTimeoutMs / 1000,
  'max-connections': 0, // no cap: see docs/configuration.md "Fair accept" before setting it
  'max-requests': 0, // recycling is off until asked for (gunicorn's and uWSGI's defaults too)
  'max-requests-jitter': 0,
  'max-memory': 0,
  'max-lifetime': 0,
  'recycle-surge': 1, // one slot at a time: capacity never drops, and never all at once
});

/** `workers: auto`: one per CPU the process may use. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}
