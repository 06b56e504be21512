// The app's stdout and stderr go through the master (master/worker-output.ts): with --log-format json every line
// the master prints is one JSON object, each app line one record with worker, pid and stream, never split or merged
// (issue 14 item 5); with text a `worker N[pid]| ` prefix; past 64 KiB marked parts; and a worker whose master died
// survives EPIPE on its stdout. Relies on the `worker N (pid P) ready` log line for the pid of each slot.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.js';
import { exchange, parseResponse, request, type Target } from '../helpers/scgi-raw.js';
import { waitFor } from '../helpers/frontends/process-utils.js';

const APP = 'output-lines.cjs';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scgi-output-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The master's stdout and stderr kept apart (the helper's logs() interleaves them chunk by chunk). */
function collect(sup: Supervisor): { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  sup.proc.stdout!.on('data', (s: string | Buffer) => (out += String(s)));
  sup.proc.stderr!.on('data', (s: string | Buffer) => (err += String(s)));
  return { stdout: () => out, stderr: () => err };
}

/** Complete lines only (a trailing partial line may still be on its way). */
const lines = (text: string): string[] => text.slice(0, text.lastIndexOf('\n') + 1).split('\n').slice(0, -1);

function records(text: string, where: string): Record<string, unknown>[] {
  return lines(text).map((line) => {
    let rec: unknown;
    assert.doesNotThrow(() => (rec = JSON.parse(line)), `not JSON on ${where}: ${line.slice(0, 200)}`);
    assert.ok(typeof rec === 'object' && rec !== null && !Array.isArray(rec), `not an object on ${where}: ${line.slice(0, 200)}`);
    return rec as Record<string, unknown>;
  });
}

async function get(target: Target, uri: string, timeoutMs = 10_000): Promise<string> {
  const o = await exchange(target, [request('GET', uri)], { timeoutMs });
  const res = parseResponse(o.data);
  assert.equal(res.status, 200, `${uri}: ${o.ending} ${o.data.toString('latin1').slice(0, 200)}`);
  return res.body.toString('utf8');
}

/** Worker id → pid, from the ready lines. */
function pidsById(sup: Supervisor): Map<number, number> {
  const ids = new Map<number, number>();
  for (const m of sup.logs().matchAll(/worker (\d+) \(pid (\d+)\) ready/g)) ids.set(Number(m[1]), Number(m[2]));
  return ids;
}

test('json: 20 parallel requests, a 3000-byte stdout line and a stderr line each: each once, whole, in its own record', async (t) => {
  const dir = await tempDir(t);
  const target: Target = { kind: 'unix', path: join(dir, 'scgi.sock') };
  const sup = await startSupervisor({ app: APP, workers: 2, listen: `unix:${target.path}`, args: ['--log-format', 'json'], t });
  const out = collect(sup);
  const tags = Array.from({ length: 20 }, (_, i) => `req${i}`);
  await Promise.all(tags.map((tag) => get(target, `/line?tag=${tag}&bytes=3000`)));

  const seen = (text: string, needle: string) => tags.every((tag) => text.includes(`"msg":"${tag}${needle}`));
  await waitFor('every app line in the master output', () => seen(out.stdout(), ':') && seen(out.stderr(), ' err') || undefined, {
    timeoutMs: 10_000,
  }).catch((err: Error) => assert.fail(`${err.message}\n--- stdout ---\n${out.stdout().slice(0, 3000)}\n--- stderr ---\n${out.stderr()}`));

  const stdout = records(out.stdout(), 'stdout');
  const stderr = records(out.stderr(), 'stderr');
  const pids = pidsById(sup);
  for (const tag of tags) {
    const full = `${tag}:` + 'x'.repeat(3000 - tag.length - 1);
    const mine = stdout.filter((r) => typeof r.msg === 'string' && r.msg.includes(`${tag}:`));
    assert.equal(mine.length, 1, `${tag}: ${mine.length} stdout records`);
    const r = mine[0]!;
    assert.equal(r.msg, full, `${tag}: the line whole, nothing merged into it`);
    assert.equal(r.stream, 'stdout');
    assert.ok(r.worker === 1 || r.worker === 2, `worker ${String(r.worker)}`);
    assert.equal(r.pid, pids.get(r.worker as number), `${tag}: pid of worker ${String(r.worker)}`);
    const errs = stderr.filter((e) => typeof e.msg === 'string' && e.msg.includes(`${tag} err`));
    assert.equal(errs.length, 1, `${tag}: ${errs.length} stderr records`);
    assert.equal(errs[0]!.msg, `${tag} err`);
    assert.equal(errs[0]!.stream, 'stderr');
    assert.equal(errs[0]!.pid, pids.get(errs[0]!.worker as number));
  }
  // The workers' own records come through as they are, not wrapped (no `stream`, their own msg).
  await sup.stop();
  const after = records(out.stderr(), 'stderr');
  assert.ok(after.some((r) => r.name === 'master' && r.msg === 'stopped'), 'the master\'s own records, on the same stderr');
  const own = after.filter((r) => typeof r.name === 'string' && r.name.startsWith('worker ') && r.stream === undefined);
  assert.ok(own.some((r) => String(r.msg).startsWith('draining')), 'a worker\'s own "draining" record, passed on unwrapped');
  assert.ok(!after.some((r) => typeof r.msg === 'string' && r.msg.startsWith('{"level"')), 'no record wrapped in another');
});

