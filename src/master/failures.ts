// The typed errors the master reports when workers cannot come up: at the initial start (halt) and for a reload's
// canary. Builds them from what the worker sent (`load-failed`) and how it exited. Not the decision (pool.ts).

import { AppLoadError, ControlError, ListenError, type ErrorCode, type SupervisorError } from '../errors.js';
import type { SerializedError } from '../worker/messages.js';
import type { FailureCause } from './pool.js';
import { seconds } from './stats.js';

export interface FailureContext {
  cause: FailureCause;
  /** "with code 3" / "on SIGSEGV" */
  how: string;
  app: string;
  address: string;
  bootTimeoutMs: number;
  loadError: SerializedError | null;
}

export function failureError(c: FailureContext): SupervisorError {
  const { app, loadError } = c;
  switch (c.cause) {
    case 'load-failed': {
      const code: ErrorCode = loadError && /^ERR_APP_[A-Z_]+$/.test(loadError.code) ? (loadError.code as ErrorCode) : 'ERR_APP_LOAD_FAILED';
      // The worker's message usually names the file already ("/srv/app.js failed to load: …").
      const message = loadError
        ? `${loadError.message.includes(app) ? loadError.message : `${app} failed to load: ${loadError.message}`}${appFrame(loadError, app)}`
        : `${app} failed to load (the worker exited ${c.how})`;
      return new AppLoadError(code, app, message, {
        hint: loadError?.hint ?? 'fix the error shown above in the app, then start (or reload) again',
        cause: loadError ? errorFromWorker(loadError) : undefined,
      });
    }
    case 'listen-failed':
      return new ListenError('ERR_LISTEN_FAILED', c.address, `a worker could not accept on ${c.address}`, {
        hint: 'see the worker log above; check the listen address',
      });
    case 'boot-timeout':
      return new AppLoadError('ERR_APP_BOOT_TIMEOUT', app, `${app} was not ready within ${seconds(c.bootTimeoutMs)}s`, {
        hint: 'the app takes too long to load; raise --boot-timeout or make its start-up faster',
      });
    case 'crashed':
      return new AppLoadError('ERR_APP_LOAD_FAILED', app, `${app}: the worker exited ${c.how} before it was ready`, {
        hint: 'the app exits or crashes while loading; run it directly with node to see why',
      });
    default: {
      const never: never = c.cause;
      throw new Error(String(never));
    }
  }
}

export function stoppingError(): SupervisorError {
  return new ControlError('ERR_STOPPING', 'the supervisor is stopping', { hint: 'start it again once it has stopped' });
}

/** " (at file:///srv/app.js:3:9)": the first stack frame inside the app, so a one-line message still says where. */
function appFrame(e: SerializedError, app: string): string {
  const frame = e.stack?.split('\n').find((l) => /^\s+at /.test(l) && l.includes(app));
  return frame ? ` (${frame.trim()})` : '';
}

export function errorFromWorker(e: SerializedError): Error {
  const err = new Error(e.message);
  if (e.stack) err.stack = e.stack;
  return err;
}
