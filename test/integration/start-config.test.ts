// `start` takes everything, the app included, from a YAML file (--config); with no app anywhere it is a usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, APPS } from '../helpers/paths.js';
import { freePort, makeTempDir, removeDir, spawnCollecting, stopProcess, waitFor } from '../helpers/frontends/process-utils.js';
import { scgiRequest } from '../../src/cli/scgi-client.js';

test('start --config runs the app named in the YAML file', async (t) => {
  const dir = await makeTempDir('start-config-');
  t.after(() => removeDir(dir));
  const port = await freePort();
  const file = join(dir, 'supervisor.yaml');
  await writeFile(file, `app: ${join(APPS, 'pid.cjs')}\nworkers: 1\nlisten: 127.0.0.1:${port}\ngraceful-timeout: 5\n`);
  const { proc, output } = spawnCollecting(process.execPath, [CLI, 'start', '--config', file]);
  t.after(() => stopProcess(proc));
  await waitFor('the ready line', () => /ready: 1 workers on 127\.0\.0\.1:\d+/.test(output()), { timeoutMs: 20_000 });
  const res = await scgiRequest({
    address: { kind: 'tcp', host: '127.0.0.1', port },
    method: 'GET',
    path: '/',
    headers: [],
    timeoutMs: 5_000,
  });
  assert.equal(res.status, 200);
  assert.match(res.body.toString(), /^\d+\n$/);
  const exit = await stopProcess(proc);
  assert.deepEqual(exit, { code: 0, signal: null }, output());
});

test('start with no app in flags, YAML or environment exits 64 naming the app key', () => {
  const env = { ...process.env };
  delete env.SCGI_SUPERVISE_APP;
  const r = spawnSync(process.execPath, [CLI, 'start', '-l', '127.0.0.1:1'], { env, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 64, r.stderr);
  assert.match(r.stderr, /ERR_CONFIG_INVALID/);
});
