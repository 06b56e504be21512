// The options: one zod schema for their values (the YAML file is checked with it as a strictObject) and one table
// naming each option's YAML key, flag, environment variable and what it accepts. Not the merging or the final
// Config (load.ts), nor the defaults (defaults.ts). docs/configuration.md and supervisor.example.yaml mirror this file.

import { z } from 'zod';
import { MAX_WORKERS } from '../stats-contract.js';

const seconds = (max: number) => z.number().positive().max(max);
const nullableString = z.string().min(1).nullable();

/** Values as they are after coercion (env/flag strings turned into numbers and booleans); keys are the YAML keys. */
export const FileSchema = z.strictObject({
  app: z.string().min(1),
  workers: z.union([z.int().min(1).max(MAX_WORKERS), z.literal('auto')]),
  listen: z.string().min(1),
  // A string of octal digits ("0660"): YAML 1.2 reads an unquoted 0660 as the decimal 660 (LIBRARIES.md §1).
  'socket-mode': z.string().regex(/^(0o?)?[0-7]{1,4}$/i, 'expected octal digits like "0660"'),
  'socket-group': nullableString,
  backlog: z.int().min(1).max(65535),
  'graceful-timeout': z.number().min(0).max(86400),
  'boot-timeout': seconds(86400),
  'worker-timeout': z.number().min(0).max(86400),
  'reload-surge': z.int().min(1).max(MAX_WORKERS),
  'restart-backoff-min': seconds(3600),
  'restart-backoff-max': seconds(3600),
  'stats-interval': seconds(3600),
  'metrics-listen': nullableString,
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1-64 letters, digits, ".", "_" or "-"').nullable(),
  control: nullableString,
  'control-group': nullableString,
  'log-level': z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  'log-format': z.enum(['text', 'json']),
  'max-header-bytes': z.int().min(1024).max(16 * 1024 * 1024),
  'max-header-count': z.int().min(1).max(100_000),
  'max-body-bytes': z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  'header-timeout': seconds(86400),
  'body-timeout': seconds(86400),
  'send-timeout': seconds(86400),
  strict: z.boolean(),
  // Workers only (the master keeps the identity, folder, environment and node flags it was started with).
  user: nullableString,
  group: nullableString,
  chdir: nullableString,
  // A map in YAML; `--env KEY=VALUE`, repeated, on the command line; no SCGI_SUPERVISE_ENV (it would be a second
  // syntax for the same map). Values are strings; YAML numbers and booleans are taken as their text.
  env: z.record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected variable names of letters, digits and "_"'),
    z.union([z.string(), z.number(), z.boolean()]).transform(String),
  ),
  'node-args': z.string().nullable(),
  'request-timeout': z.number().min(0).max(86400),
  'max-connections': z.int().min(0).max(1_000_000),
  // Recycling (master/recycle.ts): 0 turns each limit off.
  'max-requests': z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  'max-requests-jitter': z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  'max-memory': z.number().min(0).max(1024 * 1024),
  'max-lifetime': z.number().min(0).max(366 * 86400),
  'recycle-surge': z.int().min(1).max(MAX_WORKERS),
});

export type FileConfig = z.infer<typeof FileSchema>;
export type OptionName = keyof FileConfig;

export type OptionKind = 'string' | 'int' | 'number' | 'boolean' | 'nullable-string' | 'int-or-auto' | 'env-map';

export interface OptionSpec {
  /** The YAML key and, with `--` in front, the flag; also the ConfigError `key`. */
  name: OptionName;
  /** The ConfigInput field (camelCase, as yargs hands flags over). */
  input: string;
  /** SCGI_SUPERVISE_ + the name in upper case with `-` → `_`. */
  env: string;
  /** False for an option with no environment-variable form (`env`): load.ts then ignores the variable. */
  fromEnv: boolean;
  /** How an environment or flag string is coerced before the schema checks it. */
  kind: OptionKind;
  /** What a valid value looks like: the hint of every error about this option. */
  expect: string;
}

const spec = (name: OptionName, kind: OptionKind, expect: string, fromEnv = true): OptionSpec => ({
  name,
  input: name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()),
  env: 'SCGI_SUPERVISE_' + name.toUpperCase().replace(/-/g, '_'),
  fromEnv,
  kind,
  expect,
});

