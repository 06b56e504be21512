// `scgi-supervise request` as a real process against a tiny SCGI server written here with node:net, which records
// the exact bytes it receives and answers fixed responses (or resets, or hangs, or closes early). Checks the request
// bytes (nginx-like: CONTENT_LENGTH first, SCGI=1, HTTP_* mapping, body), -i output, and exit codes 0/1/2/64.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/paths.js';
import { block, frame, freePort, killQuietly, type Pair } from '../helpers/scgi-raw.js';

type Behaviour =
  | { answer: Buffer | string } // after the whole request arrived: write it, then close
  | { reset: true } // RST as soon as the first byte arrives
  | { closeEarly: Buffer | string } // write these bytes (maybe nothing) on the first byte, then FIN
  | { hang: true }; // read, never answer

interface Fake {
  server: Server;
  /** Every connection's received bytes and the client's port, in arrival order. */
  seen: Array<{ data: Buffer; remotePort: number | undefined }>;
  close(): Promise<void>;
}

/** Bytes of a whole request: `<len>:` + len bytes + `,` + CONTENT_LENGTH bytes (the first pair's value). */
function requestComplete(data: Buffer): boolean {
  const colon = data.indexOf(0x3a);
  if (colon === -1) return false;
  const len = Number(data.subarray(0, colon).toString('latin1'));
  const headerEnd = colon + 1 + len + 1;
  if (data.length < headerEnd) return false;
  const fields = data.subarray(colon + 1, colon + 1 + len).toString('latin1').split('\0');
  assert.equal(fields[0], 'CONTENT_LENGTH', 'the client must send CONTENT_LENGTH first');
  return data.length >= headerEnd + Number(fields[1]);
}

async function fakeServer(listenOn: { port: number; host?: string } | { path: string }, behaviour: Behaviour): Promise<Fake> {
  const seen: Fake['seen'] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const record = { data: Buffer.alloc(0), remotePort: socket.remotePort };
    seen.push(record);
    let done = false;
    socket.on('data', (chunk: Buffer) => {
      record.data = Buffer.concat([record.data, chunk]);
      if (done) return;
      if ('reset' in behaviour) {
        done = true;
        socket.resetAndDestroy();
      } else if ('closeEarly' in behaviour) {
        done = true;
        socket.end(behaviour.closeEarly);
      } else if ('answer' in behaviour && requestComplete(record.data)) {
        done = true;
        socket.end(behaviour.answer);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('port' in listenOn) server.listen(listenOn.port, listenOn.host ?? '127.0.0.1', resolve);
    else server.listen(listenOn.path, resolve);
  });
  return {
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/** Runs the built CLI; kills it by pid if it outlives `boundMs` (the assertion on `code` then fails). */
function runCli(args: string[], options: { stdin?: Buffer; boundMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const started = Date.now();
  const env = { ...process.env, ...options.env };
  delete env.SCGI_SUPERVISE_LISTEN; // the default address must not come from the caller's environment
  Object.assign(env, options.env);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  child.stdin.end(options.stdin ?? Buffer.alloc(0));
  const timer = setTimeout(() => killQuietly([child.pid!]), options.boundMs ?? 15_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err, ms: Date.now() - started });
    }),
  );
}

/** What nginx 1.22 with Debian's scgi_params sends for a request from `curl`-like client headers. */
function expectedRequest(o: {
  method: string;
  uri: string;
  remotePort: number;
  serverPort: number;
  headers?: Pair[];
  contentType?: string;
  body?: Buffer;
}): Buffer {
  const body = o.body ?? Buffer.alloc(0);
  const q = o.uri.indexOf('?');
  return frame(
    block([
      ['CONTENT_LENGTH', String(body.length)],
      ['REQUEST_METHOD', o.method],
      ['REQUEST_URI', o.uri],
      ['QUERY_STRING', q === -1 ? '' : o.uri.slice(q + 1)],
      ['CONTENT_TYPE', o.contentType ?? ''],
      ['DOCUMENT_URI', q === -1 ? o.uri : o.uri.slice(0, q)],
      ['DOCUMENT_ROOT', '/var/www/html'],
      ['SCGI', '1'],
      ['SERVER_PROTOCOL', 'HTTP/1.1'],
      ['REQUEST_SCHEME', 'http'],
      ['REMOTE_ADDR', '127.0.0.1'],
      ['REMOTE_PORT', String(o.remotePort)],
      ['SERVER_PORT', String(o.serverPort)],
      ['SERVER_NAME', 'localhost'],
      ['HTTP_HOST', 'localhost'],
      ...(o.headers ?? []),
    ]),
    body,
  );
}

