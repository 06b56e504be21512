// Issue 13's crash storm, item 1: requests whose clients gave up while they waited in the kernel's accept queue must
// not run. Behind nginx with -w 1 --max-connections 1, one request holds the only place; five more queue in the
// backlog; their clients disconnect and nginx closes its SCGI connections (FIN: seen here as CLOSE-WAIT rows in
// /proc/net/tcp); then the held request ends. The worker accepts the five with their request and the FIN behind it
// and must not hand them to the app (docs/protocol.md "Client aborts"). The app appends each request it runs to a
// file. Without the hold (serve.ts backlogged, connection.ts hold) all five ran here, 5/5 on each of 3 runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSupervisor } from '../helpers/supervisor.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { makeTempDir, removeDir } from '../helpers/frontends/process-utils.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { pollFor } from '../integration/control-helpers.js';

const QUEUED = 5;

/** Server-side TCP connections on `port` by state (/proc/net/tcp's st: 01 ESTABLISHED, 08 CLOSE_WAIT), LISTEN row left out. */
function serverSockets(port: number): { established: number; closeWait: number } {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let established = 0;
  let closeWait = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || !f[1]!.endsWith(hex)) continue;
    if (f[3] === '01') established++;
    else if (f[3] === '08') closeWait++;
  }
  return { established, closeWait };
}

test('nginx, -w 1 --max-connections 1: requests whose clients left while they were queued are never run by the app', async (t) => {
  const dir = await makeTempDir('queued-abort');
  t.after(() => removeDir(dir));
  const file = join(dir, 'ran');
  writeFileSync(file, '');
  const sv = await startSupervisor({
    app: 'abort-count.cjs',
    workers: 1,
    args: ['--max-connections', '1', '--log-level', 'debug'],
    env: { ABORT_COUNT_FILE: file },
    t,
  });
  assert.ok('port' in sv.connect);
  const backend = sv.connect.port;
  const fe = await startNginx({ backends: { tcp: sv.connect }, t });
  const port = fe.ports.tcp!;
  const ran = (): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(' ')[1]!);
  const diagnose = (): string => `ran: ${ran().join(' ')}\nsockets: ${JSON.stringify(serverSockets(backend))}\n${fe.errorLog()}\n${sv.logs().slice(-4000)}`;

  // 1. One request holds the worker's only place (the app runs it and waits for the release file).
  const held = httpRequest({ port, path: '/held?hold', timeoutMs: 12_000 });
  await pollFor('the held request in the app', 5000, () => (ran().includes('/held?hold') ? true : undefined));

  // 2. Five more reach nginx, which connects for each: the kernel queues them (the worker is at its cap).
  const clients: ClientRequest[] = [];
  for (let i = 0; i < QUEUED; i++) {
    const req = request({ host: '127.0.0.1', port, path: `/queued-${i}`, agent: false });
    req.on('error', () => {}); // destroyed below
    req.end();
    clients.push(req);
  }
  await pollFor(`${QUEUED} queued SCGI connections`, 5000, () => (serverSockets(backend).established >= QUEUED + 1 ? true : undefined)).catch((err: Error) => {
    throw new Error(`${err.message}\n${diagnose()}`);
  });

  // 3. Their clients give up; nginx closes each SCGI connection (FIN), which waits in the queue with its request.
  for (const req of clients) req.destroy();
  await pollFor(`nginx closing the ${QUEUED} queued connections`, 5000, () => (serverSockets(backend).closeWait === QUEUED ? true : undefined)).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    },
  );

  // 4. The held request ends; the worker accepts the queue (FIFO), then a new request, which must be answered.
  writeFileSync(`${file}.release`, '');
  assert.equal((await held).status, 200, diagnose());
  const after = await httpRequest({ port, path: '/after', timeoutMs: 10_000 });
  assert.equal(after.status, 200, diagnose());
  assert.deepEqual(ran().filter((u) => u.startsWith('/queued-')), [], `queued requests whose clients had gone were run:\n${diagnose()}`);
  assert.ok(ran().includes('/after'), diagnose());
  // Each was told at debug (connection.ts abandon()), as a request, not as an app error.
  const told = (): number => sv.logs().match(/request not run: the front end closed the connection before its handler started/g)?.length ?? 0;
  await pollFor(`${QUEUED} debug lines`, 5000, () => (told() >= QUEUED ? true : undefined)).catch((err: Error) => {
    throw new Error(`${err.message}\n${diagnose()}`);
  });
  assert.equal(told(), QUEUED, diagnose());
  assert.doesNotMatch(sv.logs(), /^\S+ (ERROR|FATAL) /m, diagnose());
});
