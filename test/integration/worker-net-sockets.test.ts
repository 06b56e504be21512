// The worker's fallback when node's stream bindings are unusable (src/worker/transport/accept-handles.ts): connections are
// net.Sockets again. Forced here with SCGI_SUPERVISE_NET_SOCKETS=1 (workers inherit it), then the response-API
// differential and the framework suites run once more on that path; the default path's own runs are the files
// imported below. Also checks which path each worker actually took.
import { test } from 'node:test';
import { join } from 'node:path';
import { APPS } from '../helpers/paths.js';
import { startWorker } from './worker-harness.js';

// Set for the whole file (the imported suites below start their workers later); the first test lifts it.
process.env.SCGI_SUPERVISE_NET_SOCKETS = '1';

test('by default a worker serves connections on their libuv handles', async (t) => {
  delete process.env.SCGI_SUPERVISE_NET_SOCKETS;
  let w;
  try {
    w = await startWorker(t, join(APPS, 'raw.cjs'));
  } finally {
    process.env.SCGI_SUPERVISE_NET_SOCKETS = '1';
  }
  await w.waitLog(/serving connections on their libuv handles/);
});

test('SCGI_SUPERVISE_NET_SOCKETS=1: the worker serves connections as net.Socket', async (t) => {
  const w = await startWorker(t, join(APPS, 'raw.cjs'));
  await w.waitLog(/serving connections as net\.Socket: SCGI_SUPERVISE_NET_SOCKETS=1/);
});

// The same suites again, every worker they start on the net.Socket path.
await import('./worker-response-api.test.js');
await import('./worker-apps.test.js');
await import('./worker-http.test.js');