const OK = 'Status: 200 OK\r\nContent-Type: text/plain\r\nX-Answer: 42\r\n\r\nhello from the fake\n';

async function tcpFake(t: { after(fn: () => Promise<void>): void }, behaviour: Behaviour): Promise<{ fake: Fake; port: number }> {
  const port = await freePort();
  const fake = await fakeServer({ port }, behaviour);
  t.after(() => fake.close());
  return { fake, port };
}

test('GET: exact request bytes (nginx order, HTTP_* mapping, repeated headers kept), body on stdout, exit 0', async (t) => {
  const { fake, port } = await tcpFake(t, { answer: OK });
  // The path after repeated -H: each -H takes exactly one value.
  const r = await runCli(['request', '-l', `127.0.0.1:${port}`, '-H', 'X-Foo: a', '-H', 'x-foo:b', '-H', 'Accept: text/plain', '/hello/w%C3%B6rld?x=1&y=%20']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString('latin1'), 'hello from the fake\n');
  assert.equal(fake.seen.length, 1);
  const got = fake.seen[0]!;
  const expected = expectedRequest({
    method: 'GET',
    uri: '/hello/w%C3%B6rld?x=1&y=%20',
    remotePort: got.remotePort!,
    serverPort: port,
    headers: [['HTTP_X_FOO', 'a'], ['HTTP_X_FOO', 'b'], ['HTTP_ACCEPT', 'text/plain']],
  });
  assert.equal(got.data.toString('latin1'), expected.toString('latin1'));
});

test('POST with -d: CONTENT_LENGTH, CONTENT_TYPE, HTTP_CONTENT_* and the body bytes', async (t) => {
  const { fake, port } = await tcpFake(t, { answer: 'Status: 201 Created\r\n\r\n' });
  const json = '{"name":"ada","city":"Zürich"}';
  const r = await runCli(['request', '/api/users', '-l', `${port}`, '-H', 'Content-Type: application/json', '-d', json]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.length, 0);
  const body = Buffer.from(json, 'utf8');
  const got = fake.seen[0]!;
  const expected = expectedRequest({
    method: 'POST',
    uri: '/api/users',
    remotePort: got.remotePort!,
    serverPort: port,
    contentType: 'application/json',
    headers: [['HTTP_CONTENT_TYPE', 'application/json'], ['HTTP_CONTENT_LENGTH', String(body.length)]],
    body,
  });
  assert.deepEqual(got.data, expected);
});

