// Checks the front-end runners themselves, with no supervisor: each real front end (nginx, lighttpd, Apache) is
// started in front of a tiny in-process SCGI echo server over TCP and over a Unix socket, and must forward a GET
// and a 100 KiB POST with the raw REQUEST_URI, CONTENT_LENGTH first and SCGI=1. The differential tests build on this.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startScgiEchoServer, type ScgiEcho } from '../helpers/frontends/scgi-echo-server.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { makeTempDir, removeDir } from '../helpers/frontends/process-utils.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { startLighttpd } from '../helpers/frontends/lighttpd.js';
import { startApache } from '../helpers/frontends/apache.js';
import { runFrontEnd, type FrontEnd, type FrontEndOptions, type Transport } from '../helpers/frontends/front-end.js';

const RUNNERS: [string, (o: FrontEndOptions) => Promise<FrontEnd>][] = [
  ['nginx', startNginx],
  ['lighttpd', startLighttpd],
  ['apache', startApache],
];

for (const [name, start] of RUNNERS) {
  test(`${name} runner forwards to an SCGI server over TCP and a Unix socket`, async (t) => {
    const dir = await makeTempDir('echo');
    t.after(() => removeDir(dir));
    const echo = await startScgiEchoServer(join(dir, 'scgi.sock'));
    t.after(() => echo.close());
    const fe = await start({ backends: { tcp: echo.tcp, unix: echo.unix }, t });

    for (const transport of ['tcp', 'unix'] as Transport[]) {
      const port = fe.ports[transport]!;
      const get = await httpRequest({ port, path: '/a%20b/c?x=1&y=%C3%A9' });
      assert.equal(get.status, 200, `${transport} GET: ${get.body.toString()}\n${fe.errorLog()}`);
      const e = JSON.parse(get.body.toString()) as ScgiEcho;
      const param = (k: string): string | undefined => e.params.find(([n]) => n === k)?.[1];
      assert.equal(e.params[0][0], 'CONTENT_LENGTH');
      assert.equal(param('CONTENT_LENGTH'), '0');
      assert.equal(param('SCGI'), '1');
      assert.equal(param('REQUEST_METHOD'), 'GET');
      assert.equal(param('REQUEST_URI'), '/a%20b/c?x=1&y=%C3%A9');

      const body = Buffer.alloc(100 * 1024, 'x');
      const post = await httpRequest({ port, method: 'POST', path: '/up', body, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(post.status, 200, `${transport} POST: ${post.body.toString()}\n${fe.errorLog()}`);
      const p = JSON.parse(post.body.toString()) as ScgiEcho;
      assert.equal(p.bodyLength, body.length);
      assert.equal(p.bodySha256, createHash('sha256').update(body).digest('hex'));
    }
  });
}

test('a missing front-end binary is a clear error, never a skip', async () => {
  await assert.rejects(
    runFrontEnd(
      { name: 'nginx', binary: '/nonexistent/sbin/nginx', debianPackage: 'nginx', version: '-', render: () => Promise.reject(new Error('not reached')) },
      { backends: { tcp: { host: '127.0.0.1', port: 9 } } },
    ),
    /\/nonexistent\/sbin\/nginx is missing; install it: apt-get install -y nginx/,
  );
});
