// The worker's own paths for res.setHeader() and res.end(body) (node-http-adapter.ts: setHeaderChecked, endInOne)
// against node:http itself: the same fixture (response-api.cjs) runs in a node:http server in this process and in a
// real worker over SCGI, and what the app observes (thrown error codes, header API results, event order, state
// flags) and what reaches the wire (status, headers, body bytes) must match.
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { APPS } from '../helpers/paths.js';
import { header, headerValues } from '../helpers/scgi-raw.js';
import { call, startWorker, type WorkerUnderTest } from './worker-harness.js';

const APP = join(APPS, 'response-api.cjs');
const handler = createRequire(import.meta.url)(APP) as (req: unknown, res: unknown) => void;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

async function nodeHttp(t: TestContext): Promise<Server> {
  const server = createServer(handler as never);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

function viaNodeHttp(server: Server, path: string): Promise<Answer> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function viaWorker(w: WorkerUnderTest, path: string): Promise<Answer> {
  const { res, outcome } = await call(w, 'GET', path);
  assert.equal(outcome.ending, 'fin', `${path}: the worker did not end the response with FIN`);
  const headers: IncomingHttpHeaders = {};
  for (const [name] of res.headers) {
    const values = headerValues(res, name);
    headers[name.toLowerCase()] = values.length === 1 ? values[0] : values;
  }
  return { status: res.status, headers, body: res.body };
}

/** The events a /end call recorded, read once the response's 'close' (next tick after 'finish') has happened. */
async function eventsOf(get: (path: string) => Promise<Answer>, id: string): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const list = JSON.parse((await get(`/events?id=${id}`)).body.toString()) as string[] | null;
    if (list !== null && list.includes('res close')) return list;
    if (Date.now() > deadline) throw new Error(`no 'res close' recorded for ${id}: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('setHeader: the same accepted and refused names and values, the same header API results, on the wire', async (t) => {
  const server = await nodeHttp(t);
  const w = await startWorker(t, APP);
  const expected = await viaNodeHttp(server, '/headers');
  const got = await viaWorker(w, '/headers');
  assert.equal(got.status, 200);
  assert.deepEqual(JSON.parse(got.body.toString()), JSON.parse(expected.body.toString()));
  // Sanity: node refused what it should, so the comparison above compared refusals too.
  const probe = JSON.parse(got.body.toString()) as Record<string, unknown>;
  assert.equal(probe.crlfValue, 'ERR_INVALID_CHAR');
  assert.equal(probe.spaceInName, 'ERR_INVALID_HTTP_TOKEN');
  assert.equal(probe.undefinedValue, 'ERR_HTTP_INVALID_HEADER_VALUE');
  for (const name of ['constructor', 'tostring', 'x-tab', 'x-empty', 'x-num', 'x-case', 'x-chain', 'content-type', 'content-length']) {
    assert.deepEqual(got.headers[name], expected.headers[name], `header ${name}`);
  }
  assert.deepEqual(got.headers['x-list'], ['a', 'b']);
  assert.equal(got.headers['x-gone'], undefined);
  // obs-text goes out as the latin1 byte, as node:http sends it.
  assert.equal(got.headers['x-obs-text'], expected.headers['x-obs-text']);
});

test('end(body) in every shape: same bytes, Content-Length, events in the same order and the same state flags', async (t) => {
  const server = await nodeHttp(t);
  const w = await startWorker(t, APP);
  const kinds = ['utf8', 'latin1', 'hex', 'buffer', 'uint8', 'big', 'empty', 'none', 'head-first', 'callback'];
  for (const kind of kinds) {
    const expected = await viaNodeHttp(server, `/end?kind=${kind}&id=n-${kind}`);
    const got = await viaWorker(w, `/end?kind=${kind}&id=w-${kind}`);
    assert.equal(got.status, expected.status, `${kind}: status`);
    assert.ok(got.body.equals(expected.body), `${kind}: body ${JSON.stringify(got.body.toString('latin1').slice(0, 80))}`);
    assert.equal(got.headers['content-type'], expected.headers['content-type'], `${kind}: content-type`);
    assert.equal(got.headers['x-head'], expected.headers['x-head'], `${kind}: x-head`);
    // node:http chunks a body whose length it did not know when the head was stored (writeHead first); SCGI
    // delimits it by the close instead. Otherwise both announce the same length.
    if (expected.headers['content-length'] !== undefined) {
      assert.equal(got.headers['content-length'], expected.headers['content-length'], `${kind}: content-length`);
    } else {
      assert.equal(expected.headers['transfer-encoding'], 'chunked', `${kind}: node:http neither chunked nor sized`);
      assert.equal(got.headers['content-length'], undefined, `${kind}: content-length`);
    }
    const nodeEvents = await eventsOf((p) => viaNodeHttp(server, p), `n-${kind}`);
    const workerEvents = await eventsOf((p) => viaWorker(w, p), `w-${kind}`);
    assert.deepEqual(workerEvents, nodeEvents, `${kind}: events`);
  }
  const sized = await viaWorker(w, '/end?kind=big&id=w-big-again');
  assert.equal(header({ headers: Object.entries(sized.headers) as Array<[string, string]> } as never, 'content-length'), String(100 * 1024));
});

test("res.setTimeout: the socket's timeout reaches the response as under node:http", async (t) => {
  const server = await nodeHttp(t);
  const w = await startWorker(t, APP);
  const expected = await viaNodeHttp(server, '/timeout');
  const started = Date.now();
  const got = await viaWorker(w, '/timeout');
  const took = Date.now() - started;
  assert.equal(expected.status, 504, 'node:http itself relays it');
  assert.equal(got.status, 504);
  assert.equal(got.body.toString(), expected.body.toString());
  assert.ok(took >= 140 && took < 2000, `answered after ${took} ms`);
});
