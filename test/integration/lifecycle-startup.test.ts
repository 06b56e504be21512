// Starting (issue 3 "Lifecycle", docs/protocol.md case 37 on unix sockets): an app that throws at load makes `start` exit
// non-zero within seconds naming the file and the app's error (no crash loop); a port in use is ERR_LISTEN_IN_USE;
// a stale unix socket file is replaced, a live one is an error and left alone; --socket-mode sets the file mode.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/frontends/process-utils.js';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.js';
import { exchange, exitOf, parseResponse, request, serve, show, waitForPidsGone } from '../helpers/scgi-raw.js';

const listenOn = (server: Server, where: number | string): Promise<void> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof where === 'number') server.listen(where, '127.0.0.1', () => resolve());
    else server.listen(where, () => resolve());
  });

/** Every `(pid N)` the log mentions: workers started before the failure. */
const loggedPids = (s: Supervisor): number[] => [...s.logs().matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));

describe('starting', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'scgi-life-start-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }
  /** `start <app> -w N -l <listen>` without waiting for ready; stopped (SIGKILL) in after. */
  async function launch(app: string, workers: number, listen: string): Promise<Supervisor> {
    const s = await startSupervisor({ app, workers, listen, noWait: true });
    cleanups.push(async () => void (await s.stop('SIGKILL', 1000)));
    return s;
  }

  test('an app that throws at load: exit non-zero within seconds, naming the file and the error, no crash loop', async () => {
    const port = await freePort();
    const l = await launch('life-throw-load.cjs', 2, `127.0.0.1:${port}`);
    const exit = await exitOf(l, 10_000);
    assert.notEqual(exit.code, 0, l.logs());
    assert.ok(exit.ms < 5000, `took ${exit.ms}ms to give up`);
    assert.match(l.logs(), /scgi-supervise: ERR_APP_LOAD_FAILED: /, l.logs());
    assert.ok(l.logs().includes('life-throw-load.cjs'), `stderr does not name the app file:\n${l.logs()}`);
    assert.ok(l.logs().includes('deliberate failure while loading the app'), `stderr lacks the app's error:\n${l.logs()}`);
    assert.doesNotMatch(l.logs(), /respawning/, 'a load failure at start must not crash-loop');
    assert.deepEqual(await waitForPidsGone(loggedPids(l), 3000), []);
    // the port is free again: nothing of the failed start still holds it
    const probe = createServer();
    await listenOn(probe, port);
    await new Promise((r) => probe.close(r));
  });

  test('a port in use: exit non-zero with ERR_LISTEN_IN_USE naming the address', async () => {
    const holder = createServer();
    await listenOn(holder, 0);
    cleanups.push(() => new Promise<void>((r) => holder.close(() => r())));
    const port = (holder.address() as { port: number }).port;
    const l = await launch('life-echo.cjs', 2, `127.0.0.1:${port}`);
    const exit = await exitOf(l, 10_000);
    assert.notEqual(exit.code, 0, l.logs());
    assert.match(l.logs(), new RegExp(`scgi-supervise: ERR_LISTEN_IN_USE: .*127\\.0\\.0\\.1:${port}.*; `), l.logs());
    assert.ok(exit.ms < 5000, `took ${exit.ms}ms`);
  });

  test('a stale unix socket file is replaced and served', async () => {
    const dir = await tempDir();
    const path = join(dir, 'stale.sock');
    // A process that binds the socket and dies by SIGKILL leaves the file behind with nobody listening.
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    await new Promise((r) => child.on('exit', r));
    assert.ok(existsSync(path), 'the stale socket file was not created');
    const refused = await exchange({ kind: 'unix', path }, [request('GET', '/')], { timeoutMs: 2000 });
    assert.equal(refused.ending, 'refused', show(refused));
    const l = await launch('life-echo.cjs', 1, `unix:${path}`);
    await l.waitForLog(/ready: 1 workers on /, 10_000);
    const o = await exchange({ kind: 'unix', path }, [request('GET', '/after-stale')]);
    assert.equal(parseResponse(o.data).status, 200, show(o));
    process.kill(l.pid, 'SIGTERM');
    assert.equal((await exitOf(l, 10_000)).code, 0, l.logs());
  });

  test('a live unix socket is an error, and its file is left in place', async () => {
    const dir = await tempDir();
    const path = join(dir, 'live.sock');
    const owner = createServer((c) => {
      c.on('error', () => {}); // the supervisor's probe may connect and reset
      c.resume(); // read to EOF, so the connection closes and owner.close() can finish
      c.end('owner');
    });
    await listenOn(owner, path);
    cleanups.push(() => new Promise<void>((r) => owner.close(() => r())));
    const l = await launch('life-echo.cjs', 1, `unix:${path}`);
    const exit = await exitOf(l, 10_000);
    assert.notEqual(exit.code, 0, l.logs());
    assert.match(l.logs(), /scgi-supervise: ERR_LISTEN_(SOCKET_ALIVE|IN_USE): /, l.logs());
    const o = await exchange({ kind: 'unix', path }, [], { timeoutMs: 2000 });
    assert.equal(o.data.toString(), 'owner', `the live socket was taken over or removed: ${show(o)}`);
  });

  test('--socket-mode 0660 gives a 0660 socket; the default is 0666', async () => {
    const [restricted, open] = await Promise.all([
      serve({ app: 'life-echo.cjs', kind: 'unix', workers: 1, args: ['--socket-mode', '0660'] }),
      serve({ app: 'life-echo.cjs', kind: 'unix', workers: 1 }),
    ]);
    cleanups.push(() => restricted.cleanup(), () => open.cleanup());
    const mode = (s: typeof open): number => statSync(s.target.kind === 'unix' ? s.target.path : '').mode & 0o777;
    assert.equal(mode(restricted).toString(8), '660');
    assert.equal(mode(open).toString(8), '666');
  });
});
