// Runs the differential suite for one front end: diff-express.cjs served directly by node:http (in this process) and
// by three `scgi-supervise start -w 2` (on 127.0.0.1, on [::1] and on a Unix socket) behind the real front end; every case of
// cases.ts is sent to both and compared (compare.ts). Used by nginx/lighttpd/apache.test.ts; not a test file itself.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { APPS } from '../helpers/paths.js';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.js';
import { httpRequest, type HttpResponse } from '../helpers/frontends/http-client.js';
import { freePort, makeTempDir, removeDir } from '../helpers/frontends/process-utils.js';
import { problemLines, TRANSPORTS, type FrontEnd, type FrontEndName, type FrontEndOptions, type Transport } from '../helpers/frontends/front-end.js';
import { CASES, type DiffCase } from './cases.js';
import { comparable, framingProblems, type Comparable } from './compare.js';

/** Idempotent cases with no front-end exception, replayed concurrently to mix big and small responses on 2 workers. */
const CONCURRENT = CASES.filter((c) =>
  ['/text', '/json', '/big', '/big-stream', '/stream', '/upload', '/cookies', '/etag'].includes(c.path) && !c.known && !c.directRejects && !c.headers,
);

export const APP = 'diff-express.cjs';
const WORKERS = 2;
const LABEL: Record<Transport, string> = { tcp: 'TCP 127.0.0.1', tcp6: 'TCP [::1]', unix: 'a Unix socket' };

async function startDirect(t: TestContext): Promise<number> {
  const app = createRequire(import.meta.url)(join(APPS, APP)) as Parameters<typeof createServer>[1];
  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  return addr.port;
}

const tail = (s: string, n = 3000): string => (s.length > n ? `…${s.slice(-n)}` : s);

async function send(port: number, c: DiffCase): Promise<HttpResponse> {
  return httpRequest({ port, method: c.method ?? 'GET', path: c.path, headers: c.headers, body: c.body, timeoutMs: 30_000 });
}

export async function runDifferential(
  t: TestContext,
  name: FrontEndName,
  start: (options: FrontEndOptions) => Promise<FrontEnd>,
): Promise<void> {
  const dir = await makeTempDir(`diff-${name}`);
  t.after(() => removeDir(dir));
  const sock = join(dir, 'scgi.sock');
  const [directPort, svTcp, svTcp6, svUnix] = await Promise.all([
    startDirect(t),
    startSupervisor({ app: APP, workers: WORKERS, t }),
    startSupervisor({ app: APP, workers: WORKERS, listen: `[::1]:${await freePort('::1')}`, t }),
    startSupervisor({ app: APP, workers: WORKERS, listen: `unix:${sock}`, t }),
  ]);
  assert.ok('port' in svTcp.connect, `TCP supervisor address ${svTcp.address}`);
  assert.ok('port' in svTcp6.connect && svTcp6.connect.host === '::1', `IPv6 supervisor address ${svTcp6.address}`);
  const fe = await start({ backends: { tcp: svTcp.connect, tcp6: svTcp6.connect, unix: sock }, t });
  const supervisors: Record<Transport, Supervisor> = { tcp: svTcp, tcp6: svTcp6, unix: svUnix };

  for (const transport of TRANSPORTS) {
    const sv = supervisors[transport];
    const port = fe.ports[transport];
    assert.ok(port !== undefined);
    const workersBefore = sv.workerPids();
    await t.test(`${name} → scgi-supervise over ${LABEL[transport]}`, async (tt) => {
      for (const c of CASES) {
        await tt.test(c.name, async () => {
          const direct = await send(directPort, c);
          const mark = fe.errorLog().length;
          let proxied: HttpResponse;
          try {
            proxied = await send(port, c);
          } catch (err) {
            throw new Error(`${(err as Error).message}\n--- ${name} log ---\n${tail(fe.errorLog().slice(mark))}\n--- supervisor ---\n${tail(sv.logs())}`);
          }
          if (c.directRejects !== undefined) {
            assert.equal(direct.status, 400, `node:http was expected to reject this (${c.directRejects})`);
            c.check?.(direct, proxied, name);
            return;
          }
          const known = c.known?.[name];
          if (known?.instead) {
            known.instead(proxied);
            return;
          }
          const expected = comparable(direct, 'direct');
          const actual = comparable(proxied, name, direct);
          known?.expect?.(expected);
          const context = () =>
            `${c.method ?? 'GET'} ${c.path.slice(0, 120)} via ${name}/${transport}` +
            (known ? ` (known ${name} behaviour applied: ${known.why})` : '') +
            `\n--- ${name} log ---\n${tail(fe.errorLog().slice(mark))}\n--- supervisor ---\n${tail(sv.logs(), 1500)}`;
          assert.deepEqual(actual, expected, context());
          assert.deepEqual(framingProblems(c.method ?? 'GET', direct, proxied, known !== undefined), [], context());
          c.check?.(direct, proxied, name);
        });
      }
      await tt.test('the same requests, 4 at a time per case, all at once', async () => {
        const expected = new Map<DiffCase, Comparable>();
        for (const c of CONCURRENT) expected.set(c, comparable(await send(directPort, c), 'direct'));
        const jobs = CONCURRENT.flatMap((c) => [0, 1, 2, 3].map(() => c));
        const results = await Promise.all(jobs.map(async (c) => ({ c, r: await send(port, c) })));
        for (const { c, r } of results) {
          assert.deepEqual(comparable(r, name, undefined), expected.get(c), `${c.name} (concurrent) via ${name}/${transport}`);
        }
      });
      // Nothing in this run may have crashed or replaced a worker (the log line is the master's, RULES.md).
      assert.doesNotMatch(sv.logs(), /respawning/, tail(sv.logs()));
      // Nor logged at error level: Apache's empty connection for a chunked POST is normal (docs/protocol.md case 12), and
      // the app's own 500s are the app's business (Express prints those itself, without a level).
      assert.doesNotMatch(sv.logs(), /^\S+ (ERROR|FATAL) /m, tail(sv.logs()));
      assert.deepEqual(sv.workerPids().sort(), workersBefore.sort(), 'the same workers served every case');
    });
  }
  await t.test(`${name} logged no errors while serving the cases`, () => {
    assert.deepEqual(problemLines(name, fe.errorLog()), [], fe.errorLog());
  });
  await t.test('every supervisor stops on SIGTERM with exit code 0', async () => {
    for (const sv of [svTcp, svTcp6, svUnix]) {
      const info = await sv.stop('SIGTERM', 15_000);
      assert.deepEqual(info, { code: 0, signal: null }, tail(sv.logs()));
    }
  });
}
