// 500 connections straight to the SCGI socket (nginx buffers a whole header before it connects, so it is bypassed)
// that send a header one byte per second: a normal request is still answered within 1 s, and every one of them is
// cut at the header deadline (header-timeout, total, not per byte).
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeRequest, nginxLikeParams } from '../../src/protocol/request-encoder.js';
import { APPS } from '../helpers/paths.js';
import { call, startWorker } from './worker-harness.js';

const RAW = join(APPS, 'raw.cjs');
const CLIENTS = 500; // 1000 descriptors here and in the worker: below the 1024 soft limit of a default shell
const HEADER_TIMEOUT_MS = 3000;

test(`${CLIENTS} slowloris connections: a normal request is answered within 1 s; each is cut at the header deadline`, async (t) => {
  const w = await startWorker(t, RAW, { timeouts: { headerTimeoutMs: HEADER_TIMEOUT_MS }, logLevel: 'warn' });
  if (w.target.kind !== 'tcp') throw new Error('tcp only');
  const { host, port } = w.target;
  const header = encodeRequest(nginxLikeParams({ method: 'GET', uri: '/text' }));
  const sockets: Socket[] = [];
  const cutAfterMs: number[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, () =>
      new Promise<void>((resolve, reject) => {
        const s = connect(port, host, () => resolve());
        s.on('error', () => undefined);
        s.on('close', () => cutAfterMs.push(Date.now() - t0));
        s.resume();
        sockets.push(s);
        setTimeout(() => reject(new Error('connect took over 5 s')), 5000).unref();
      }),
    ),
  );
  let sent = 0;
  const trickle = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write(header.subarray(sent, sent + 1));
    sent++;
  }, 1000);
  t.after(() => clearInterval(trickle));

  await new Promise((r) => setTimeout(r, 1200)); // all 500 are mid-header
  const before = Date.now();
  const normal = await call(w, 'GET', '/text');
  const tookMs = Date.now() - before;
  assert.equal(normal.res.status, 200);
  assert.ok(tookMs < 1000, `normal request took ${tookMs} ms`);

  const until = Date.now() + HEADER_TIMEOUT_MS + 5000;
  while (cutAfterMs.length < CLIENTS && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  clearInterval(trickle);
  assert.equal(cutAfterMs.length, CLIENTS, `cut: ${cutAfterMs.length}/${CLIENTS}`);
  const latest = Math.max(...cutAfterMs);
  const earliest = Math.min(...cutAfterMs);
  assert.ok(earliest >= HEADER_TIMEOUT_MS - 300, `first cut after ${earliest} ms`);
  assert.ok(latest < HEADER_TIMEOUT_MS + 3000, `last cut after ${latest} ms`);
  t.diagnostic(`normal request ${tookMs} ms; cuts between ${earliest} and ${latest} ms (header-timeout ${HEADER_TIMEOUT_MS} ms)`);
});
