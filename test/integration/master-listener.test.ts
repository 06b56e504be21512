// master/listener.ts against real sockets: the port-in-use check libuv would defer to listen(), stale vs live unix
// sockets, file modes and group, cleanup, and the point of it all: the master never accepts, connections wait in the
// kernel backlog with no worker at all, and a process that inherits the fd later serves them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openListener, type Listener, type ListenerOptions } from '../../src/master/listener.js';
import { SupervisorError } from '../../src/errors.js';
import type { ListenAddress } from '../../src/config/config.js';

function options(listen: ListenAddress, over: Partial<ListenerOptions> = {}): ListenerOptions {
  return { listen, socketMode: 0o666, socketGroup: null, backlog: 511, ...over };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'scgi-listener-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function serverOn(t: { after(fn: () => void): void }, target: number | string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => c.destroy());
    s.once('error', reject);
    if (typeof target === 'number') s.listen(target, '127.0.0.1', () => resolve(s));
    else s.listen(target, () => resolve(s));
    t.after(() => s.close());
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const codeOf = (err: unknown) => (err instanceof SupervisorError ? err.code : String(err));

/** Connections waiting in the accept queue of the LISTEN socket on this port (ss's Recv-Q). */
function acceptQueue(port: number): number {
  const r = spawnSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ss failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n')[0] ?? '';
  return Number(line.trim().split(/\s+/)[1]);
}

async function until<T>(what: string, probe: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a TCP port in use is ERR_LISTEN_IN_USE at bind time, not a random port later', async (t) => {
  const port = await freePort();
  await serverOn(t, port);
  await assert.rejects(openListener(options({ kind: 'tcp', host: '127.0.0.1', port })), (err: unknown) => {
    assert.equal(codeOf(err), 'ERR_LISTEN_IN_USE');
    assert.equal((err as Error).message, `127.0.0.1:${port} is in use`);
    return true;
  });
  // Two supervisors on one port: the second is refused too (both would have bound with SO_REUSEADDR).
  const other = await freePort();
  const first = await openListener(options({ kind: 'tcp', host: '127.0.0.1', port: other }));
  t.after(() => first.close());
  await assert.rejects(openListener(options({ kind: 'tcp', host: '127.0.0.1', port: other })), (err: unknown) => codeOf(err) === 'ERR_LISTEN_IN_USE');
});

test('a bad host is ERR_LISTEN_BAD_ADDRESS; port 0 reports the real port', async (t) => {
  await assert.rejects(openListener(options({ kind: 'tcp', host: '192.0.2.1', port: 4000 })), (err: unknown) => codeOf(err) === 'ERR_LISTEN_BAD_ADDRESS');
  const l = await openListener(options({ kind: 'tcp', host: '127.0.0.1', port: 0 }));
  t.after(() => l.close());
  assert.match(l.address, /^127\.0\.0\.1:[1-9]\d*$/);
  const v6 = await openListener(options({ kind: 'tcp', host: '::1', port: 0 }));
  t.after(() => v6.close());
  assert.match(v6.address, /^\[::1\]:[1-9]\d*$/);
});

test('the master never accepts: a connection waits in the backlog with no worker, and a later worker serves it', async (t) => {
  const port = await freePort();
  const listener = await openListener(options({ kind: 'tcp', host: '127.0.0.1', port }));
  t.after(() => listener.close());
  const client = createConnection(port, '127.0.0.1');
  t.after(() => client.destroy());
  let answer = '';
  client.setEncoding('utf8').on('data', (d: string) => (answer += d));
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  client.write('ping');
  // The kernel completed the handshake and queues it; nobody (the master least of all) has accepted it.
  assert.equal(await until('the connection in the accept queue', () => acceptQueue(port) === 1), true);
  assert.equal(answer, '');
  // A "worker": any process that inherits the fd and accepts on it.
  const worker = spawn(
    process.execPath,
    ['-e', "require('net').createServer((c)=>c.once('data',(d)=>c.end('pong:'+d))).listen({fd:3})"],
    { stdio: ['ignore', 'inherit', 'inherit', listener.fd] },
  );
  t.after(() => {
    if (worker.exitCode === null) worker.kill('SIGKILL');
  });
  await until('the answer', () => answer === 'pong:ping');
  worker.kill('SIGKILL');
  await new Promise((r) => worker.once('exit', r));
  // With every worker gone the socket still listens (the master holds it): no ECONNREFUSED.
  const again = createConnection(port, '127.0.0.1');
  t.after(() => again.destroy());
  await new Promise<void>((resolve, reject) => again.once('connect', resolve).once('error', reject));
  assert.equal(await until('the second connection queued', () => acceptQueue(port) === 1), true);
});

