// The control socket's place on disk (control/socket-file.ts, through ControlServer.listen): 0700 directory and 0600
// socket, stale socket replaced, live one busy, unsafe directories refused, and a real other user (nobody) refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlServer } from '../../../src/control/server.js';
import { controlRequest } from '../../../src/control/client.js';
import type { SupervisorError } from '../../../src/errors.js';
import { SNAPSHOT, fakeTarget, log, startServer, tempDir, within } from './fake-target.js';

test('listen creates the directory 0700 and the socket 0600', async (t) => {
  const { dir, path } = await startServer(t);
  assert.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700);
  const st = statSync(path);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
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

test('only unsafe directories are refused: writable by others without the sticky bit, or owned by another user', async (t) => {
  const dir = tempDir(t);
  const listenIn = async (mode: number): Promise<void> => {
    const d = join(dir, mode.toString(8));
    mkdirSync(d);
    chmodSync(d, mode);
    const server = new ControlServer(fakeTarget(), { path: join(d, 'c.sock'), log });
    await server.listen();
    t.after(() => server.close());
    assert.deepEqual(await controlRequest(join(d, 'c.sock'), 'stats'), SNAPSHOT);
  };
  // systemd's RuntimeDirectory= (0755), a group-readable one, and a sticky world-writable one are all safe.
  await listenIn(0o755);
  await listenIn(0o750);
  await listenIn(0o1777);
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  await assert.rejects(new ControlServer(fakeTarget(), { path: join(open, 'c.sock'), log }).listen(), (err: SupervisorError) => {
    assert.equal(err.code, 'ERR_CONTROL_PERMISSION');
    assert.match(err.hint ?? '', /chmod o-w/);
    return true;
  });
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

test('the socket file is 0600 from its first instant, even with umask 000 (never a wider mode, then a chmod)', async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const path = join(dir, 'c.sock');
  // Poll on every turn of the event loop while listen() runs: a chmod after the bind needs at least one thread-pool
  // round trip, so a socket created wider would be seen here. Bounded by the listen itself.
  const modes = new Set<number>();
  let polling = true;
  const poll = (): void => {
    try {
      modes.add(lstatSync(path).mode & 0o7777);
    } catch {
      // not there yet
    }
    if (polling) setImmediate(poll);
  };
  const previous = process.umask(0);
  try {
    poll();
    const server = new ControlServer(fakeTarget(), { path, log });
    await server.listen();
    t.after(() => server.close());
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  } finally {
    polling = false;
    process.umask(previous);
  }
  assert.deepEqual([...modes].map((m) => m.toString(8)), ['600']);
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
