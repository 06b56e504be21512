// What the workers print, as the master prints it: each worker's stdout, stderr and log pipe is read (never
// blocking the master), cut into lines (line-splitter.ts) and written whole to the master's own stdout or stderr,
// so two workers' lines never mix. With --log-format json an app line becomes one record (`worker`, `pid`,
// `stream`); with text it gets a `worker 2[4711]| ` prefix. The worker's own log records (its logger writes them
// on their own pipe, worker/messages.ts LOG_FD) pass through as they are. Not the spawning (spawn-worker.ts).

import type { Readable } from 'node:stream';
import { LineSplitter, MAX_LINE_BYTES } from './line-splitter.js';

/** Where lines go: the master's stdout or stderr (cli/commands/start.ts wraps process.stdout/stderr). */
export interface LineSink {
  /** Whole lines only. False when the destination is full: the caller waits for onceDrain. */
  write(text: string): boolean;
  onceDrain(listener: () => void): void;
}

export interface WorkerOutputOptions {
  format: 'text' | 'json';
  stdout: LineSink;
  stderr: LineSink;
  maxLineBytes?: number;
}

export interface WorkerStreams {
  stdout: Readable;
  stderr: Readable;
  /** The worker's own logger (JSON or text records, one per line). */
  log: Readable;
}

type StreamName = 'stdout' | 'stderr' | 'log';

// An app's stdout is info, its stderr warn: a collector filtering at warn still sees console.error.
const LEVEL: Record<'stdout' | 'stderr', number> = { stdout: 30, stderr: 40 };

export class WorkerOutput {
  private readonly sources = new Set<Readable>();
  private blocked = false;

  constructor(private readonly o: WorkerOutputOptions) {}

  /** Starts reading one worker's pipes; each ends (and is forgotten) when the worker and its children close it. */
  attach(workerId: number, pid: number, streams: WorkerStreams): void {
    for (const name of ['stdout', 'stderr', 'log'] as const) this.read(workerId, pid, name, streams[name]);
  }

  private read(workerId: number, pid: number, name: StreamName, stream: Readable): void {
    const sink = name === 'stdout' ? this.o.stdout : this.o.stderr;
    const format = this.formatter(workerId, pid, name);
    let batch = '';
    const splitter = new LineSplitter((line, part, more) => {
      batch += format(line, part, more);
    }, this.o.maxLineBytes ?? MAX_LINE_BYTES);
    // One write per chunk read (all its whole lines): fewer syscalls than a write per line, same atomicity.
    const flush = () => {
      if (batch === '') return;
      const text = batch;
      batch = '';
      if (!sink.write(text)) this.block(sink);
    };
    this.sources.add(stream);
    if (this.blocked) stream.pause();
    stream.on('data', (chunk: Buffer) => {
      splitter.push(chunk);
      flush();
    });
    const done = () => {
      if (!this.sources.delete(stream)) return;
      splitter.end();
      flush();
    };
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', () => undefined); // ECONNRESET from a killed worker: 'close' follows
  }

  /** The destination is full: stop reading every worker (their pipes fill and their writes wait) until it drains. */
  private block(sink: LineSink): void {
    if (this.blocked) return;
    this.blocked = true;
    for (const s of this.sources) s.pause();
    sink.onceDrain(() => {
      this.blocked = false;
      for (const s of this.sources) s.resume();
    });
  }

  private formatter(workerId: number, pid: number, name: StreamName): (line: string, part: number, more: boolean) => string {
    if (name === 'log') return (line) => line + '\n'; // already a record of ours (JSON or text): not wrapped again
    if (this.o.format === 'text') {
      const prefix = `worker ${workerId}[${pid}]`;
      return (line, part, more) => `${prefix}${part === 0 ? '' : ` part ${part}${more ? '+' : ''}`}| ${line}\n`;
    }
    // The same keys as the loggers' records (level, time, pid, name, msg), so one jq filter reads them all.
    const head = `{"level":${LEVEL[name]},"time":`;
    const tail = `,"pid":${pid},"name":"worker ${workerId}","worker":${workerId},"stream":"${name}"`;
    return (line, part, more) =>
      `${head}${Date.now()}${tail}${part === 0 ? '' : `,"part":${part},"more":${more}`},"msg":${JSON.stringify(line)}}\n`;
  }
}