test('text: app lines get a worker N[pid]| prefix; a line past 64 KiB comes in marked parts (json too)', async (t) => {
  const dir = await tempDir(t);
  const target: Target = { kind: 'unix', path: join(dir, 'scgi.sock') };
  const sup = await startSupervisor({ app: APP, workers: 1, listen: `unix:${target.path}`, t });
  const out = collect(sup);
  await get(target, '/line?tag=short&bytes=40');
  await get(target, '/line?tag=long&bytes=70000');
  const pid = pidsById(sup).get(1)!;
  await waitFor('the long line', () => out.stdout().includes('long:') && out.stderr().includes('long err') || undefined, { timeoutMs: 10_000 });
  await waitFor('its last part', () => /part 2\| x+\n/.test(out.stdout()) || undefined, { timeoutMs: 10_000 });
  const stdout = lines(out.stdout());
  assert.ok(stdout.includes(`worker 1[${pid}]| short:${'x'.repeat(34)}`), stdout.join('\n').slice(0, 500));
  assert.ok(lines(out.stderr()).includes(`worker 1[${pid}]| short err`));
  const parts = stdout.filter((l) => l.startsWith(`worker 1[${pid}] part `));
  assert.equal(parts.length, 2);
  assert.ok(parts[0]!.startsWith(`worker 1[${pid}] part 1+| long:`));
  assert.ok(parts[1]!.startsWith(`worker 1[${pid}] part 2| x`));
  const text = parts.map((l) => l.slice(l.indexOf('| ') + 2)).join('');
  assert.equal(text, 'long:' + 'x'.repeat(70000 - 5));
  assert.equal(parts[0]!.length - parts[0]!.indexOf('| ') - 2, 65536);
});

test('json: a line past 64 KiB is records with part and more', async (t) => {
  const dir = await tempDir(t);
  const target: Target = { kind: 'unix', path: join(dir, 'scgi.sock') };
  const sup = await startSupervisor({ app: APP, workers: 1, listen: `unix:${target.path}`, args: ['--log-format', 'json'], t });
  const out = collect(sup);
  await get(target, '/line?tag=long&bytes=140000');
  await waitFor('the last part', () => out.stdout().includes('"part":3,"more":false') || undefined, { timeoutMs: 10_000 });
  const parts = records(out.stdout(), 'stdout').filter((r) => r.part !== undefined);
  assert.deepEqual(parts.map((r) => [r.part, r.more, String(r.msg).length]), [[1, true, 65536], [2, true, 65536], [3, false, 140000 - 131072]]);
  assert.equal(parts.map((r) => r.msg).join(''), 'long:' + 'x'.repeat(140000 - 5));
});

test('a worker whose master was SIGKILLed finishes its request; EPIPE on its stdout does not crash it', async (t) => {
  const dir = await tempDir(t);
  const target: Target = { kind: 'unix', path: join(dir, 'scgi.sock') };
  const marker = join(dir, 'exit');
  const sup = await startSupervisor({
    app: APP,
    workers: 1,
    listen: `unix:${target.path}`,
    args: ['--log-format', 'json', '--env', `EXIT_MARKER=${marker}`],
    t,
  });
  const pid = pidsById(sup).get(1)!;
  const answer = get(target, '/orphan?tag=late');
  // The handler marks its start, then spins until its parent changes: kill the master then, and the handler writes
  // to a pipe nobody reads any more.
  await waitFor('the request to reach the handler', () => existsSync(`${marker}.started`) || undefined, { timeoutMs: 10_000 });
  process.kill(sup.pid, 'SIGKILL');
  assert.equal(await answer, 'ok\n', 'the request in flight is answered after the master died');
  const file = `${marker}.${pid}`;
  await waitFor('the worker to exit', () => existsSync(file) || undefined, { timeoutMs: 10_000 });
  // 5 = EXIT_MASTER_GONE (worker/exit-codes.ts); 1 would be the crash of an uncaught EPIPE.
  assert.equal(readFileSync(file, 'utf8'), '5');
});

test('json: a start that fails (the app throws while loading) prints JSON lines only, the fatal error included', async () => {
  const { spawnSync } = await import('node:child_process');
  const { CLI, APPS, ROOT } = await import('../helpers/paths.js');
  const { freePort } = await import('../helpers/frontends/process-utils.js');
  const port = await freePort();
  const r = spawnSync(process.execPath, [CLI, 'start', join(APPS, 'throws-at-load.cjs'), '-w', '1', '-l', `127.0.0.1:${port}`, '--log-format', 'json'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  const recs = records(r.stderr, 'stderr');
  assert.ok(recs.some((rec) => rec.name === 'master' && rec.code === 'ERR_APP_LOAD_FAILED' && rec.level === 60), r.stderr);
});

test('what a worker writes as it exits is printed before the master exits', async (t) => {
  const dir = await tempDir(t);
  const sup = await startSupervisor({ app: APP, workers: 2, listen: `unix:${join(dir, 'scgi.sock')}`, args: ['--env', 'LAST_WORDS=1'], t });
  const pids = sup.workerPids();
  const exit = await sup.stop();
  assert.equal(exit.code, 0);
  for (const pid of pids) assert.match(sup.logs(), new RegExp(`\\| last words of ${pid}\\n`), sup.logs());
});
