// Clients that go away mid-exchange, through real nginx, lighttpd and Apache: a download dropped after its first
// bytes and an upload dropped half-way (Apache streams request bodies, so the worker sees a body that ends early,
// docs/protocol.md case 23; nginx and lighttpd buffer it and never forward it). Afterwards the same workers must serve,
// with no respawn and nothing logged at error level by the supervisor.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startSupervisor } from '../helpers/supervisor.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { startLighttpd } from '../helpers/frontends/lighttpd.js';
import { startApache } from '../helpers/frontends/apache.js';
import { UPLOAD } from './cases.js';

const ROUNDS = 4;

/** GET a 5 MiB stream and destroy the connection on the first body bytes. */
function abortDownload(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no response for ${path} within 10 s`)));
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
    req.end();
  });
}

/** POST announcing 1 MiB, send a quarter of it, then destroy the connection once it is written. */
function abortUpload(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/upload',
      agent: false,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(UPLOAD.length) },
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
    req.on('response', () => reject(new Error('a response came for an upload that was never finished')));
    req.write(UPLOAD.subarray(0, UPLOAD.length / 4), () => {
      req.destroy();
      resolve();
    });
  });
}

test('clients that disconnect mid-download or mid-upload through each front end leave the workers serving', async (t) => {
  const sv = await startSupervisor({ app: 'diff-express.cjs', workers: 2, t });
  assert.ok('port' in sv.connect);
  const backends = { tcp: sv.connect };
  const workers = sv.workerPids();
  for (const start of [startNginx, startLighttpd, startApache]) {
    const fe = await start({ backends, t });
    await t.test(fe.name, async () => {
      const port = fe.ports.tcp!;
      for (let i = 0; i < ROUNDS; i++) {
        await abortDownload(port, '/big-stream');
        await abortDownload(port, '/big');
        await abortUpload(port);
      }
      // The workers are still there and answer, many times over (each request goes to whichever worker accepts).
      for (let i = 0; i < 20; i++) {
        const r = await httpRequest({ port, path: '/json' });
        assert.equal(r.status, 200, `${fe.name}: ${r.body.toString()}\n${fe.errorLog()}\n${sv.logs()}`);
      }
      const up = await httpRequest({ port, method: 'POST', path: '/upload', body: UPLOAD });
      assert.equal(JSON.parse(up.body.toString()).length, UPLOAD.length);
      assert.deepEqual(sv.workerPids().sort(), [...workers].sort(), sv.logs());
      assert.doesNotMatch(sv.logs(), /respawning|^\S+ (ERROR|FATAL) /m, sv.logs());
    });
    await fe.stop();
  }
});
