// The one logger factory, written synchronously to stderr so no line is lost on exit or SIGTERM (LIBRARIES.md §3).
// `text` (the default) is a small built-in logger: one human line per record, and no pino in the process (pino
// costs a worker ~8.5 MiB of RSS); `json` loads pino on demand for its JSON lines (journald, jq).
// Log lines are an interface: tests grep their `msg` text, so phrasing is kept stable where a test relies on it.
// The master passes `write` (cli/commands/start.ts): its lines then share one writer with the workers' routed output
// (master/worker-output.ts), so no line is cut by another when stderr is slow; start.ts flushes it before exiting.

import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Pino from 'pino';

export type LogFormat = 'text' | 'json';

export interface LogOptions {
  name: string; // "master" or "worker 3"
  level?: string;
  format?: LogFormat;
  /** The descriptor written to synchronously; default 2. A worker whose output the master routes uses LOG_FD. */
  fd?: number;
  /** Instead of fd: where whole lines go (the master's stderr writer, shared with the workers' routed output). */
  write?: (line: string) => void;
}

/** The call shapes used in src/: pino's, minus printf-style interpolation. */
export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

export interface Logger {
  level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: string): boolean;
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const STANDARD_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'err']);

/** Turns one pino JSON record into `2026-11-24T14:35:31.123Z INFO  master[812]: msg key=value`. */
export function formatTextLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(typeof rec.time === 'number' ? rec.time : Date.now()).toISOString();
  const level = (LEVEL_NAMES[rec.level as number] ?? String(rec.level)).padEnd(5);
  let line = `${time} ${level} ${String(rec.name ?? '')}[${String(rec.pid ?? '')}]: ${String(rec.msg ?? '')}`;
  for (const [key, value] of Object.entries(rec)) {
    if (STANDARD_KEYS.has(key)) continue;
    line += ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
  }
  const err = rec.err as { stack?: string; message?: string } | undefined;
  if (err) line += `\n${err.stack ?? err.message ?? JSON.stringify(err)}`;
  return line + '\n';
}

/** The text logger: the same line formatTextLine makes of a pino record, without the JSON round trip. */
class TextLogger implements Logger {
  private threshold: number;
  private levelName: string;

  constructor(
    private readonly name: string,
    level: string,
    private readonly bindings: Record<string, unknown> | null,
    private readonly out: (line: string) => void,
  ) {
    this.threshold = levelValue(level);
    this.levelName = level;
  }

  get level(): string {
    return this.levelName;
  }

  set level(level: string) {
    this.threshold = levelValue(level);
    this.levelName = level;
  }

  isLevelEnabled(level: string): boolean {
    return (LEVELS[level] ?? Infinity) >= this.threshold;
  }

  child(bindings: Record<string, unknown>): Logger {
    return new TextLogger(this.name, this.levelName, { ...this.bindings, ...bindings }, this.out);
  }

  readonly trace: LogFn = (a: object | string, msg?: string) => this.write(10, a, msg);
  readonly debug: LogFn = (a: object | string, msg?: string) => this.write(20, a, msg);
  readonly info: LogFn = (a: object | string, msg?: string) => this.write(30, a, msg);
  readonly warn: LogFn = (a: object | string, msg?: string) => this.write(40, a, msg);
  readonly error: LogFn = (a: object | string, msg?: string) => this.write(50, a, msg);
  readonly fatal: LogFn = (a: object | string, msg?: string) => this.write(60, a, msg);

  private write(level: number, a: object | string, msg: string | undefined): void {
    if (level < this.threshold) return;
    let fields: Record<string, unknown> | null = this.bindings;
    let text: string;
    if (typeof a === 'string') {
      text = a;
    } else {
      // pino logs a bare Error as { err } with its message as msg
      const obj = a instanceof Error ? { err: a } : (a as Record<string, unknown>);
      fields = fields === null ? obj : { ...fields, ...obj };
      text = msg ?? (a instanceof Error ? a.message : '');
    }
    let line = `${new Date().toISOString()} ${LEVEL_NAMES[level]!.padEnd(5)} ${this.name}[${process.pid}]: ${text}`;
    let err: unknown;
    if (fields !== null) {
      for (const key in fields) {
        if (!Object.hasOwn(fields, key)) continue;
        const value = fields[key];
        if (key === 'err') {
          err = value;
          continue;
        }
        if (STANDARD_KEYS.has(key)) continue;
        line += fieldText(key, value);
      }
    }
    if (err !== undefined && err !== null && err !== false && err !== '' && err !== 0) line += `\n${errorText(err)}`;
    this.out(line + '\n');
  }
}

/** ` key=value` as the JSON round trip shows it: strings bare, the rest as JSON, and nothing for what JSON drops. */
function fieldText(key: string, value: unknown): string {
  if (typeof value === 'string') return ` ${key}=${value}`;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = '"[unserializable]"';
  }
  if (json === undefined) return '';
  // A value that serialises to a JSON string (a Date, a toJSON) came back from pino's record as a bare string.
  return ` ${key}=${json.startsWith('"') ? (JSON.parse(json) as string) : json}`;
}

function errorText(err: unknown): string {
  if (typeof err === 'object') {
    const e = err as { stack?: unknown; message?: unknown };
    if (typeof e.stack === 'string') return e.stack;
    if (typeof e.message === 'string') return e.message;
  }
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

function writeLine(fd: number, line: string): void {
  // stderr may be a non-blocking pipe: retry EAGAIN a bounded number of times rather than lose the line.
  for (let attempt = 0; attempt < 1000; attempt++) {
    try {
      writeSync(fd, line);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}

function levelValue(level: string): number {
  const value = LEVELS[level];
  if (value === undefined) throw new Error(`unknown log level ${JSON.stringify(level)}`);
  return value;
}

export function createLogger(options: LogOptions): Logger {
  const format = options.format ?? 'text';
  const level = options.level ?? 'info';
  const fd = options.fd ?? 2;
  const write = options.write;
  if (format === 'text') return new TextLogger(options.name, level, null, write ?? ((line) => writeLine(fd, line)));
  // Only a json-format process pays for pino (a CommonJS package: require keeps createLogger synchronous).
  const pino = createRequire(import.meta.url)('pino') as typeof Pino.default;
  return pino(
    {
      name: options.name,
      level,
      base: { pid: process.pid },
      serializers: { err: pino.stdSerializers.err },
    },
    write !== undefined ? { write } : pino.destination({ dest: fd, sync: true }),
  ) as unknown as Logger;
}