test('-X overrides the method; -d @file and -d @- send binary bodies unchanged', async (t) => {
  const { fake, port } = await tcpFake(t, { answer: OK });
  const dir = mkdtempSync(join(tmpdir(), 'scgi-request-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const binary = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
  const file = join(dir, 'payload.bin');
  writeFileSync(file, binary);

  const fromFile = await runCli(['request', '/upload', '-l', `127.0.0.1:${port}`, '-X', 'PUT', '-d', `@${file}`]);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  const fromStdin = await runCli(['request', '/upload', '-l', `127.0.0.1:${port}`, '-d', '@-'], { stdin: binary });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);

  for (const [i, method] of [[0, 'PUT'], [1, 'POST']] as const) {
    const got = fake.seen[i]!;
    const expected = expectedRequest({
      method,
      uri: '/upload',
      remotePort: got.remotePort!,
      serverPort: port,
      headers: [['HTTP_CONTENT_LENGTH', '512']],
      body: binary,
    });
    assert.deepEqual(got.data, expected, method);
  }
});

test('-i prints the status line and headers, then the body; a 404 exits 1', async (t) => {
  const { port } = await tcpFake(t, { answer: 'Status: 404 Not Found\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nnope' });
  const r = await runCli(['request', '-i', '/missing', '-l', `127.0.0.1:${port}`]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout.toString('latin1'), 'Status: 404 Not Found\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nnope');
});

test('exit codes follow the status: 302 → 0, 400 → 1, 503 → 1; a missing Status is 200', async (t) => {
  const cases: Array<[string, number]> = [
    ['Status: 302 Found\r\nLocation: /there\r\n\r\n', 0],
    ['Status: 399 Odd\r\n\r\n', 0],
    ['Status: 400 Bad Request\r\n\r\n', 1],
    ['Status: 503 Service Unavailable\r\n\r\nbusy', 1],
    ['Content-Type: text/plain\r\n\r\nimplicit 200', 0],
  ];
  for (const [answer, code] of cases) {
    const port = await freePort();
    const fake = await fakeServer({ port }, { answer });
    try {
      const r = await runCli(['request', '/', '-l', `127.0.0.1:${port}`]);
      assert.equal(r.code, code, `${JSON.stringify(answer)}: ${r.stderr}`);
    } finally {
      await fake.close();
    }
  }
});

test('a binary response body reaches stdout byte for byte', async (t) => {
  const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
  const { port } = await tcpFake(t, { answer: Buffer.concat([Buffer.from('Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n'), payload]) });
  const r = await runCli(['request', '/blob', '-l', `127.0.0.1:${port}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout, payload);
});

test('no response: refused on a closed port → exit 2 with ERR_REQUEST_FAILED', async () => {
  const port = await freePort(); // nothing listens there any more
  const r = await runCli(['request', '/', '-l', `127.0.0.1:${port}`]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^scgi-supervise: ERR_REQUEST_FAILED: /);
  assert.equal(r.stdout.length, 0);
});

test('no response: a server that resets → exit 2', async (t) => {
  const { port } = await tcpFake(t, { reset: true });
  const r = await runCli(['request', '/', '-l', `127.0.0.1:${port}`]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /ERR_REQUEST_FAILED/);
});

test('no response: a server that closes with nothing, or inside the head → exit 2', async (t) => {
  for (const closeEarly of ['', 'Status: 200 OK\r\nContent-Ty']) {
    const port = await freePort();
    const fake = await fakeServer({ port }, { closeEarly });
    try {
      const r = await runCli(['request', '/', '-l', `127.0.0.1:${port}`]);
      assert.equal(r.code, 2, `${JSON.stringify(closeEarly)}: ${r.stderr}`);
      assert.match(r.stderr, /ERR_REQUEST_FAILED/);
    } finally {
      await fake.close();
    }
  }
});

test('no response: a server that hangs past --timeout → exit 2 with ERR_REQUEST_TIMEOUT, on time', async (t) => {
  const { port } = await tcpFake(t, { hang: true });
  const r = await runCli(['request', '/', '-l', `127.0.0.1:${port}`, '--timeout', '0.5'], { boundMs: 10_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /ERR_REQUEST_TIMEOUT/);
  assert.ok(r.ms >= 500, `gave up after ${r.ms}ms, before the timeout`);
  assert.ok(r.ms < 5000, `took ${r.ms}ms for a 0.5s timeout`);
});

test('unix socket addresses: request bytes (SERVER_PORT 80, REMOTE_PORT 0) and the answer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scgi-request-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'app.sock');
  const fake = await fakeServer({ path }, { answer: OK });
  t.after(() => fake.close());
  const r = await runCli(['request', 'health', '-l', `unix:${path}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString('latin1'), 'hello from the fake\n');
  assert.equal(fake.seen[0]!.data.toString('latin1'), expectedRequest({ method: 'GET', uri: '/health', remotePort: 0, serverPort: 80 }).toString('latin1'));

  const missing = await runCli(['request', '/', '-l', `unix:${join(dir, 'absent.sock')}`]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /ERR_REQUEST_FAILED/);
});

test('IPv6 addresses: [::1]:PORT', async (t) => {
  const port = await freePort();
  const fake = await fakeServer({ port, host: '::1' }, { answer: OK });
  t.after(() => fake.close());
  const r = await runCli(['request', '/v6', '-l', `[::1]:${port}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString('latin1'), 'hello from the fake\n');
  const got = fake.seen[0]!;
  assert.equal(got.data.toString('latin1'), expectedRequest({ method: 'GET', uri: '/v6', remotePort: got.remotePort!, serverPort: port }).toString('latin1'));
});

test('the default address comes from SCGI_SUPERVISE_LISTEN when set', async (t) => {
  const { fake, port } = await tcpFake(t, { answer: OK });
  const r = await runCli(['request', '/env'], { env: { SCGI_SUPERVISE_LISTEN: `127.0.0.1:${port}` } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fake.seen.length, 1);
});

test('bad arguments are usage errors (exit 64), not "no response"', async () => {
  for (const args of [
    ['-l', 'nowhere'],
    ['-l', '127.0.0.1:4000', '-H', 'no colon here'],
    ['-l', '127.0.0.1:4000', '--timeout', '0'],
    ['-l', '127.0.0.1:4000', '-d', '@/nonexistent/file'],
    ['-l', 'fd:3'],
  ]) {
    const r = await runCli(['request', '/', ...args]);
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^scgi-supervise: ERR_/);
  }
});

test('--help shows the examples', async () => {
  const r = await runCli(['request', '--help']);
  assert.equal(r.code, 0);
  const text = r.stdout.toString('utf8');
  assert.match(text, /--listen/);
  assert.match(text, /health/);
  assert.match(text, /application\/json/);
});
