// Requests that wait in the kernel's accept queue with their front end's FIN behind them (nginx closes its SCGI
// connection when the client aborts: docs/protocol.md "Client aborts") are counted aborted and never run; a queued
// request without a FIN is served as usual. Straight to the real worker (worker-harness.ts), on both I/O paths: the
// app takes 800 ms to load, and the two connections are made meanwhile, so the worker's first accepts take them
// from the queue with everything already sent (request and FIN, or request only). The app appends each request it
// runs to a file. Without the hold (serve.ts backlogged, connection.ts hold) '/gone' ran on every path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS } from '../helpers/paths.js';
import { exchange, parseResponse, show, type Outcome } from '../helpers/scgi-raw.js';
import { makeTempDir, removeDir } from '../helpers/frontends/process-utils.js';
import { encodeRequest, nginxLikeParams } from '../../src/protocol/request-encoder.js';
import type { WorkerToMaster } from '../../src/worker/messages.js';
import { startWorker, type StartOptions } from './worker-harness.js';

function scgi(uri: string): Buffer {
  return encodeRequest(nginxLikeParams({ method: 'GET', uri, headers: [['Host', 'example.test']], remoteAddr: '10.1.2.3', remotePort: 40000, serverPort: 80, scheme: 'http' }), Buffer.alloc(0));
}

const PATHS: Array<[string, StartOptions]> = [
  ['libuv handles, TCP', {}],
  ['libuv handles, Unix socket', { unix: true }],
  ['net.Socket fallback, TCP', { env: { SCGI_SUPERVISE_NET_SOCKETS: '1' } }],
];

for (const [name, options] of PATHS) {
  test(`${name}: a queued request with the FIN behind it is not run; one without is served`, async (t) => {
    const dir = await makeTempDir('queued-abort');
    t.after(() => removeDir(dir));
    const file = join(dir, 'ran');
    writeFileSync(file, '');
    const w = await startWorker(t, join(APPS, 'abort-count.cjs'), {
      ...options,
      ready: false,
      env: { ...options.env, ABORT_COUNT_FILE: file, ABORT_COUNT_LOAD_MS: '800' },
    });
    // Both sent while the app loads: request then FIN (what nginx leaves queued after a client abort), and a request alone.
    const gone = exchange(w.target, [scgi('/gone'), 'fin'], { timeoutMs: 10_000 });
    const live = exchange(w.target, [scgi('/live')], { timeoutMs: 10_000 });
    await w.waitFor('ready');
    const [g, l]: Outcome[] = await Promise.all([gone, live]);
    const ran = (): string[] => readFileSync(file, 'utf8').split('\n').filter((x) => x !== '').map((x) => x.split(' ')[1]!);
    const why = (): string => `ran: ${ran().join(' ')}\n/gone: ${show(g)}\n/live: ${show(l)}\n${w.stderr()}`;
    assert.equal(parseResponse(l.data).status, 200, why());
    assert.equal(g.data.length, 0, why()); // closed without an answer: nobody was left to read one
    assert.equal(g.ending, 'fin', why());
    assert.deepEqual(ran(), ['/live'], why());
    // Counted: two requests over, one aborted (codes[0]) and one 2xx, in the next stats message.
    const stats = await new Promise<Extract<WorkerToMaster, { type: 'stats' }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no stats message with 2 requests within 5 s\n${why()}`)), 5000);
      const check = (): void => {
        const m = w.messages.filter((x): x is Extract<WorkerToMaster, { type: 'stats' }> => x.type === 'stats').at(-1);
        if (m !== undefined && m.requests === 2) {
          clearTimeout(timer);
          resolve(m);
        } else setTimeout(check, 20);
      };
      check();
    });
    assert.equal(stats.inflight, 0, why());
    assert.equal(stats.counts?.codes[0], 1, why());
    assert.equal(stats.counts?.codes[2], 1, why());
    // connection.ts abandon() logs it at debug (the harness runs the worker at debug).
    await w.waitLog(/request not run: the front end closed the connection before its handler started method=GET uri=\/gone/);
  });
}
