// Socket activation (issue 14 item 1): under Debian's systemd-socket-activate the master serves on the passed
// socket with no --listen, binds nothing else, keeps systemd's backlog, refuses a --listen beside it; and a
// restart of the supervisor loses no request while the socket stays with its holder.
// systemd-socket-activate (without --accept) EXECs the daemon: after that nobody but our master holds the socket,
// so it cannot show a restart. The restart test uses a small holder of its own (python3, in the role of PID 1):
// it keeps the listening socket and starts the supervisor as a child with LISTEN_FDS/LISTEN_PID, again and again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APPS, CLI, ROOT } from '../helpers/paths.js';
import { freePort, killGroup, spawnCollecting, stopProcess, waitFor, isAlive, signalPid } from '../helpers/frontends/process-utils.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { exchange, parseResponse, request } from '../helpers/scgi-raw.js';

const ACTIVATE = '/usr/bin/systemd-socket-activate';

function listeningTcp(): { port: number; backlog: number; pids: number[] }[] {
  const out = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((line) => {
    const cols = line.trim().split(/\s+/);
    return { port: Number(cols[3]!.slice(cols[3]!.lastIndexOf(':') + 1)), backlog: Number(cols[2]), pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])) };
  });
}

test('under systemd-socket-activate: serves through nginx on the passed socket, binds nothing else, keeps its backlog', async (t) => {
  assert.ok(existsSync(ACTIVATE), `${ACTIVATE} is missing (Debian package systemd)`);
  const port = await freePort();
  const name = `sa-${process.pid}`;
  const { proc, output } = spawnCollecting(ACTIVATE, ['-l', `127.0.0.1:${port}`, process.execPath, CLI, 'start', `${APPS}/pid.cjs`, '-w', '2', '--name', name], { cwd: ROOT });
  t.after(async () => {
    await stopProcess(proc, { signal: 'SIGTERM', graceMs: 5000 });
    killGroup(proc.pid!);
  });
  // systemd-socket-activate waits for the first connection, then execs the daemon (so the master has its pid, and
  // LISTEN_PID matches): nginx's first request starts it, as a socket unit would.
  await waitFor('socket', () => /Listening on/.test(output()) || undefined, { timeoutMs: 10_000 });
  const nginx = await startNginx({ backends: { tcp: { host: '127.0.0.1', port } }, t });
  const first = await httpRequest({ port: nginx.ports.tcp!, path: '/', timeoutMs: 20_000 });
  assert.equal(first.status, 200);
  await waitFor('ready line', () => /ready: 2 workers on fd:3/.test(output()) || undefined, { timeoutMs: 20_000 }).catch((e) => {
    throw new Error(`${(e as Error).message}\n${output()}`);
  });
  const res = await httpRequest({ port: nginx.ports.tcp!, path: '/' });
  assert.equal(res.status, 200);

  const workers = [...output().matchAll(/worker \d+ \(pid (\d+)\) ready/g)].map((m) => Number(m[1]));
  const ours = new Set([proc.pid!, ...workers]);
  const mine = listeningTcp().filter((l) => l.pids.some((p) => ours.has(p)));
  // Only the inherited socket: before the fix the master also bound 127.0.0.1:4000.
  assert.deepEqual(mine.map((l) => l.port), [port], JSON.stringify(mine));
  // systemd-socket-activate listens with SOMAXCONN (4096 here); workers re-listening with our 511 would shrink it.
  const somaxconn = Number(execFileSync('cat', ['/proc/sys/net/core/somaxconn'], { encoding: 'utf8' }).trim());
  assert.equal(mine[0]!.backlog, Math.min(somaxconn, 4096));
});

test('a Unix socket passed by systemd-socket-activate: served, its backlog kept, and never unlinked by us', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scgi-sa-unix-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'scgi.sock');
  const { proc, output } = spawnCollecting(ACTIVATE, ['-l', path, process.execPath, CLI, 'start', `${APPS}/pid.cjs`, '-w', '2', '--name', `sau-${process.pid}`], { cwd: ROOT });
  t.after(async () => {
    await stopProcess(proc, { signal: 'SIGTERM', graceMs: 5000 });
    killGroup(proc.pid!);
  });
  await waitFor('socket', () => /Listening on/.test(output()) || undefined, { timeoutMs: 10_000 });
  const first = exchange({ kind: 'unix', path }, [request('GET', '/')], { timeoutMs: 20_000 }); // starts it
  await waitFor('ready line', () => /ready: 2 workers on fd:3/.test(output()) || undefined, { timeoutMs: 20_000 }).catch((e) => {
    throw new Error(`${(e as Error).message}\n${output()}`);
  });
  assert.equal(parseResponse((await first).data).status, 200);
  const line = execFileSync('ss', ['-lxH'], { encoding: 'utf8' }).split('\n').find((l) => l.includes(path));
  assert.ok(line, 'the socket listens');
  assert.equal(Number(line.trim().split(/\s+/)[3]), Math.min(Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8')), 4096), line);
  const exit = await stopProcess(proc, { signal: 'SIGTERM', graceMs: 10_000 });
  assert.equal(exit.code, 0, output());
  assert.ok(existsSync(path), 'the inherited socket file was left where systemd made it');
});

