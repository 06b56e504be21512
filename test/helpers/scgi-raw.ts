// Raw-socket helpers for the hostile-input and lifecycle tests: send hand-made bytes on a schedule, read until the
// peer ends the connection, and report how it ended (FIN, RST, timeout) and when; a strict reader of the CGI-style
// response head; one supervisor per suite (over supervisor.ts) and the checks every hostile suite ends with.
// Not a normal SCGI client: that is src/protocol/request-encoder.ts and the `request` CLI.

import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delay, freePort, isAlive } from './frontends/process-utils.js';
import { startSupervisor, type ExitInfo, type Supervisor } from './supervisor.js';

export type Target = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** The `-l/--listen` spelling of a target. */
export function listenArg(target: Target): string {
  return target.kind === 'tcp' ? `${target.host}:${target.port}` : `unix:${target.path}`;
}

export function connectTo(target: Target, allowHalfOpen = true): Socket {
  return target.kind === 'tcp'
    ? connect({ host: target.host, port: target.port, allowHalfOpen, noDelay: true })
    : connect({ path: target.path, allowHalfOpen });
}

/** One step of what the client does: send bytes, pause, half-close (FIN), or trickle bytes. */
export type Step =
  | Buffer
  | string // latin1
  | { waitMs: number }
  | 'fin'
  | { trickle: Buffer; chunkBytes: number; everyMs: number };

export type Ending =
  | 'fin' // the peer half-closed or closed cleanly
  | 'rst' // ECONNRESET (also when it arrived right behind a FIN-looking EOF: see the probe in exchange())
  | 'timeout' // nothing ended the connection within timeoutMs
  | 'refused' // ECONNREFUSED (or ENOENT for a unix socket path)
  | 'error'; // any other socket error (errorCode says which)

export interface Outcome {
  data: Buffer;
  ending: Ending;
  errorCode: string | null;
  /** ms from connect to the first response byte, or null. */
  firstByteMs: number | null;
  /** ms from connect to the ending (timeout: timeoutMs). */
  endMs: number;
  /** ms from the last byte the client sent (before the ending) to the ending. */
  endAfterLastSendMs: number;
  /** Bytes the client wrote before the ending. */
  sentBytes: number;
  /** With lingerMs: a socket error seen after the FIN (an RST that would have destroyed an unread response). */
  errorAfterFin: string | null;
}

export interface ExchangeOptions {
  /** Bound on the whole exchange (default 5000 ms); 'timeout' when it elapses. */
  timeoutMs?: number;
  /** After the FIN, keep running the remaining steps for this long and record any error (default 0: stop at FIN). */
  lingerMs?: number;
}

/**
 * Connects, runs `steps` while reading, and resolves at the first of: FIN from the peer, a socket error, the timeout.
 * The client never half-closes unless a step says 'fin' (front ends never do: docs/protocol.md case 27).
 */
