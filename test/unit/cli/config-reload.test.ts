// ConfigReloader (cli/config-reload.ts) without processes: a refused reload never reaches the master's reload(), but
// the master is told (reloadRefused), so an sd_notify observer still sends RELOADING=1 then READY=1 (issue 14).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigReloader, type ReloadTarget } from '../../../src/cli/config-reload.js';
import { ConfigError } from '../../../src/errors.js';
import type { Config } from '../../../src/config/config.js';
import { testConfig } from '../master/fakes.js';

function reloaderWith(load: () => Config) {
  const calls: string[] = [];
  const target: ReloadTarget = {
    reload: async () => {
      calls.push('reload');
      return { generation: 2, durationMs: 1, workers: 2 };
    },
    scale: async (workers) => ({ from: 2, to: workers }),
    reloadRefused: () => calls.push('refused'),
  };
  const reloader = new ConfigReloader({ initial: testConfig(), load, target, willApply: () => undefined, reverted: () => undefined, warn: () => undefined });
  return { reloader, calls };
}

test('an invalid file: refused with ERR_RELOAD_REFUSED, the master told of it, its reload never called', async () => {
  const { reloader, calls } = reloaderWith(() => {
    throw new ConfigError('workers', 'workers must be a number');
  });
  await assert.rejects(reloader.reload(), { code: 'ERR_RELOAD_REFUSED' });
  assert.deepEqual(calls, ['refused']);
});

test('a change only a restart applies: refused and told; a valid change reaches the master instead', async () => {
  const moved = reloaderWith(() => testConfig({ backlog: 7 }));
  await assert.rejects(moved.reloader.reload(), { code: 'ERR_RELOAD_REFUSED' });
  assert.deepEqual(moved.calls, ['refused']);
  const fine = reloaderWith(() => testConfig());
  await fine.reloader.reload();
  assert.deepEqual(fine.calls, ['reload']);
});
