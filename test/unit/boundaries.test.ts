// Module boundaries of STYLE.md, asserted from the import lines under src/ (cheaper than a lint plugin):
// cli → control/master → worker → protocol; errors.ts and log.ts are leaves anyone may import.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';
import { ROOT } from '../helpers/paths.js';

const SRC = join(ROOT, 'src');
const LEAVES = new Set(['errors.ts', 'log.ts']);

// area -> areas it may import from (besides itself and the leaves)
const ALLOWED: Record<string, (target: string) => boolean> = {
  protocol: () => false,
  worker: (t) => t.startsWith('protocol/'),
  master: (t) =>
    t === 'worker/messages.ts' || t === 'worker/exit-codes.ts' || t.startsWith('config/') || t.startsWith('protocol/limits'),
  control: (t) => t.startsWith('config/config'),
  config: (t) => t.startsWith('protocol/limits'),
  cli: () => true,
};

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

test('imports under src/ follow the dependency direction', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split(sep).join('/');
    const area = from.includes('/') ? from.slice(0, from.indexOf('/')) : from;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm)) {
      const target = relative(SRC, resolve(dirname(file), m[1]!)).split(sep).join('/').replace(/\.js$/, '.ts');
      if (LEAVES.has(target) || target.startsWith(area + '/')) continue;
      if (LEAVES.has(from)) {
        violations.push(`${from} is a leaf but imports ${target}`);
        continue;
      }
      const allowed = ALLOWED[area];
      if (!allowed) violations.push(`${from}: unknown area ${area}`);
      else if (!allowed(target)) violations.push(`${from} imports ${target}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the boundary check sees a violation when there is one', () => {
  // Guard against a regex that matches nothing: the worker must be seen importing the protocol layer.
  const worker = sourceFiles(join(SRC, 'worker')).map((f) => readFileSync(f, 'utf8')).join('\n');
  assert.match(worker, /from\s+'\.\.\/protocol\//);
  assert.equal(ALLOWED.protocol!('worker/main.ts'), false);
});