export function exchange(target: Target, steps: Step[], options: ExchangeOptions = {}): Promise<Outcome> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const lingerMs = options.lingerMs ?? 0;
  return new Promise((resolve) => {
    const socket = connectTo(target);
    const chunks: Buffer[] = [];
    let start = Date.now();
    let lastSendAt = start;
    let firstByteAt: number | null = null;
    let sentBytes = 0;
    let outcome: Outcome | null = null;
    let finished = false; // steps must stop
    let timer: NodeJS.Timeout | null = null;
    let lingerTimer: NodeJS.Timeout | null = null;
    let eofSeen = false; // an EOF whose probe write is in flight

    const done = (): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (lingerTimer) clearTimeout(lingerTimer);
      socket.destroy();
      resolve(outcome!);
    };
    const settle = (ending: Ending, errorCode: string | null): void => {
      if (outcome !== null) {
        if (ending !== 'fin' && outcome.errorAfterFin === null) outcome.errorAfterFin = errorCode ?? ending;
        return;
      }
      const now = Date.now();
      outcome = {
        data: Buffer.concat(chunks),
        ending,
        errorCode,
        firstByteMs: firstByteAt === null ? null : firstByteAt - start,
        endMs: now - start,
        endAfterLastSendMs: now - lastSendAt,
        sentBytes,
        errorAfterFin: null,
      };
      if (ending === 'fin' && lingerMs > 0) {
        if (timer) clearTimeout(timer);
        lingerTimer = setTimeout(done, lingerMs);
        return;
      }
      done();
    };

    timer = setTimeout(() => settle('timeout', null), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (firstByteAt === null) firstByteAt = Date.now();
      if (outcome === null) chunks.push(chunk);
    });
    socket.on('end', () => {
      // libuv reports EOF, not ECONNRESET, when an RST arrives right behind the data (a POLLHUP after a partial
      // read), so a FIN is confirmed by writing one probe byte: it fails at once if the peer reset (sk_err is set).
      if (outcome !== null || socket.writableEnded || socket.destroyed) return settle('fin', null);
      eofSeen = true;
      socket.write(PROBE, (err?: Error | null) =>
        err ? settle('rst', (err as NodeJS.ErrnoException).code ?? 'ECONNRESET') : settle('fin', null),
      );
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'UNKNOWN';
      if (code === 'ECONNRESET' || eofSeen) settle('rst', code);
      else if (code === 'ECONNREFUSED' || code === 'ENOENT') settle('refused', code);
      else settle('error', code);
    });
    socket.on('close', () => {
      if (outcome === null) settle('fin', null);
      else if (!finished && lingerMs > 0) done();
    });
    socket.on('connect', () => {
      start = Date.now();
      lastSendAt = start;
      void runSteps();
    });

    const write = (buf: Buffer): Promise<void> =>
      new Promise((res) => {
        if (finished || socket.destroyed || !socket.writable) return res();
        sentBytes += buf.length;
        lastSendAt = Date.now();
        // Resolve on flush so trickled bytes really leave one by one; an error is reported by the 'error' handler.
        socket.write(buf, () => res());
      });
    const pause = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

    async function runSteps(): Promise<void> {
      for (const step of steps) {
        if (finished) return;
        if (Buffer.isBuffer(step)) await write(step);
        else if (typeof step === 'string') {
          if (step === 'fin') {
            if (!socket.destroyed) socket.end();
          } else await write(Buffer.from(step, 'latin1'));
        } else if ('waitMs' in step) await pause(step.waitMs);
        else {
          for (let i = 0; i < step.trickle.length && !finished; i += step.chunkBytes) {
            await write(step.trickle.subarray(i, i + step.chunkBytes));
            if (i + step.chunkBytes < step.trickle.length) await pause(step.everyMs);
          }
        }
      }
    }
  });
}

const PROBE = Buffer.from('\n');

// ---- request bytes, hand-made (hostile tests must control every byte) ----

export type Pair = [name: string | Buffer, value: string | Buffer];

const bytes = (v: string | Buffer): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v, 'latin1'));

/** `name\0value\0...` exactly as given (no CONTENT_LENGTH added, no checks). */
export function block(pairs: Pair[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of pairs) parts.push(bytes(name), Buffer.from([0]), bytes(value), Buffer.from([0]));
  return Buffer.concat(parts);
}

/** `<len>:<block>,<body>`: a well-framed netstring around whatever block is given. */
export function frame(headerBlock: Buffer, body: string | Buffer = ''): Buffer {
  return Buffer.concat([Buffer.from(`${headerBlock.length}:`, 'latin1'), headerBlock, Buffer.from(','), bytes(body)]);
}

/** A correct request as nginx would send it: CONTENT_LENGTH first, SCGI=1, method and URI, then `extra`. */
export function request(method: string, uri: string, extra: Pair[] = [], body: string | Buffer = ''): Buffer {
  const b = bytes(body);
  return frame(
    block([['CONTENT_LENGTH', String(b.length)], ['SCGI', '1'], ['REQUEST_METHOD', method], ['REQUEST_URI', uri], ...extra]),
    b,
  );
}

