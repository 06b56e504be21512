// WorkerOutput with in-memory pipes and sinks: records per line with worker/pid/stream, the worker's own records
// passed on as they are, and back-pressure: a full sink pauses every worker's pipe until it drains.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { WorkerOutput, type LineSink } from '../../../src/master/worker-output.js';

class FakeSink implements LineSink {
  readonly writes: string[] = [];
  full = false;
  private drain: (() => void) | null = null;
  write(text: string): boolean {
    this.writes.push(text);
    return !this.full;
  }
  onceDrain(listener: () => void): void {
    this.drain = listener;
  }
  drained(): void {
    this.full = false;
    const d = this.drain;
    this.drain = null;
    d?.();
  }
  get lines(): string[] {
    return this.writes.join('').split('\n').slice(0, -1);
  }
}

const turn = () => new Promise((r) => setImmediate(r));
const pipes = () => ({ stdout: new PassThrough(), stderr: new PassThrough(), log: new PassThrough() });

test('json: one record per app line, the worker\'s own records unwrapped, a last line without newline at the end', async () => {
  const stdout = new FakeSink();
  const stderr = new FakeSink();
  const out = new WorkerOutput({ format: 'json', stdout, stderr, restMs: 0 });
  const w = pipes();
  out.attach(3, 4711, w);
  w.stdout.write('hello "quoted"\nhal');
  w.stdout.write('f\n');
  w.stderr.write('oops\n');
  w.log.write('{"level":30,"pid":4711,"name":"worker 3","msg":"ready"}\n');
  w.stdout.end('tail');
  await turn();
  await turn();
  const recs = stdout.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(recs.map((r) => [r.msg, r.worker, r.pid, r.stream, r.level, r.name]), [
    ['hello "quoted"', 3, 4711, 'stdout', 30, 'worker 3'],
    ['half', 3, 4711, 'stdout', 30, 'worker 3'],
    ['tail', 3, 4711, 'stdout', 30, 'worker 3'],
  ]);
  assert.deepEqual(stderr.lines.map((l) => JSON.parse(l) as Record<string, unknown>), [
    { level: 40, time: (JSON.parse(stderr.lines[0]!) as { time: number }).time, pid: 4711, name: 'worker 3', worker: 3, stream: 'stderr', msg: 'oops' },
    { level: 30, pid: 4711, name: 'worker 3', msg: 'ready' },
  ]);
});

test('a full sink pauses every worker\'s pipes (the master reads no more) until it drains', async () => {
  const stdout = new FakeSink();
  const stderr = new FakeSink();
  const out = new WorkerOutput({ format: 'text', stdout, stderr, restMs: 0 });
  const a = pipes();
  const b = pipes();
  out.attach(1, 10, a);
  out.attach(2, 20, b);
  stdout.full = true;
  a.stdout.write('one\n');
  await turn();
  await turn();
  assert.deepEqual(stdout.lines, ['worker 1[10]| one']);
  for (const s of [a.stdout, a.stderr, a.log, b.stdout, b.stderr, b.log]) assert.equal(s.isPaused(), true);
  const c = pipes();
  out.attach(3, 30, c); // a worker started meanwhile starts paused too
  assert.equal(c.stdout.isPaused(), true);
  b.stdout.write('two\n');
  await turn();
  await turn();
  assert.deepEqual(stdout.lines, ['worker 1[10]| one'], 'nothing read while full');
  stdout.drained();
  await turn();
  await turn();
  assert.deepEqual(stdout.lines, ['worker 1[10]| one', 'worker 2[20]| two']);
  assert.equal(b.stdout.isPaused(), false);
});

test('after a read the pipe rests, then reads what came meanwhile in one go', async () => {
  const stdout = new FakeSink();
  const out = new WorkerOutput({ format: 'text', stdout, stderr: new FakeSink(), restMs: 30 });
  const w = pipes();
  out.attach(1, 10, w);
  w.stdout.write('a\n');
  await turn();
  await turn();
  assert.equal(w.stdout.isPaused(), true, 'resting after the read');
  w.stdout.write('b\nc\n'); // (a pipe read after the rest returns all that waited; a PassThrough one chunk each)
  await turn();
  assert.deepEqual(stdout.lines, ['worker 1[10]| a']);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(stdout.lines, ['worker 1[10]| a', 'worker 1[10]| b', 'worker 1[10]| c']);
  assert.equal(stdout.writes.length, 2, 'b and c in one write');
});
