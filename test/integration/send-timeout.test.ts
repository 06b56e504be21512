// send-timeout: a front end that stops reading a large response is cut after send-timeout without progress, on both
// I/O paths (libuv handles, and net.Socket with SCGI_SUPERVISE_NET_SOCKETS=1); one that reads slowly is not.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeRequest, nginxLikeParams } from '../../src/protocol/request-encoder.js';
import { APPS } from '../helpers/paths.js';
import type { Target } from '../helpers/scgi-raw.js';
import { call, startWorker } from './worker-harness.js';

const RAW = join(APPS, 'raw.cjs');
const SEND_TIMEOUT_MS = 1000;
const SIZE = 64 * 1024 * 1024; // far beyond the loopback socket buffers

function open(target: Target): Socket {
  if (target.kind !== 'tcp') throw new Error('tcp only');
  return connect(target.port, target.host);
}

/**
 * Sends GET /big. readMs 0: takes one chunk, then reads nothing until `cut` resolves (the worker logged the reset),
 * then reads on to see how it ends. readMs > 0: stops reading for readMs (below send-timeout), then reads 4 MiB (the kernel wakes a blocked writer only once a third of its send buffer is free).
 */
async function client(target: Target, readMs: number, untilMs: number, cut?: Promise<unknown>): Promise<{ received: number; ended: string; atMs: number }> {
  const s = open(target);
  const t0 = Date.now();
  let received = 0;
  s.write(encodeRequest(nginxLikeParams({ method: 'GET', uri: `/big?size=${SIZE}` })));
  return await new Promise((resolve) => {
    let done = false;
    const finish = (ended: string): void => {
      if (done) return;
      done = true;
      clearInterval(pump);
      clearTimeout(stop);
      s.destroy();
      resolve({ received, ended, atMs: Date.now() - t0 });
    };
    let windowEnd = 4 * 1024 * 1024;
    s.on('data', (b: Buffer) => {
      received += b.length;
      if (readMs === 0 && cut !== undefined) s.pause();
      if (readMs > 0 && received >= windowEnd) s.pause();
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? 'error'));
    s.on('end', () => finish('fin'));
    s.on('close', () => finish('close'));
    const pump = setInterval(() => {
      if (readMs === 0) return;
      windowEnd = received + 4 * 1024 * 1024;
      s.resume();
    }, readMs > 0 ? readMs : 1000);
    void cut?.then(() => {
      cut = undefined;
      s.resume(); // a cut shows as an error or an early end
    });
    const stop = setTimeout(() => finish('still open'), untilMs);
  });
}

for (const path of ['handles', 'net-sockets'] as const) {
  test(`send-timeout (${path}): a front end that reads nothing is reset after send-timeout; a slow reader is not`, async (t) => {
    const env: Record<string, string> = path === 'net-sockets' ? { SCGI_SUPERVISE_NET_SOCKETS: '1' } : {};
    const w = await startWorker(t, RAW, { timeouts: { sendIdleTimeoutMs: SEND_TIMEOUT_MS }, env });
    const stalled = await client(w.target, 0, 8000, w.waitLog(/send-timeout\); connection reset/, 6000));
    assert.notEqual(stalled.ended, 'still open', `stalled reader never cut: ${JSON.stringify(stalled)}`);
    assert.ok(stalled.received < SIZE, JSON.stringify(stalled));

    // Stops reading for 400 ms at a time (below send-timeout): never cut within 3 s (64 MB takes longer).
    const slow = await client(w.target, 400, 3000);
    assert.ok(slow.received > 0 && slow.received < SIZE, JSON.stringify(slow));
    assert.equal(slow.ended, 'still open', JSON.stringify(slow));
    assert.equal((await call(w, 'GET', '/text')).res.status, 200);
  });
}