// ---- responses, read strictly ----

export interface CgiResponse {
  status: number;
  reason: string;
  /** Header lines after the Status line, in order, names as sent. */
  headers: Array<[string, string]>;
  body: Buffer;
  /** The head bytes as latin1, up to and including the blank line. */
  head: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a CGI-style response and throws (with the raw bytes) unless it is well formed: the first line is
 * `Status: NNN Reason` with a non-empty reason, every line ends in CRLF with no stray CR/LF, every header line is
 * `token: value`, and there is exactly one Status line (docs/protocol.md cases 28, 32).
 */
export function parseResponse(data: Buffer): CgiResponse {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 300))}`);
  const head = text.slice(0, end + 4);
  const lines = text.slice(0, end).split('\r\n');
  const first = /^Status: (\d{3}) ([^\r\n]+)$/.exec(lines[0]!);
  if (!first) throw new Error(`first line is not "Status: NNN Reason": ${JSON.stringify(lines[0])}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (line.includes('\n') || line.includes('\r')) throw new Error(`stray CR or LF in header line ${JSON.stringify(line)}`);
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!TOKEN.test(name)) throw new Error(`header line is not "token: value": ${JSON.stringify(line)}`);
    if (name.toLowerCase() === 'status') throw new Error(`a second Status line: ${JSON.stringify(line)}`);
    headers.push([name, line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')]);
  }
  return { status: Number(first[1]), reason: first[2]!, headers, body: data.subarray(Buffer.byteLength(head, 'latin1')), head };
}

/** Every value of a header (case-insensitive). */
export function headerValues(res: CgiResponse, name: string): string[] {
  const lower = name.toLowerCase();
  return res.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

export function header(res: CgiResponse, name: string): string | undefined {
  return headerValues(res, name)[0];
}

/** A printable description of an outcome for assertion messages. */
export function show(o: Outcome): string {
  const shown = o.data.subarray(0, 400).toString('latin1');
  return `ending=${o.ending}${o.errorCode ? `(${o.errorCode})` : ''} after ${o.endMs}ms, ${o.data.length} bytes: ${JSON.stringify(shown)}`;
}

// ---- processes ----

export { freePort, isAlive }; // re-exported: other tests import them from here

/** SIGKILL by pid, ignoring "already gone". For t.after clean-ups. */
export function killQuietly(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ESRCH: already gone
    }
  }
}

/** Polls until every pid is gone (ESRCH); returns the ones still alive at the bound. */
export async function waitForPidsGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await delay(25);
  }
}

/** `worker <id> (pid <pid>) ready` (RULES.md stable log lines). */
export const WORKER_READY = /worker \d+ \(pid (\d+)\) ready/;
/** `ready: <N> workers on <addr>`. */
export const ALL_READY = /ready: \d+ workers on \S+/;

// ---- one supervisor per test suite, and the checks every hostile suite ends with ----

export interface Served {
  sup: Supervisor;
  target: Target;
  dir: string;
  /** Worker pids from the `ready` lines at start. */
  initialPids: number[];
  cleanup(): Promise<void>;
}

