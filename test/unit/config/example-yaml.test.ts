// supervisor.example.yaml is valid, names every option, and holds exactly the defaults; docs/configuration.md names
// every option's YAML key and environment variable. Keeps the example and the docs in step with config/schema.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { OPTIONS } from '../../../src/config/schema.js';
import { ROOT } from '../../helpers/paths.js';

const EXAMPLE = join(ROOT, 'supervisor.example.yaml');

test('supervisor.example.yaml loads, with app pointing to examples/hello.js', () => {
  const config = loadConfig({ config: EXAMPLE }, {}, '/');
  assert.equal(config.app, join(ROOT, 'examples', 'hello.js'));
});

test('supervisor.example.yaml sets every option, each to its default', () => {
  const keys = Object.keys(parse(readFileSync(EXAMPLE, 'utf8')) as object).sort();
  assert.deepEqual(keys, OPTIONS.map((o) => o.name).sort());
  const fromExample = loadConfig({ config: EXAMPLE }, {}, '/');
  const fromDefaults = loadConfig({ app: join(ROOT, 'examples', 'hello.js') }, {}, '/');
  assert.deepEqual(fromExample, fromDefaults);
});

test('docs/configuration.md names every option, its environment variable and (where there is one) its flag', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const noFlag = new Set(['app', 'restart-backoff-min', 'restart-backoff-max', 'stats-interval', 'max-header-count']);
  for (const o of OPTIONS) {
    assert.ok(doc.includes('`' + o.name + '`'), `${o.name} is missing`);
    if (o.fromEnv) assert.ok(doc.includes('`' + o.env + '`'), `${o.env} is missing`);
    if (!noFlag.has(o.name)) assert.ok(doc.includes('`--' + o.name + '`'), `--${o.name} is missing`);
  }
});
