// `scgi-supervise request` against the real supervisor serving an unchanged Express app (fixtures/apps/express.cjs)
// over TCP and a unix socket: bodies byte for byte, JSON POST, -i, exit codes 0/1, and 2 once the supervisor is gone.
// The exact request bytes are checked against a fake server in request-cli.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/paths.js';
import { killQuietly } from '../helpers/scgi-raw.js';
import { startSupervisor } from '../helpers/supervisor.js';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function runCli(args: string[], boundMs = 15_000): Promise<Run> {
  const env = { ...process.env };
  delete env.SCGI_SUPERVISE_LISTEN;
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const timer = setTimeout(() => killQuietly([child.pid!]), boundMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    }),
  );
}

function pattern(size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = i % 251;
  return buf;
}

for (const kind of ['tcp', 'unix'] as const) {
  test(`request against a real supervisor over ${kind}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'scgi-request-sup-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const sup = await startSupervisor({
      app: 'express.cjs',
      workers: 2,
      t,
      ...(kind === 'unix' ? { listen: `unix:${join(dir, 'app.sock')}` } : {}),
      args: ['--control', join(dir, 'control.sock'), '--max-body-bytes', String(2 * 1024 * 1024)],
    });
    const l = ['-l', sup.address];

    await t.test('GET: the UTF-8 body byte for byte, exit 0', async () => {
      const r = await runCli(['request', ...l, '/text']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString('utf8'), 'héllo wörld ✓\n');
    });

    await t.test('POST JSON through express.json()', async () => {
      const r = await runCli(['request', ...l, '-H', 'Content-Type: application/json', '-d', '{"name":"ada","n":[1,2]}', '/json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout.toString('utf8')), { name: 'ada', n: [1, 2] });
    });

    await t.test('the app sees the method, headers, client address and a 1 MiB body', async () => {
      const body = pattern(1024 * 1024);
      const file = join(dir, 'body.bin');
      writeFileSync(file, body);
      const r = await runCli(['request', ...l, '-X', 'PUT', '-H', 'X-Trace: abc', '-d', `@${file}`, '/echo?q=1']);
      assert.equal(r.code, 0, r.stderr);
      const echo = JSON.parse(r.stdout.toString('utf8')) as Record<string, unknown>;
      assert.equal(echo.method, 'PUT');
      assert.equal(echo.url, '/echo?q=1');
      assert.equal(echo.ip, '127.0.0.1');
      assert.equal((echo.headers as Record<string, string>)['x-trace'], 'abc');
      assert.equal((echo.headers as Record<string, string>).host, 'localhost');
      assert.equal(echo.bodyLength, body.length);
      assert.equal(echo.bodySha256, createHash('sha256').update(body).digest('hex'));
    });

    await t.test('a 5 MiB response reaches stdout intact', async () => {
      const r = await runCli(['request', ...l, '/big']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length, 5 * 1024 * 1024);
      assert.ok(r.stdout.equals(pattern(5 * 1024 * 1024)));
    });

    await t.test('-i shows the status line and headers of a redirect', async () => {
      const r = await runCli(['request', ...l, '-i', '/redirect']);
      assert.equal(r.code, 0, r.stderr);
      const head = r.stdout.toString('latin1').split('\r\n\r\n')[0]!.split('\r\n');
      assert.match(head[0]!, /^Status: 302\b/);
      assert.ok(head.some((line) => /^location: \/text$/i.test(line)), head.join('\n'));
    });

    await t.test('4xx and 5xx exit 1', async () => {
      assert.equal((await runCli(['request', ...l, '/status/404'])).code, 1);
      assert.equal((await runCli(['request', ...l, '/error'])).code, 1);
    });

    await t.test('an early 413 for a body over --max-body-bytes still arrives (exit 1), though the body is not read', async () => {
      const file = join(dir, 'too-big.bin');
      writeFileSync(file, pattern(3 * 1024 * 1024));
      const r = await runCli(['request', ...l, '-i', '-d', `@${file}`, '/echo']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout.toString('latin1'), /^Status: 413\b/);
    });

    await t.test('no supervisor, no response: exit 2', async () => {
      await sup.stop();
      const r = await runCli(['request', ...l, '/text']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /ERR_REQUEST_FAILED/);
    });
  });
}
