// Reads V8 .cpuprofile files (node --cpu-prof) and says where a worker's time goes: self time per category of the
// request path (accept, parse, req/res emulation, write/close syscalls, GC, ...) and per function, and inclusive time
// of the project's own functions. Pure: profiles in, tables out. Not the profiling run (profile.ts).

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileFigures {
  busyUs: number; // everything but (idle)
  byCategoryUs: Map<string, number>;
  bySelfUs: Map<string, number>; // "function (file:line)" → self µs
  ownInclusiveUs: Map<string, number>; // project functions (src/, bench/, fixtures) → inclusive µs
}

/** Category of one frame's self time: what part of the request path it is. */
export function categorize(frame: CallFrame): string {
  const { functionName: fn, url } = frame;
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8/libuv native (program)';
  if (url === '') {
    if (/^(writev|writeBuffer|write\w*String|writeGeneric)$/.test(fn)) return 'syscall: write (native)';
    if (fn === 'shutdown') return 'syscall: shutdown (native)';
    if (fn === 'close') return 'syscall: close (native)';
    if (fn === 'readStart' || fn === 'readStop') return 'epoll_ctl: readStart/readStop (native)';
    if (fn === 'setNoDelay' || fn === 'setKeepAlive') return 'setsockopt (native)';
    return 'other native: ' + fn;
  }
  if (url.includes('/src/protocol/')) return 'parse (src/protocol)';
  if (url.includes('/src/worker/adapters/node-http-adapter') || url.includes('/src/worker/adapters/request-headers')) return 'req/res emulation (src/worker adapter)';
  if (url.includes('/src/worker/adapters/fetch-adapter')) return 'fetch adapter (src/worker)';
  if (url.includes('/src/worker/')) return 'serve loop (src/worker)';
  if (url.includes('/src/')) return 'other src/';
  if (url.includes('/bench/bare-server')) return 'bare server code';
  if (url.includes('/test/fixtures/apps/') || url.includes('/node_modules/')) return 'app (+ framework)';
  if (/node:(_http_|internal\/http)/.test(url)) return 'node:http internals (OutgoingMessage etc.)';
  if (/node:internal\/streams|node:stream/.test(url)) return 'node streams';
  if (/node:net|node:internal\/net|stream_base_commons|node:internal\/dtrace/.test(url)) return 'node:net (socket create/read/write/close JS)';
  if (/node:events|event_target/.test(url)) return 'events (emit)';
  if (/task_queues|timers|async_hooks/.test(url)) return 'nextTick / timers';
  if (/node:buffer|node:internal\/buffer/.test(url)) return 'Buffer';
  return 'other node core';
}

function label(frame: CallFrame): string {
  const file = frame.url.replace(/^.*\/(src|bench|test|node_modules)\//, '$1/').replace(/^file:\/\//, '');
  return `${frame.functionName || '(anonymous)'} (${file || 'native'}${frame.url ? ':' + (frame.lineNumber + 1) : ''})`;
}

const isOwn = (url: string) => /\/(src|bench)\/|\/test\/fixtures\/apps\//.test(url) && !url.includes('node_modules');

export function analyze(profile: CpuProfile): ProfileFigures {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample: attribute it to sample i.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const figures: ProfileFigures = { busyUs: 0, byCategoryUs: new Map(), bySelfUs: new Map(), ownInclusiveUs: new Map() };
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const category = categorize(node.callFrame);
    if (category === 'idle') continue;
    figures.busyUs += us;
    add(figures.byCategoryUs, category, us);
    add(figures.bySelfUs, label(node.callFrame), us);
  }
  // Inclusive time of project functions, counted once per stack (recursion is not double counted).
  const root = profile.nodes[0];
  const inclusive = (node: ProfileNode, open: Set<string>): number => {
    const key = isOwn(node.callFrame.url) ? label(node.callFrame) : undefined;
    const entered = key !== undefined && !open.has(key);
    if (entered) open.add(key);
    let total = selfUs.get(node.id) ?? 0;
    if (node.callFrame.functionName === '(idle)') total = 0;
    for (const child of node.children ?? []) total += inclusive(byId.get(child)!, open);
    if (entered) {
      open.delete(key);
      add(figures.ownInclusiveUs, key, total);
    }
    return total;
  };
  if (root) inclusive(root, new Set());
  return figures;
}

export function merge(all: ProfileFigures[]): ProfileFigures {
  const out: ProfileFigures = { busyUs: 0, byCategoryUs: new Map(), bySelfUs: new Map(), ownInclusiveUs: new Map() };
  for (const f of all) {
    out.busyUs += f.busyUs;
    for (const key of ['byCategoryUs', 'bySelfUs', 'ownInclusiveUs'] as const) {
      for (const [k, v] of f[key]) out[key].set(k, (out[key].get(k) ?? 0) + v);
    }
  }
  return out;
}

/**
 * Markdown: categories and top functions as % of the profile's busy time, and in µs per request by apportioning
 * `cpuUsPerRequest` (the workers' measured CPU per request, /proc) by those shares. The profile's own times are
 * wall-clock samples, inflated when the machine is shared, so only its shares are used.
 */
export function renderFigures(name: string, f: ProfileFigures, cpuUsPerRequest: number, top = 20): string {
  const perReq = (us: number) => ((us / f.busyUs) * cpuUsPerRequest).toFixed(2);
  const pct = (us: number) => ((100 * us) / f.busyUs).toFixed(1);
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  const lines = [`#### ${name}: ${cpuUsPerRequest.toFixed(1)} µs of worker CPU per request (/proc), split by the profile's shares`, ''];
  lines.push('| category (self time) | µs/request | % of busy |', '|---|---:|---:|');
  for (const [k, v] of sorted(f.byCategoryUs)) lines.push(`| ${k} | ${perReq(v)} | ${pct(v)} |`);
  lines.push('', `| top ${top} functions (self time) | µs/request | % of busy |`, '|---|---:|---:|');
  for (const [k, v] of sorted(f.bySelfUs).slice(0, top)) lines.push(`| ${k.replace(/\|/g, '\\|')} | ${perReq(v)} | ${pct(v)} |`);
  if (f.ownInclusiveUs.size > 0) {
    lines.push('', `| project functions (inclusive time) | µs/request | % of busy |`, '|---|---:|---:|');
    for (const [k, v] of sorted(f.ownInclusiveUs).slice(0, top)) lines.push(`| ${k.replace(/\|/g, '\\|')} | ${perReq(v)} | ${pct(v)} |`);
  }
  return lines.join('\n') + '\n';
}