test('unix: a stale socket file is removed, a live one refused, a non-socket refused; modes applied; file removed on close', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.sock');
  // A stale socket: its process died without unlinking it.
  const dead = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)},()=>process.kill(process.pid,'SIGKILL'))`]);
  assert.equal(dead.signal, 'SIGKILL');
  assert.equal(statSync(path).isSocket(), true);
  const l = await openListener(options({ kind: 'unix', path }));
  assert.equal(l.address, `unix:${path}`);
  assert.equal(statSync(path).mode & 0o777, 0o666);
  const client = createConnection(path);
  t.after(() => client.destroy());
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  l.close();
  assert.equal(existsSync(path), false);

  const restricted: Listener = await openListener(options({ kind: 'unix', path }, { socketMode: 0o660, socketGroup: 'www-data' }));
  t.after(() => restricted.close());
  const st = statSync(path);
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.gid, 33);

  const livePath = join(dir, 'live.sock');
  await serverOn(t, livePath);
  await assert.rejects(openListener(options({ kind: 'unix', path: livePath })), (err: unknown) => codeOf(err) === 'ERR_LISTEN_SOCKET_ALIVE');
  assert.equal(statSync(livePath).isSocket(), true);

  const filePath = join(dir, 'file.sock');
  writeFileSync(filePath, 'not a socket');
  await assert.rejects(openListener(options({ kind: 'unix', path: filePath })), (err: unknown) => codeOf(err) === 'ERR_LISTEN_BAD_ADDRESS');
  await assert.rejects(openListener(options({ kind: 'unix', path: join(dir, 'nope', 'x.sock') })), (err: unknown) => codeOf(err) === 'ERR_LISTEN_BAD_ADDRESS');
  await assert.rejects(
    openListener(options({ kind: 'unix', path: join(dir, 'g.sock') }, { socketGroup: 'no-such-group-here' })),
    (err: unknown) => codeOf(err) === 'ERR_LISTEN_BAD_ADDRESS',
  );
  assert.equal(existsSync(join(dir, 'g.sock')), false);
});

test('fd:N must be an open socket, and is passed through as is', async (t) => {
  await assert.rejects(openListener(options({ kind: 'fd', fd: 987 })), (err: unknown) => codeOf(err) === 'ERR_LISTEN_BAD_ADDRESS');
  const dir = tempDir(t);
  const fd = openSync(join(dir, 'plain'), 'w');
  t.after(() => closeSync(fd));
  await assert.rejects(openListener(options({ kind: 'fd', fd })), (err: unknown) => codeOf(err) === 'ERR_LISTEN_BAD_ADDRESS');
  const tcp = await openListener(options({ kind: 'tcp', host: '127.0.0.1', port: 0 }));
  t.after(() => tcp.close());
  const inherited = await openListener(options({ kind: 'fd', fd: tcp.fd }));
  assert.deepEqual([inherited.fd, inherited.address], [tcp.fd, `fd:${tcp.fd}`]);
  inherited.close(); // not ours to close: the socket must still accept connections
  const port = Number(tcp.address.split(':')[1]);
  const c = createConnection(port, '127.0.0.1');
  t.after(() => c.destroy());
  await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
});
