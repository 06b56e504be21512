// loadApp in-process on the fixture apps: what kind each export is, and the three typed failures.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { AppLoadError } from '../../../../src/errors.js';
import { describe as describeValue, loadApp } from '../../../../src/worker/adapters/load-app.js';
import { APPS } from '../../../helpers/paths.js';

const cases: Array<[file: string, kind: 'node' | 'fetch', description: string]> = [
  ['hello.cjs', 'node', 'a (req, res) handler'],
  ['express.cjs', 'node', 'a (req, res) handler'],
  ['koa.cjs', 'node', 'a Koa app'],
  ['fastify.cjs', 'node', 'a Fastify app'],
  ['hono.mjs', 'fetch', 'a fetch app'],
  ['esm-handler.mjs', 'node', 'a (req, res) handler'],
  ['async-export.cjs', 'node', 'a (req, res) handler'],
  ['tla.mjs', 'node', 'a (req, res) handler'],
  ['async-fastify.cjs', 'node', 'a Fastify app'],
  ['koa-callback.cjs', 'node', 'a (req, res) handler'],
];

for (const [file, kind, description] of cases) {
  test(`${file} loads as ${description}`, async () => {
    const app = await loadApp(join(APPS, file));
    assert.equal(app.kind, kind);
    assert.equal(app.description, description);
  });
}

async function loadError(file: string): Promise<AppLoadError> {
  try {
    await loadApp(file);
  } catch (err) {
    assert.ok(err instanceof AppLoadError, `expected AppLoadError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${file} loaded`);
}

test('a missing file is ERR_APP_NOT_FOUND naming the path', async () => {
  const missing = join(APPS, 'no-such-app.cjs');
  const err = await loadError(missing);
  assert.equal(err.code, 'ERR_APP_NOT_FOUND');
  assert.equal(err.file, missing);
  assert.ok(err.message.includes(missing));
});

test('a throw at load is ERR_APP_LOAD_FAILED with the app error as cause (its stack names the file)', async () => {
  const file = join(APPS, 'throws-at-load.cjs');
  const err = await loadError(file);
  assert.equal(err.code, 'ERR_APP_LOAD_FAILED');
  assert.ok(err.message.includes(file));
  assert.ok(err.message.includes('cannot connect to the database'));
  const cause = err.cause as Error;
  assert.ok(cause instanceof Error);
  assert.ok(cause.stack?.includes('throws-at-load.cjs'), cause.stack);
});

test('a bad export is ERR_APP_BAD_EXPORT naming the file and the keys found', async () => {
  const file = join(APPS, 'bad-export.cjs');
  const err = await loadError(file);
  assert.equal(err.code, 'ERR_APP_BAD_EXPORT');
  assert.ok(err.message.includes(file));
  assert.ok(err.message.includes('an object with keys port, name'), err.message);
  assert.ok(err.hint);
});

test('describe() says what was found', () => {
  assert.match(describeValue(undefined), /nothing/);
  assert.match(describeValue({}), /empty object/);
  assert.equal(describeValue(42), 'a number (42)');
  assert.match(describeValue('x'), /a string/);
});
