// ControlServer + ControlClient over a real Unix socket with a FAKE ControlTarget (fake-target.ts): commands,
// typed errors, concurrency, hostile clients (garbage, too large, mid-frame disconnect), backpressure, idle timeout.
// The directory and socket-file rules are in socket-file.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ControlClient, controlRequest } from '../../../src/control/client.js';
import { encodeFrame } from '../../../src/control/protocol.js';
import type { SupervisorError } from '../../../src/errors.js';
import { SNAPSHOT, rawClient, startServer, tempDir, until, within } from './fake-target.js';

test('each command reaches the target and answers with its result', async (t) => {
  const { path, target } = await startServer(t);
  assert.deepEqual(await controlRequest(path, 'stats'), SNAPSHOT);
  assert.deepEqual(await controlRequest(path, 'scale', { workers: 3 }), { from: 1, to: 3 });
  assert.deepEqual(await controlRequest(path, 'stop'), { pid: process.pid });
  const reload = controlRequest(path, 'reload');
  await until(() => target.calls.includes('reload'), 2000, 'reload reaches the target');
  target.releaseReload();
  assert.deepEqual(await reload, { generation: 2, durationMs: 10, workers: 1 });
  assert.deepEqual(target.calls, ['stats', 'scale 3', 'stop', 'reload']);
});

test('errors come back typed: unknown command, bad args, a SupervisorError, an unexpected throw', async (t) => {
  const { path, target } = await startServer(t);
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'resolved',
      (err: SupervisorError) => err.code,
    );
  assert.equal(await codeOf(controlRequest(path, 'restart')), 'ERR_CONTROL_UNKNOWN_COMMAND');
  assert.equal(await codeOf(controlRequest(path, 'scale', { workers: 0 })), 'ERR_CONTROL_BAD_ARGS');
  assert.equal(await codeOf(controlRequest(path, 'scale', { workers: '3' })), 'ERR_CONTROL_BAD_ARGS');
  assert.equal(await codeOf(controlRequest(path, 'scale', { workers: 2.5 })), 'ERR_CONTROL_BAD_ARGS');
  assert.equal(await codeOf(controlRequest(path, 'scale', { worker: 3 })), 'ERR_CONTROL_BAD_ARGS');
  assert.equal(await codeOf(controlRequest(path, 'stats', { verbose: true })), 'ERR_CONTROL_BAD_ARGS');
  assert.equal(await codeOf(controlRequest(path, 'scale', { workers: 13 })), 'ERR_STOPPING');
  assert.equal(await codeOf(controlRequest(path, 'scale', { workers: 14 })), 'ERR_INTERNAL');
  // Bad arguments never reach the target.
  assert.deepEqual(target.calls, ['scale 13', 'scale 14']);
});

test('several clients at once, one of them with a long request in progress', async (t) => {
  const { path, target, server } = await startServer(t);
  const reloader = new ControlClient(path);
  await reloader.connect();
  const reload = reloader.request('reload');
  await until(() => target.calls.includes('reload'), 2000, 'reload in progress');
  const clients = Array.from({ length: 20 }, async (_, i) => {
    const c = new ControlClient(path);
    await c.connect();
    // Overlapping requests on one connection are matched by id.
    const results = await Promise.all([c.request('stats'), c.request('scale', { workers: i + 20 }), c.request('stats')]);
    c.close();
    return results;
  });
  const all = await within(Promise.all(clients), 5000, '20 clients');
  all.forEach((r, i) => assert.deepEqual(r, [SNAPSHOT, { from: 1, to: i + 20 }, SNAPSHOT]));
  target.releaseReload();
  assert.deepEqual(await reload, { generation: 2, durationMs: 10, workers: 1 });
  reloader.close();
  await until(() => server.connectionCount === 0, 2000, 'connections closed');
});

test('a too-large frame gets ERR_CONTROL_FRAME_TOO_LARGE, then the server closes that connection', async (t) => {
  const { path, server } = await startServer(t, { maxFrameBytes: 1024 });
  const raw = rawClient(path);
  await raw.connected;
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1025);
  raw.socket.write(Buffer.concat([header, Buffer.alloc(200, 0x61)]));
  const [frame] = await raw.waitFrames(1);
  assert.deepEqual(frame!.id, null);
  assert.equal(frame!.ok, false);
  assert.equal((frame!.error as { code: string }).code, 'ERR_CONTROL_FRAME_TOO_LARGE');
  // The client keeps its end open and sends more: the server still closes within its linger bound.
  raw.socket.write(Buffer.alloc(4096, 0x62));
  await within(raw.closed, 3000, 'server closes the connection');
  assert.deepEqual(await controlRequest(path, 'stats'), SNAPSHOT, 'others are served');
  await until(() => server.connectionCount === 0, 2000, 'no connection left');
});

