// createLogger: the built-in text logger's line format (an interface: tests and operators grep it), levels, child
// bindings, err stacks, and that a text-format process never loads pino while a json-format one writes pino's JSON.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ROOT } from '../helpers/paths.js';

const LOG_JS = new URL('../../src/log.js', import.meta.url).href; // dist/src/log.js beside dist/test/unit

function run(format: 'text' | 'json', body: string): { stderr: string; stdout: string } {
  const script = `
    import { createLogger } from ${JSON.stringify(LOG_JS)};
    import { createRequire } from 'node:module';
    const log = createLogger({ name: 'worker 7', level: 'debug', format: ${JSON.stringify(format)} });
    ${body}
    const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/pino/'));
    process.stdout.write(loaded ? 'pino loaded' : 'no pino');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return { stderr: r.stderr, stdout: r.stdout };
}

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) worker 7\[(\d+)\]: (.*)$/;

test('text lines: <ISO time> <LEVEL> <name>[<pid>]: <msg> key=value, without pino', () => {
  const { stderr, stdout } = run(
    'text',
    `log.info('plain');
     log.warn({ a: 1, s: 'str', u: undefined, o: { x: [1] } }, 'fields');
     log.trace('hidden below debug');
     log.child({ c: 2 }).debug({ k: 'v' }, 'child');
     log.level = 'error';
     log.info('hidden after the level change');`,
  );
  assert.equal(stdout, 'no pino');
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 3, stderr);
  const parsed = lines.map((l) => LINE.exec(l));
  assert.ok(parsed.every((m) => m !== null), stderr);
  assert.deepEqual(
    parsed.map((m) => [m![1], m![3]]),
    [
      ['INFO ', 'plain'],
      ['WARN ', 'fields a=1 s=str o={"x":[1]}'],
      ['DEBUG', 'child c=2 k=v'],
    ],
  );
  assert.ok(parsed.every((m) => Number(m![2]) > 0));
});

test('text lines: err prints its stack on the following lines; a non-Error reason as JSON', () => {
  const { stderr } = run(
    'text',
    `log.error({ err: new Error('boom'), method: 'GET' }, 'app error');
     log.error({ err: 'just a string' }, 'unhandled');`,
  );
  const lines = stderr.trimEnd().split('\n');
  assert.match(lines[0]!, / ERROR worker 7\[\d+\]: app error method=GET$/);
  assert.equal(lines[1], 'Error: boom');
  assert.match(lines[2]!, /^ {4}at /);
  const unhandled = lines.findIndex((l) => l.endsWith(': unhandled'));
  assert.ok(unhandled > 1, stderr);
  assert.equal(lines[unhandled + 1], '"just a string"');
});

test('json format: pino JSON records on stderr', () => {
  const { stderr, stdout } = run('json', `log.info({ a: 1 }, 'hello');`);
  assert.equal(stdout, 'pino loaded');
  const rec = JSON.parse(stderr.trim()) as Record<string, unknown>;
  assert.equal(rec.msg, 'hello');
  assert.equal(rec.level, 30);
  assert.equal(rec.name, 'worker 7');
  assert.equal(rec.a, 1);
});

test('an unknown level is refused', () => {
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(LOG_JS)}; createLogger({ name: 'x', level: 'loud' });`],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown log level "loud"/);
});
