// Module boundaries of STYLE.md, asserted from the import lines under src/ (cheaper than a lint plugin):
// cli → control/master → worker → protocol; errors.ts, log.ts, node-internals.ts (the one probe of Node's private
// API, which the master's listener uses too) and stats-contract.ts (the `stats` JSON) are leaves anyone may import. Inside worker/ the
// rooms run one way, adapters/ → connection/ → transport/, and main.ts (the entry) may import them all. No import
// circle anywhere in src/, type-only imports included (a type-only circle is still two files that need each other).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';
import { ROOT } from '../helpers/paths.js';

const SRC = join(ROOT, 'src');
const LEAVES = new Set(['errors.ts', 'log.ts', 'node-internals.ts', 'stats-contract.ts']);

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

// worker/'s rooms, lowest first (watchdog/ is its own: only main.ts starts it): a room may import its own and lower rooms only. Files at worker/ itself: main.ts
// (the entry) may import every room; messages.ts and exit-codes.ts are the master's contract and import no room.
const WORKER_ROOMS = ['watchdog', 'transport', 'connection', 'adapters'];

function workerRoom(path: string): string | null {
  const m = /^worker\/([^/]+)\//.exec(path);
  return m === null ? null : m[1]!;
}

function workerViolation(from: string, target: string): string | null {
  if (!from.startsWith('worker/') || !target.startsWith('worker/')) return null;
  const fromRoom = workerRoom(from);
  const targetRoom = workerRoom(target);
  if (fromRoom === null) {
    if (from === 'worker/main.ts' || targetRoom === null) return target === 'worker/main.ts' ? `${from} imports the entry ${target}` : null;
    return `${from} is the master's contract but imports ${target}`;
  }
  // The contract with the master (messages.ts, exit-codes.ts) imports no room, so any room may read it.
  if (targetRoom === null) {
    return target === 'worker/messages.ts' || target === 'worker/exit-codes.ts' ? null : `${from} imports ${target} (rooms import no file at worker/ itself but the contract)`;
  }
  const a = WORKER_ROOMS.indexOf(fromRoom);
  const b = WORKER_ROOMS.indexOf(targetRoom);
  if (a === -1) return `${from}: unknown worker room ${fromRoom}`;
  if (b === -1) return `${target}: unknown worker room ${targetRoom}`;
  return b > a ? `${from} imports ${target} (worker/ runs adapters → connection → transport, never back)` : null;
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

// `import … from`, `import type … from`, `export … from`, `import './x.js'` and `import('./x.js')`: every edge,
// type-only ones too. Relative specifiers only (node: and packages are outside src/).
const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'|^\s*import\s+'(\.{1,2}\/[^']+)'|\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/gm;

/** src-relative path ('worker/main.ts') → the src-relative paths it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split(sep).join('/');
    const targets: string[] = [];
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      targets.push(relative(SRC, resolve(dirname(file), spec)).split(sep).join('/').replace(/\.js$/, '.ts'));
    }
    graph.set(from, targets);
  }
  return graph;
}

/** Every import circle, each as the path that closes it ('a.ts → b.ts → a.ts'); Tarjan's strongly connected components. */
function findCircles(graph: Map<string, string[]>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(describeCircle(graph, new Set(component)));
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return circles.sort();
}

/** One circle through the component, from its first file (by name) back to it. */
function describeCircle(graph: Map<string, string[]>, component: Set<string>): string {
  const start = [...component].sort()[0]!;
  // Breadth-first from start to an edge back to start, inside the component: the shortest such circle.
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = parent.get(u)!) path.splice(1, 0, u);
        return [...path, start].join(' → ') + (component.size > path.length ? ` (${component.size} files in the knot)` : '');
      }
      if (component.has(w) && !parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component].sort().join(', ');
}

test('imports under src/ follow the dependency direction', () => {
  const violations: string[] = [];
  for (const [from, targets] of importGraph()) {
    const area = from.includes('/') ? from.slice(0, from.indexOf('/')) : from;
    for (const target of targets) {
      if (LEAVES.has(target)) continue;
      if (LEAVES.has(from)) {
        violations.push(`${from} is a leaf but imports ${target}`);
        continue;
      }
      if (target.startsWith(area + '/')) {
        const inWorker = workerViolation(from, target);
        if (inWorker !== null) violations.push(inWorker);
        continue;
      }
      const allowed = ALLOWED[area];
      if (!allowed) violations.push(`${from}: unknown area ${area}`);
      else if (!allowed(target)) violations.push(`${from} imports ${target}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('no import circle under src/, type-only imports included', () => {
  const circles = findCircles(importGraph());
  assert.deepEqual(circles, [], `import circles under src/:\n  ${circles.join('\n  ')}`);
});

test('the boundary check sees a violation when there is one', () => {
  // Guard against a regex that matches nothing: the worker must be seen importing the protocol layer, and a
  // type-only import must count.
  const graph = importGraph();
  const workerTargets = [...graph].filter(([from]) => from.startsWith('worker/')).flatMap(([, targets]) => targets);
  assert.ok(workerTargets.some((t) => t.startsWith('protocol/')));
  assert.ok(graph.get('worker/connection/serve.ts')!.includes('worker/connection/connection.ts'));
  assert.ok(graph.get('worker/connection/connection.ts')!.includes('worker/connection/exchange.ts'), 'a type-only import is an edge');
  assert.ok(graph.get('worker/main.ts')!.includes('worker/adapters/node-http-adapter.ts'), 'a dynamic import is an edge');
  assert.equal(ALLOWED.protocol!('worker/main.ts'), false);
  assert.notEqual(workerViolation('worker/transport/handle-socket.ts', 'worker/connection/connection.ts'), null);
  assert.notEqual(workerViolation('worker/connection/connection.ts', 'worker/adapters/load-app.ts'), null);
  assert.notEqual(workerViolation('worker/messages.ts', 'worker/transport/handle-stream.ts'), null);
  assert.equal(workerViolation('worker/adapters/node-http-adapter.ts', 'worker/transport/handle-socket.ts'), null);
});

test('the circle check finds a circle when there is one', () => {
  const graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts', 'd.ts']],
    ['d.ts', []],
    ['e.ts', ['e.ts']],
  ]);
  assert.deepEqual(findCircles(graph), ['a.ts → b.ts → c.ts → a.ts', 'e.ts → e.ts']);
});
