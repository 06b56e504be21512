// ControlServer + ControlClient over a real Unix socket with a FAKE ControlTarget (the real Master is exercised in
// test/integration/control-*.test.ts): concurrency, hostile clients, permissions, stale and live sockets, timeouts.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../../src/control/server.js';
import { ControlClient, controlRequest } from '../../../src/control/client.js';
import { FrameDecoder, encodeFrame, MAX_RESPONSE_FRAME_BYTES } from '../../../src/control/protocol.js';
import type { ControlTarget, StatsSnapshot } from '../../../src/control/target.js';
import { SupervisorError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';

const log = createLogger({ name: 'control-test', level: 'silent' });

const SNAPSHOT: StatsSnapshot = {
  master: { pid: 1, version: '0.0.0', listen: '127.0.0.1:4000', generation: 1, uptime: 1, workers: 1 },
  workers: [
    { id: 0, pid: 2, state: 'ready', generation: 1, uptime: 1, requests: 5, inflight: 0, restarts: 0, lastExit: null, cpu: 0, memory: 1 },
  ],
};

/** A fake target whose reload waits for `releaseReload()`, so tests can hold a request in progress. */
function fakeTarget() {
  let release: () => void = () => {};
  const calls: string[] = [];
  const target: ControlTarget & { calls: string[]; releaseReload(): void } = {
    calls,
    releaseReload: () => release(),
    reload: () => {
      calls.push('reload');
      return new Promise((resolve) => (release = () => resolve({ generation: 2, durationMs: 10, workers: 1 })));
    },
    stats: async () => {
      calls.push('stats');
      return SNAPSHOT;
    },
    scale: async (workers) => {
      calls.push(`scale ${workers}`);
      if (workers === 13) throw new SupervisorError('ERR_STOPPING', 'the supervisor is stopping', { hint: 'wait' });
      if (workers === 14) throw new TypeError('boom');
      return { from: 1, to: workers };
    },
    stop: async () => {
      calls.push('stop');
    },
  };
  return target;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startServer(t: TestContext, options: Partial<ConstructorParameters<typeof ControlServer>[1]> = {}) {
  const dir = tempDir(t);
  const path = join(dir, 'run', 'ctl.sock');
  const target = fakeTarget();
  const server = new ControlServer(target, { path, log, ...options });
  await server.listen();
  t.after(() => server.close());
  return { dir, path, target, server };
}

/** A raw client: write any bytes, read decoded frames, see when the server closes. */
function rawClient(path: string) {
  const socket: Socket = createConnection(path);
  const decoder = new FrameDecoder(MAX_RESPONSE_FRAME_BYTES);
  const frames: Array<Record<string, unknown>> = [];
  let waiter: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    for (const e of decoder.push(chunk)) if (e.type === 'frame') frames.push(e.value as Record<string, unknown>);
    waiter?.();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return {
    socket,
    frames,
    connected,
    closed,
    async waitFrames(n: number, timeoutMs = 3000): Promise<Array<Record<string, unknown>>> {
      const deadline = Date.now() + timeoutMs;
      while (frames.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} frames, got ${frames.length}: ${JSON.stringify(frames)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return frames;
    },
  };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('listen creates the directory 0700 and the socket 0600', async (t) => {
  const { dir, path } = await startServer(t);
  assert.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700);
  const st = statSync(path);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
});

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

test('a stale socket file (its owner was killed) is removed; a live one is ERR_CONTROL_BUSY', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ctl.sock');
  // A process that listens and is then SIGKILLed leaves its socket file behind.
  const child = spawn(
    process.execPath,
    ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  await within(new Promise((r) => child.stdout!.once('data', r)), 5000, 'child listening');
  const live = new ControlServer(fakeTarget(), { path, log });
  await assert.rejects(live.listen(), (err: SupervisorError) => err.code === 'ERR_CONTROL_BUSY');
  child.kill('SIGKILL');
  await within(new Promise((r) => child.once('exit', r)), 5000, 'child exit');
  assert.ok(existsSync(path), 'the killed process left its socket file');
  const server = new ControlServer(fakeTarget(), { path, log });
  await server.listen();
  t.after(() => server.close());
  assert.deepEqual(await controlRequest(path, 'stats'), SNAPSHOT);
  // A second server on the same path while the first lives.
  const second = new ControlServer(fakeTarget(), { path, log });
  await assert.rejects(second.listen(), (err: SupervisorError) => err.code === 'ERR_CONTROL_BUSY');
  assert.deepEqual(await controlRequest(path, 'stats'), SNAPSHOT, 'the refused one did not remove the live socket');
});

test('a regular file at the control path is refused, not deleted', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ctl.sock');
  writeFileSync(path, 'precious');
  const server = new ControlServer(fakeTarget(), { path, log });
  await assert.rejects(server.listen(), (err: SupervisorError) => err.code === 'ERR_CONTROL_BUSY');
  assert.ok(existsSync(path));
});

test('a directory others can enter, or owned by another user, is refused with a hint', async (t) => {
  const dir = tempDir(t);
  const open = join(dir, 'open');
  mkdirSync(open, { mode: 0o755 });
  chmodSync(open, 0o755);
  await assert.rejects(new ControlServer(fakeTarget(), { path: join(open, 'c.sock'), log }).listen(), (err: SupervisorError) => {
    assert.equal(err.code, 'ERR_CONTROL_PERMISSION');
    assert.match(err.hint ?? '', /chmod 0700/);
    return true;
  });
  const groupReadable = join(dir, 'group');
  mkdirSync(groupReadable);
  chmodSync(groupReadable, 0o750);
  await assert.rejects(
    new ControlServer(fakeTarget(), { path: join(groupReadable, 'c.sock'), log }).listen(),
    (err: SupervisorError) => err.code === 'ERR_CONTROL_PERMISSION',
  );
  if (process.getuid!() === 0) {
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    await assert.rejects(
      new ControlServer(fakeTarget(), { path: join(foreign, 'c.sock'), log }).listen(),
      (err: SupervisorError) => err.code === 'ERR_CONTROL_PERMISSION' && /owned by uid 65534/.test(err.message),
    );
  }
  const file = join(dir, 'file');
  writeFileSync(file, '');
  await assert.rejects(
    new ControlServer(fakeTarget(), { path: join(file, 'c.sock'), log }).listen(),
    (err: SupervisorError) => err.code === 'ERR_CONTROL_PERMISSION',
  );
});

/** Runs a node one-liner as `nobody` that connects to `path` and prints the outcome (connected or the errno). */
function connectAsNobody(path: string): Promise<string> {
  const script = `
    const s = require('net').createConnection(${JSON.stringify(path)});
    s.on('connect', () => { console.log('connected'); s.destroy(); });
    s.on('error', (e) => console.log(e.code));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`probe as nobody exited ${code}: ${err}`));
      else resolve(out.trim());
    });
  });
}

test('another user (nobody) cannot connect: the directory stops it, and the socket mode alone does too', async (t) => {
  assert.equal(process.getuid!(), 0, 'this test needs root to run a process as nobody (the tests run as root in CI)');
  const { dir, path } = await startServer(t);
  // The temp dir itself must let nobody through so that only our 0700 run/ dir and the 0600 socket decide.
  chmodSync(dir, 0o711);
  assert.equal(await connectAsNobody(path), 'EACCES', 'blocked by the 0700 directory');
  // Open the directory on purpose: the socket's own 0600 mode must still refuse.
  chmodSync(join(dir, 'run'), 0o711);
  assert.equal(await connectAsNobody(path), 'EACCES', 'blocked by the 0600 socket');
  // Control: with the socket opened up, the same probe connects, so the EACCES above was the permission.
  chmodSync(path, 0o666);
  assert.equal(await connectAsNobody(path), 'connected');
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