export const OPTIONS: readonly OptionSpec[] = Object.freeze([
  spec('app', 'string', 'the path of the app module, e.g. app.js'),
  spec('workers', 'int-or-auto', `an integer from 1 to ${MAX_WORKERS}, or "auto" (one per CPU)`),
  spec('listen', 'string', 'HOST:PORT (127.0.0.1:4000), [IPv6]:PORT, unix:/run/app.sock or fd:3'),
  spec('socket-mode', 'string', 'an octal mode as a quoted string, e.g. "0660"'),
  spec('socket-group', 'nullable-string', 'a group name or numeric gid, e.g. www-data'),
  spec('backlog', 'int', 'an integer from 1 to 65535'),
  spec('graceful-timeout', 'number', 'seconds from 0 to 86400, e.g. 30'),
  spec('boot-timeout', 'number', 'seconds above 0, e.g. 30'),
  spec('worker-timeout', 'number', 'seconds from 0 (off) to 86400, e.g. 30'),
  spec('reload-surge', 'int', `an integer from 1 to ${MAX_WORKERS}`),
  spec('restart-backoff-min', 'number', 'seconds above 0, e.g. 0.1'),
  spec('restart-backoff-max', 'number', 'seconds above 0, at least restart-backoff-min, e.g. 10'),
  spec('stats-interval', 'number', 'seconds above 0, e.g. 1'),
  spec('metrics-listen', 'nullable-string', 'HOST:PORT (127.0.0.1:9464), :PORT (loopback) or unix:/run/app-metrics.sock'),
  spec('name', 'nullable-string', '1-64 letters, digits, ".", "_" or "-", e.g. shop'),
  spec('control', 'nullable-string', 'the path of the control socket, e.g. /run/scgi-supervise/shop.sock'),
  spec('control-group', 'nullable-string', 'a group name or numeric gid whose members may use the control socket (0660), e.g. deploy'),
  spec('log-level', 'string', 'one of trace, debug, info, warn, error, fatal, silent'),
  spec('log-format', 'string', 'text or json'),
  spec('max-header-bytes', 'int', 'an integer from 1024 to 16777216 (bytes)'),
  spec('max-header-count', 'int', 'an integer from 1 to 100000'),
  spec('max-body-bytes', 'int', 'an integer number of bytes, 0 or more'),
  spec('header-timeout', 'number', 'seconds above 0, e.g. 10'),
  spec('body-timeout', 'number', 'seconds above 0, e.g. 30'),
  spec('send-timeout', 'number', 'seconds above 0, e.g. 60'),
  spec('strict', 'boolean', 'true or false'),
  spec('user', 'nullable-string', 'a user name or numeric uid the workers run as, e.g. www-app (the master must be root)'),
  spec('group', 'nullable-string', 'a group name or numeric gid the workers run as, e.g. www-app'),
  spec('chdir', 'nullable-string', 'the folder the workers start in, e.g. /srv/app'),
  spec('env', 'env-map', 'KEY=VALUE (flag, repeated) or a YAML mapping of NAME: value', false),
  spec('node-args', 'string', 'node flags for the workers, space-separated, e.g. "--max-old-space-size=512"'),
  spec('request-timeout', 'number', 'seconds from 0 (no limit) to 86400, e.g. 30'),
  spec('max-connections', 'int', 'an integer from 0 (no cap) to 1000000: requests one worker handles at once'),
  spec('max-requests', 'int', 'an integer from 0 (off): requests a worker serves before it is recycled, e.g. 10000'),
  spec('max-requests-jitter', 'int', 'an integer from 0: up to this many requests added to max-requests, drawn per worker, e.g. 1000'),
  spec('max-memory', 'number', 'mebibytes of resident memory from 0 (off) to 1048576, e.g. 512'),
  spec('max-lifetime', 'number', 'seconds from 0 (off) to 31622400, e.g. 86400'),
  spec('recycle-surge', 'int', `an integer from 1 to ${MAX_WORKERS}: slots recycled at once`),
]);

export const OPTION_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]));

/** The known option closest to a misspelt one (`wokers` → `workers`, `gracefulTimeout` → `graceful-timeout`). */
export function nearestOption(unknown: string): OptionName | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const target = norm(unknown);
  let best: OptionName | undefined;
  let bestDistance = Infinity;
  for (const o of OPTIONS) {
    const d = editDistance(target, norm(o.name));
    if (d < bestDistance) {
      best = o.name;
      bestDistance = d;
    }
  }
  // Only a near miss is worth suggesting: at most a third of the word changed.
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(target.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
