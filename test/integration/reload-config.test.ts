// `reload` reads the config file again (issue 14 item 6), all or nothing: a valid change (workers 1 → 2, a new
// `env:` value) runs in the new generation; a runtime `scale` stands when the file's workers did not change; a
// changed `listen` or an invalid file is refused with ERR_RELOAD_REFUSED and exit 5 (cli/format.ts EXIT_REFUSED),
// naming the keys, while the old generation keeps serving. The supervisor runs from --config alone (flags would win).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT_REFUSED } from '../../src/cli/format.js';
import type { StatsSnapshot } from '../../src/stats-contract.js';
import { APPS, CLI } from '../helpers/paths.js';
import { freePort, makeTempDir, removeDir, spawnCollecting, stopProcess, waitFor } from '../helpers/frontends/process-utils.js';
import type { Target } from '../helpers/scgi-raw.js';
import { get, pollFor, runCli } from './control-helpers.js';

describe('reload re-reads the config file', { timeout: 120_000 }, () => {
  let dir: string;
  let file: string;
  let control: string;
  let target: Target;
  let stopSupervisor: () => Promise<unknown>;
  let output: () => string;
  const yaml = (o: { workers: number; greeting: string; listen?: string; extra?: string }) =>
    `app: ${join(APPS, 'config-env.cjs')}\nworkers: ${o.workers}\nlisten: ${o.listen ?? `unix:${join(dir, 'scgi.sock')}`}\n` +
    `control: ${control}\ngraceful-timeout: 5\nboot-timeout: 10\nenv:\n  GREETING: ${o.greeting}\n${o.extra ?? ''}`;
  const verb = (args: string[]) => runCli([...args, '--control', control], 60_000);
  const stats = async (): Promise<StatsSnapshot> => {
    const r = await verb(['stats', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as StatsSnapshot;
  };
  const greetings = async (n: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const a = await get(target, '/');
      assert.equal(a.status, 200, a.body);
      seen.add(a.body.split(' ')[0]!);
    }
    return seen;
  };

  before(async () => {
    dir = await makeTempDir('reload-config-');
    file = join(dir, 'supervisor.yaml');
    control = join(dir, 'ctl', 'control.sock');
    target = { kind: 'unix', path: join(dir, 'scgi.sock') };
    await writeFile(file, yaml({ workers: 1, greeting: 'first' }));
    const started = spawnCollecting(process.execPath, [CLI, 'start', '--config', file]);
    output = started.output;
    stopSupervisor = () => stopProcess(started.proc);
    await waitFor('the ready line', () => /ready: 1 workers on unix:/.test(output()), { timeoutMs: 20_000 });
  });
  after(async () => {
    await stopSupervisor?.();
    await removeDir(dir);
  });

  test('a valid change applies: workers 1 → 2 and a new env value in the new generation; stats shows master.config', async () => {
    assert.deepEqual(await greetings(3), new Set(['first']));
    const before = await stats();
    assert.equal(before.master.config.workers, 1);
    await writeFile(file, yaml({ workers: 2, greeting: 'second' }));
    const r = await verb(['reload']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^reloaded: generation \d+, 2 workers in /);
    const s = await pollFor('2 ready workers', 20_000, async () => {
      const now = await stats();
      return now.workers.length === 2 && now.workers.every((w) => w.state === 'ready') ? now : undefined;
    });
    assert.ok(s.master.generation > before.master.generation);
    assert.equal(s.master.config.workers, 2);
    assert.deepEqual(s.master.config.env, { GREETING: 'second' });
    assert.deepEqual(await greetings(6), new Set(['second']));
  });

  test('a runtime scale stands when the file\'s workers did not change', async () => {
    const scaled = await verb(['scale', '3']);
    assert.equal(scaled.code, 0, scaled.stderr);
    await writeFile(file, yaml({ workers: 2, greeting: 'third' }));
    const r = await verb(['reload']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const s = await stats();
    assert.equal(s.master.workers, 3, 'the scale to 3 stands: workers: 2 in the file is what it was');
    assert.deepEqual(await greetings(6), new Set(['third']));
  });

  test('a changed listen is refused naming the key; the old generation keeps serving', async () => {
    const before = await stats();
    await writeFile(file, yaml({ workers: 2, greeting: 'refused', listen: `127.0.0.1:${await freePort()}` }));
    const r = await verb(['reload']);
    assert.equal(r.code, EXIT_REFUSED, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^scgi-supervise: ERR_RELOAD_REFUSED: .*\blisten\b/);
    const s = await stats();
    assert.equal(s.master.generation, before.master.generation, 'no new generation');
    assert.deepEqual(s.workers.map((w) => w.pid).sort(), before.workers.map((w) => w.pid).sort(), 'the same workers');
    assert.deepEqual(await greetings(6), new Set(['third']));
    assert.match(output(), /reload refused: the config changes listen/);
  });

  test('an invalid file is refused as a whole, naming the key', async () => {
    const before = await stats();
    await writeFile(file, yaml({ workers: 2, greeting: 'invalid', extra: 'reload-surge: many\n' }));
    const r = await verb(['reload']);
    assert.equal(r.code, EXIT_REFUSED, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /ERR_RELOAD_REFUSED: the config is invalid \(reload-surge\)/);
    assert.equal((await stats()).master.generation, before.master.generation);
    assert.deepEqual(await greetings(3), new Set(['third']));
  });
});