/** test/helpers/supervisor.ts's startSupervisor on a fresh TCP port or a unix socket in a temp dir, waited until ready. */
export async function serve(options: {
  app: string;
  kind: 'tcp' | 'unix';
  workers?: number;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}): Promise<Served> {
  const dir = await mkdtemp(join(tmpdir(), 'scgi-life-'));
  const target: Target =
    options.kind === 'tcp' ? { kind: 'tcp', host: '127.0.0.1', port: await freePort() } : { kind: 'unix', path: join(dir, 'scgi.sock') };
  let sup: Supervisor;
  try {
    sup = await startSupervisor({ app: options.app, workers: options.workers ?? 2, listen: listenArg(target), args: options.args, env: options.env });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const cleanup = async (): Promise<void> => {
    await sup.stop('SIGKILL', 1000);
    await rm(dir, { recursive: true, force: true });
  };
  return { sup, target, dir, initialPids: sup.workerPids(), cleanup };
}

/**
 * After a hostile run: no worker exited or was respawned (log), every initial worker is alive, and `rounds`
 * fresh requests are all answered by initial workers (`pidOf` sends one request and returns the pid that answered).
 */
export async function assertSameWorkers(s: Served, pidOf: (target: Target) => Promise<number>, rounds = 12): Promise<void> {
  const log = s.sup.logs();
  const exits = log.split('\n').filter((line) => /exited|respawning/.test(line));
  if (exits.length > 0) throw new Error(`workers exited during the run:\n${exits.join('\n')}`);
  const initial = [...s.initialPids].sort();
  const now = [...s.sup.workerPids()].sort();
  if (JSON.stringify(initial) !== JSON.stringify(now)) throw new Error(`ready workers changed: ${initial} -> ${now}`);
  const dead = initial.filter((pid) => !isAlive(pid));
  if (dead.length > 0) throw new Error(`initial workers gone: ${dead}`);
  for (let i = 0; i < rounds; i++) {
    const pid = await pidOf(s.target);
    if (!initial.includes(pid)) throw new Error(`pid ${pid} answered, not one of the initial workers ${initial}`);
  }
}

/** Log lines at ERROR or FATAL level (text format: `<time> <LEVEL> <name>[<pid>]: <msg>`). */
export function errorLines(log: string): string[] {
  return log.split('\n').filter((line) => /^\S+ (ERROR|FATAL)\b/.test(line));
}

/** A reject-NNN response (docs/protocol.md "How the worker answers a bad request"): well formed, text/plain, exact Content-Length, then FIN. */
export function assertRejected(o: Outcome, status: number | number[], withinMs = 1000): CgiResponse {
  const statuses = Array.isArray(status) ? status : [status];
  if (o.ending !== 'fin') throw new Error(`expected ${statuses.join('/')} then FIN; got ${show(o)}`);
  const res = parseResponse(o.data);
  if (!statuses.includes(res.status)) throw new Error(`expected status ${statuses.join('/')}; got ${show(o)}`);
  const ct = header(res, 'content-type') ?? '';
  if (!ct.startsWith('text/plain')) throw new Error(`expected Content-Type text/plain; got ${show(o)}`);
  const cls = headerValues(res, 'content-length');
  if (cls.length !== 1 || Number(cls[0]) !== res.body.length) {
    throw new Error(`expected one exact Content-Length (${res.body.length}); got ${show(o)}`);
  }
  if (o.endAfterLastSendMs > withinMs) throw new Error(`answered ${o.endAfterLastSendMs}ms after the last byte (bound ${withinMs}ms)`);
  return res;
}

/** silent-close: not one byte written, then FIN, within the bound. */
export function assertSilentClose(o: Outcome, withinMs = 1000): void {
  if (o.ending !== 'fin' || o.data.length !== 0) throw new Error(`expected a silent close (no bytes, FIN); got ${show(o)}`);
  if (o.endAfterLastSendMs > withinMs) throw new Error(`closed ${o.endAfterLastSendMs}ms after the last byte (bound ${withinMs}ms)`);
}

/** The supervisor's exit within the bound (throws with its output otherwise), and how long the wait took. */
export async function exitOf(sup: Supervisor, timeoutMs: number): Promise<ExitInfo & { ms: number }> {
  const t0 = Date.now();
  const info = await sup.exited(timeoutMs);
  if (!info) throw new Error(`supervisor ${sup.pid} did not exit within ${timeoutMs}ms\n--- output ---\n${sup.logs().slice(-3000)}`);
  return { ...info, ms: Date.now() - t0 };
}
