// The one logger factory: pino, written synchronously to stderr so no line is lost on exit or SIGTERM
// (LIBRARIES.md §3). `text` renders one human line per record; `json` is pino's own JSON lines (journald, jq).
// Log lines are an interface: tests grep their `msg` text, so phrasing is kept stable where a test relies on it.

import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

export type { Logger };
export type LogFormat = 'text' | 'json';

export interface LogOptions {
  name: string; // "master" or "worker 3"
  level?: string;
  format?: LogFormat;
}

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

export function createLogger(options: LogOptions): Logger {
  const format = options.format ?? 'text';
  const destination =
    format === 'json'
      ? pino.destination({ dest: 2, sync: true })
      : { write: (record: string) => void writeSync(2, formatTextLine(record)) };
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { pid: process.pid },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