test('under socket activation, a --listen beside the passed socket exits 64 with ERR_CONFIG_CONFLICT', async (t) => {
  const port = await freePort();
  const other = await freePort();
  const { proc, output } = spawnCollecting(ACTIVATE, ['-l', `127.0.0.1:${port}`, process.execPath, CLI, 'start', `${APPS}/pid.cjs`, '-w', '1', '--listen', `127.0.0.1:${other}`, '--name', `sac-${process.pid}`], { cwd: ROOT });
  t.after(() => killGroup(proc.pid!));
  await waitFor('socket', () => /Listening on/.test(output()) || undefined, { timeoutMs: 10_000 });
  void exchange({ kind: 'tcp', host: '127.0.0.1', port }, [request('GET', '/')], { timeoutMs: 15_000 }); // starts it
  const exit = await waitFor('exit', () => (proc.exitCode !== null ? proc.exitCode : undefined), { timeoutMs: 15_000 });
  assert.equal(exit, 64, output());
  assert.match(output(), /ERR_CONFIG_CONFLICT/);
  assert.match(output(), new RegExp(`127\\.0\\.0\\.1:${other}`));
  assert.match(output(), /fd:3/);
});

// The holder: binds and listens once, then starts the supervisor as its child each time it reads "start".
const HOLDER = String.raw`
import os, signal, socket, sys, subprocess
def reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0: pass
    except ChildProcessError: pass
signal.signal(signal.SIGCHLD, reap)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0)); s.listen(4096)
print("port", s.getsockname()[1], flush=True)
os.set_inheritable(s.fileno(), True)
for line in sys.stdin:
    def child():
        os.dup2(s.fileno(), 3)
        os.environ["LISTEN_FDS"] = "1"; os.environ["LISTEN_PID"] = str(os.getpid())
    p = subprocess.Popen(sys.argv[1:], preexec_fn=child, pass_fds=(3,) if s.fileno() == 3 else (s.fileno(),), close_fds=False)
    print("child", p.pid, flush=True)
`;

test('the supervisor restarted under load behind a socket holder loses no request (the queue stays with the socket)', async (t) => {
  const args = [process.execPath, CLI, 'start', `${APPS}/pid.cjs`, '-w', '2', '--name', `sar-${process.pid}`, '--graceful-timeout', '10'];
  const holder = spawn('python3', ['-c', HOLDER, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  holder.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  holder.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const children: number[] = [];
  t.after(async () => {
    for (const pid of children) if (isAlive(pid)) signalPid(pid, 'SIGTERM');
    await waitFor('children gone', () => children.every((p) => !isAlive(p)) || undefined, { timeoutMs: 10_000 }).catch(() => undefined);
    holder.stdin!.end();
    await stopProcess(holder, { signal: 'SIGTERM', graceMs: 3000 });
    killGroup(holder.pid!);
  });
  const port = Number((await waitFor('port', () => /port (\d+)/.exec(out)?.[1], { timeoutMs: 10_000 })));
  const startOne = async (n: number): Promise<number> => {
    holder.stdin!.write('start\n');
    const pid = Number(await waitFor(`child ${n}`, () => [...out.matchAll(/child (\d+)/g)][n - 1]?.[1], { timeoutMs: 10_000 }));
    children.push(pid);
    await waitFor(`ready ${n}`, () => (out.match(/ready: 2 workers on fd:3/g)?.length ?? 0) >= n || undefined, { timeoutMs: 20_000 }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${out}`);
    });
    return pid;
  };
  const first = await startOne(1);

  // 8 clients in a loop, each request on its own connection, for the whole restart.
  let stop = false;
  const results: { ok: boolean; detail: string }[] = [];
  const client = async () => {
    while (!stop) {
      const o = await exchange({ kind: 'tcp', host: '127.0.0.1', port }, [request('GET', '/')], { timeoutMs: 20_000 });
      let status = 0;
      try {
        status = parseResponse(o.data).status;
      } catch {
        status = 0;
      }
      results.push({ ok: status === 200, detail: `${o.ending} ${status} ${o.data.length}B` });
    }
  };
  const clients = Array.from({ length: 8 }, client);
  await waitFor('load running', () => results.length >= 200 || undefined, { timeoutMs: 20_000 });
  const before = results.length;
  signalPid(first, 'SIGTERM');
  await waitFor('first supervisor gone', () => !isAlive(first) || undefined, { timeoutMs: 15_000 });
  await startOne(2);
  const afterRestart = results.length;
  await waitFor('load after restart', () => results.length >= afterRestart + 200 || undefined, { timeoutMs: 20_000 });
  stop = true;
  await Promise.all(clients);
  const failed = results.filter((r) => !r.ok);
  assert.ok(afterRestart > before, 'requests went on while no supervisor ran');
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${results.length} requests failed\n${out}`);
});
