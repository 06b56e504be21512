// What the workers print, as the master prints it: each worker's stdout, stderr and log pipe is read (never
// blocking the master), cut into lines (line-splitter.ts) and written whole to the master's own stdout or stderr,
// (gathered per turn of the event loop), so two workers' lines never mix. With --log-format json an app line becomes one record (`worker`, `pid`,
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
  /** How long a worker's pipe rests after a read; default REST_MS (unit tests pass 0). */
  restMs?: number;
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
  private readonly idleWaiters = new Set<() => void>();
  private blocked = false;
  private readonly stdout: Batch;
  private readonly stderr: Batch;

  constructor(private readonly o: WorkerOutputOptions) {
    this.stdout = new Batch(o.stdout, (sink) => this.block(sink));
    this.stderr = new Batch(o.stderr, (sink) => this.block(sink));
  }

  /** Starts reading one worker's pipes; each ends (and is forgotten) when the worker and its children close it. */
  attach(workerId: number, pid: number, streams: WorkerStreams): void {
    for (const name of ['stdout', 'stderr', 'log'] as const) this.read(workerId, pid, name, streams[name]);
  }

  private read(workerId: number, pid: number, name: StreamName, stream: Readable): void {
    const out = name === 'stdout' ? this.stdout : this.stderr;
    const format = this.formatter(workerId, pid, name);
    const splitter = new LineSplitter((line, part, more) => out.add(format(line, part, more)), this.o.maxLineBytes ?? MAX_LINE_BYTES);
    this.sources.add(stream);
    if (this.blocked) stream.pause();
    // After a read, the pipe rests a moment: what the worker writes meanwhile is read in one go, so a busy app
    // costs the master one wakeup and one read per REST_MS per worker instead of one per line.
    const restMs = this.o.restMs ?? REST_MS;
    let resting = false;
    const wake = () => {
      resting = false;
      if (!this.blocked) stream.resume();
    };
    stream.on('data', (chunk: Buffer) => {
      splitter.push(chunk);
      if (resting || restMs <= 0) return;
      resting = true;
      stream.pause();
      setTimeout(wake, restMs);
    });
    const done = () => {
      if (!this.sources.delete(stream)) return;
      splitter.end();
      if (this.sources.size === 0) setImmediate(this.wakeIdle); // after the batches' own flush (FIFO)
    };
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', () => undefined); // ECONNRESET from a killed worker: 'close' follows
  }

  /**
   * Resolves once every pipe attached so far has ended and its last lines were handed to the sinks, or after
   * `timeoutMs` (a grandchild of the app may hold a pipe open). start.ts waits for it before the master exits, so
   * the workers' last lines are not lost to the exit.
   */
  closed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.sources.size === 0) return setImmediate(resolve);
      const timer = setTimeout(() => {
        this.idleWaiters.delete(done);
        resolve();
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.add(done);
    });
  }

  private readonly wakeIdle = (): void => {
    if (this.sources.size > 0) return;
    for (const w of this.idleWaiters) w();
    this.idleWaiters.clear();
  };

  /** The destination is full: stop reading every worker (their pipes fill and their writes wait) until it drains. */
  private block(sink: LineSink): void {
    if (this.blocked) return;
    this.blocked = true;
    for (const s of this.sources) s.pause();
    sink.onceDrain(() => {
      this.blocked = false;
      for (const s of this.sources) s.resume(); // a resting pipe reads one turn early: harmless
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

/** How long a worker's pipe rests after a read (a line printed is delayed by at most this). */
const REST_MS = 5;

/** Bytes of whole lines gathered before a write even inside one turn of the event loop. */
const BATCH_BYTES = 256 * 1024;

/**
 * The lines of every worker bound for one sink, written once per turn of the event loop (setImmediate): under load
 * one write carries many lines, instead of one write per line read. Only whole lines are ever added.
 */
class Batch {
  private text = '';
  private scheduled = false;

  constructor(
    private readonly sink: LineSink,
    private readonly full: (sink: LineSink) => void,
  ) {}

  add(line: string): void {
    this.text += line;
    if (this.text.length >= BATCH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.text === '') return;
    const text = this.text;
    this.text = '';
    if (!this.sink.write(text)) this.full(this.sink);
  };
}