test('garbage (an HTTP request) is answered with a typed error and closed; the server keeps serving', async (t) => {
  const { path, server } = await startServer(t);
  const raw = rawClient(path);
  await raw.connected;
  raw.socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const [frame] = await raw.waitFrames(1);
  assert.equal((frame!.error as { code: string }).code, 'ERR_CONTROL_FRAME_TOO_LARGE');
  await within(raw.closed, 3000, 'closed after garbage');
  assert.deepEqual(await controlRequest(path, 'stats'), SNAPSHOT);
  await until(() => server.connectionCount === 0, 2000, 'no connection left');
});

test('bad JSON and a bad request shape get ERR_CONTROL_BAD_FRAME; the connection stays usable', async (t) => {
  const { path } = await startServer(t);
  const raw = rawClient(path);
  await raw.connected;
  const payload = Buffer.from('{"id": 1, "command": ');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  raw.socket.write(Buffer.concat([header, payload]));
  raw.socket.write(encodeFrame({ id: 9, command: 42 }));
  raw.socket.write(encodeFrame({ id: 10, command: 'stats' }));
  const frames = await raw.waitFrames(3);
  assert.deepEqual(
    frames.map((f) => [f.id, f.ok, (f.error as { code?: string } | undefined)?.code]),
    [
      [null, false, 'ERR_CONTROL_BAD_FRAME'],
      [9, false, 'ERR_CONTROL_BAD_FRAME'], // the id is salvaged so the client can match it
      [10, true, undefined],
    ],
  );
  raw.socket.destroy();
});

test('a client that disconnects mid-frame or mid-request harms nothing', async (t) => {
  const { path, target, server } = await startServer(t);
  // Mid-frame: half a request, then gone.
  const half = rawClient(path);
  await half.connected;
  half.socket.write(encodeFrame({ id: 1, command: 'stats' }).subarray(0, 9));
  await until(() => server.connectionCount === 1, 2000, 'server sees the client');
  half.socket.destroy();
  // Mid-request: reload in progress, client gone before the answer.
  const gone = rawClient(path);
  await gone.connected;
  gone.socket.write(encodeFrame({ id: 1, command: 'reload' }));
  await until(() => target.calls.includes('reload'), 2000, 'reload started');
  gone.socket.destroy();
  await until(() => server.connectionCount === 0, 2000, 'both connections released');
  target.releaseReload(); // the answer has nowhere to go: must not throw
  assert.deepEqual(await controlRequest(path, 'stats'), SNAPSHOT);
});

test('pipelined requests beyond the per-connection limit are all answered (backpressure, not loss)', async (t) => {
  const { path } = await startServer(t, { maxPendingPerConnection: 2 });
  const raw = rawClient(path);
  await raw.connected;
  raw.socket.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeFrame({ id: i, command: 'stats' }))));
  const frames = await raw.waitFrames(100, 5000);
  assert.deepEqual(
    frames.map((f) => f.id).sort((a, b) => Number(a) - Number(b)),
    Array.from({ length: 100 }, (_, i) => i),
  );
  raw.socket.destroy();
});

test('an idle connection is closed after the idle timeout, but not while its request is in progress', async (t) => {
  const { path, target } = await startServer(t, { idleTimeoutMs: 150 });
  const idle = rawClient(path);
  await idle.connected;
  const busy = rawClient(path);
  await busy.connected;
  busy.socket.write(encodeFrame({ id: 1, command: 'reload' }));
  await within(idle.closed, 2000, 'idle connection closed');
  await until(() => target.calls.includes('reload'), 2000, 'reload started');
  await new Promise((r) => setTimeout(r, 400)); // several idle periods pass while the reload runs
  assert.equal(busy.socket.destroyed, false, 'a connection waiting for its answer is not idle');
  target.releaseReload();
  const [frame] = await busy.waitFrames(1);
  assert.equal(frame!.ok, true);
  busy.socket.destroy();
});

test('the client names the path it tried when nothing runs there, and times out a silent server', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'none.sock');
  await assert.rejects(controlRequest(missing, 'stats'), (err: SupervisorError) => {
    assert.equal(err.code, 'ERR_CONTROL_NOT_RUNNING');
    assert.ok(err.message.includes(missing));
    assert.ok(err.hint);
    return true;
  });
  const { path } = await startServer(t);
  const started = Date.now();
  await assert.rejects(controlRequest(path, 'reload', {}, 200), (err: SupervisorError) => err.code === 'ERR_CONTROL_TIMEOUT');
  assert.ok(Date.now() - started < 2000);
});

test('close() ends open connections, removes the socket file, and a client sees the close', async (t) => {
  const { path, server } = await startServer(t);
  const client = new ControlClient(path);
  await client.connect();
  assert.deepEqual(await client.request('stats'), SNAPSHOT);
  await within(server.close(), 3000, 'close');
  await within(client.closed, 3000, 'client sees the close');
  assert.equal(existsSync(path), false);
  await assert.rejects(controlRequest(path, 'stats'), (err: SupervisorError) => err.code === 'ERR_CONTROL_NOT_RUNNING');
});
