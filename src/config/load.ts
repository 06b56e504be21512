// config/ owns turning a YAML file, the environment and flags into one frozen Config, or a ConfigError naming the key.
// loadConfig: defaults < YAML file < environment (SCGI_SUPERVISE_*) < flags → one frozen Config, or a ConfigError
// whose `key` names the option and whose message says where the bad value came from (file:line:col, env var, flag).
// Not the option list (schema.ts), the defaults (defaults.ts) or the YAML reading (yaml-file.ts).

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, isErrnoException } from '../errors.js';
import { DEFAULT_TIMEOUTS } from '../protocol/limits.js';
import type { Config, ListenAddress, LogFormat } from './config.js';
import { DEFAULTS, defaultWorkers } from './defaults.js';
import { parseListenAddress } from './listen-address.js';
import { activationListen, inheritedSockets } from './socket-activation.js';
import { FileSchema, nearestOption, OPTION_BY_NAME, OPTIONS, type FileConfig, type OptionName, type OptionSpec } from './schema.js';
import { readYamlConfig } from './yaml-file.js';

/** Raw command-line flags, camelCase as yargs gives them; durations in seconds. Undefined means "not given". */
export interface ConfigInput {
  app?: string;
  /** Path of a YAML config file (also SCGI_SUPERVISE_CONFIG). */
  config?: string;
  workers?: number | string;
  listen?: string;
  /** Octal digits as a string ("0660"); a number is refused (0660 would already have become 660). */
  socketMode?: string | number;
  socketGroup?: string;
  backlog?: number | string;
  gracefulTimeout?: number | string;
  bootTimeout?: number | string;
  workerTimeout?: number | string;
  reloadSurge?: number | string;
  name?: string;
  control?: string;
  controlGroup?: string | number;
  logLevel?: string;
  logFormat?: string;
  maxHeaderBytes?: number | string;
  maxBodyBytes?: number | string;
  headerTimeout?: number | string;
  bodyTimeout?: number | string;
  sendTimeout?: number | string;
  strict?: boolean | string;
  // Options with no flag in `start` today; accepted here so every option has the same four sources.
  maxHeaderCount?: number | string;
  restartBackoffMin?: number | string;
  restartBackoffMax?: number | string;
  statsInterval?: number | string;
  /** HOST:PORT, :PORT or unix:PATH for GET /metrics (docs/metrics.md); off unless given. */
  metricsListen?: string;
  user?: string | number;
  group?: string | number;
  chdir?: string;
  /** `--env KEY=VALUE`, repeated (yargs gives a string for one, an array for several). */
  env?: string | string[];
  nodeArgs?: string;
  requestTimeout?: number | string;
  maxConnections?: number | string;
  maxRequests?: number | string;
  maxRequestsJitter?: number | string;
  maxMemory?: number | string;
  maxLifetime?: number | string;
  recycleSurge?: number | string;
}

interface Layer {
  values: Partial<FileConfig>;
  /** Folder that relative paths given in this layer are resolved against. */
  base: string;
  /** Where an option's value came from, for messages: `supervisor.yaml:3:9`, `SCGI_SUPERVISE_WORKERS`, `--workers`. */
  origin(name: string, keyItself?: boolean): string;
}

const PartialSchema = FileSchema.partial();

export function loadConfig(input: ConfigInput, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd(), pid: number = process.pid): Config {
  const layers: Layer[] = [{ values: { ...DEFAULTS }, base: cwd, origin: (n) => `default ${n}` }];
  const configPath = given(input.config) ?? given(env.SCGI_SUPERVISE_CONFIG);
  if (configPath !== undefined) layers.push(fileLayer(resolve(cwd, String(configPath))));
  layers.push(stringLayer(env, (o) => (o.fromEnv ? o.env : null), (o) => o.env, cwd));
  layers.push(stringLayer(input as Record<string, unknown>, (o) => o.input, (o) => `--${o.name}`, cwd));

  // Later layers win, option by option; `env` maps merge, name by name (a flag's FOO over the file's FOO).
  const winner = new Map<OptionName, Layer>();
  const workerEnv: Record<string, string> = {};
  for (const layer of layers) {
    for (const [name, value] of Object.entries(layer.values)) if (value !== undefined) winner.set(name as OptionName, layer);
    Object.assign(workerEnv, layer.values.env);
  }
  // Socket activation (socket-activation.ts): `listen` set in no source means the socket systemd passed, if any.
  const listenLayer = winner.get('listen')!;
  const activated = activationListen(
    listenLayer === layers[0] ? null : { text: String(listenLayer.values.listen), origin: listenLayer.origin('listen') },
    inheritedSockets(env, pid),
  );
  if (activated !== null) winner.set('listen', { values: { listen: activated }, base: cwd, origin: () => `the socket systemd passed (${activated})` });
  return build(winner, workerEnv);
}

function given(v: unknown): unknown {
  return v === undefined || v === null || v === '' ? undefined : v;
}

function fileLayer(file: string): Layer {
  const yaml = readYamlConfig(file);
  const layer: Layer = { values: {}, base: yaml.dir, origin: (n, keyItself) => yaml.locate(n, keyItself) };
  const mode = yaml.values['socket-mode'];
  if (typeof mode === 'number') throw octalTrap(layer.origin('socket-mode'), mode, 'socket-mode: "0660"');
  layer.values = validate(yaml.values, layer);
  return layer;
}

/** Environment variables and flags arrive as strings (or yargs numbers): coerce per option kind, then validate. */
function stringLayer(
  source: Record<string, unknown>,
  keyOf: (o: OptionSpec) => string | null,
  originOf: (o: OptionSpec) => string,
  base: string,
): Layer {
  const raw: Record<string, unknown> = {};
  for (const option of OPTIONS) {
    const key = keyOf(option);
    if (key === null) continue;
    const value = given(source[key]);
    if (value === undefined) continue;
    if (option.kind === 'env-map') {
      raw[option.name] = envPairs(value, originOf(option));
      continue;
    }
    if (option.name === 'socket-mode' && typeof value === 'number') {
      throw octalTrap(originOf(option), value, `${originOf(option)} 0660 (as a string)`);
    }
    raw[option.name] = coerce(option, value);
  }
  const layer: Layer = { values: {}, base, origin: (n) => originOf(OPTION_BY_NAME.get(n)!) };
  layer.values = validate(raw, layer);
  return layer;
}

/** `--env A=1 --env B=x=y` → { A: '1', B: 'x=y' } (the first `=` splits); names are checked by the schema. */
function envPairs(value: unknown, origin: string): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value; // already a map (tests, API)
  const out: Record<string, string> = {};
  for (const item of Array.isArray(value) ? value : [value]) {
    const text = String(item);
    const eq = text.indexOf('=');
    if (eq <= 0) {
      throw new ConfigError('env', `${origin}: ${JSON.stringify(text)} is not KEY=VALUE`, {
        hint: 'give each variable as --env NAME=value (repeat --env for several); an empty value is NAME=',
      });
    }
    out[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return out;
}

function coerce(option: OptionSpec, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  switch (option.kind) {
    case 'int':
    case 'number':
      return /^\+?\d+(\.\d+)?$/.test(text) ? Number(text) : value;
    case 'int-or-auto':
      return /^\d+$/.test(text) ? Number(text) : text;
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      return value;
    case 'string':
    case 'nullable-string':
      return text;
    case 'env-map':
      return value;
    default: {
      const never: never = option.kind;
      return never;
    }
  }
}

function validate(values: Record<string, unknown>, layer: Layer): Partial<FileConfig> {
  const result = PartialSchema.safeParse(values);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problems)` : '';
  const issue = issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const suggestion = nearestOption(key);
    throw new ConfigError(key, `${layer.origin(key, true)}: unknown option ${JSON.stringify(key)}${more}`, {
      hint: suggestion
        ? `did you mean ${JSON.stringify(suggestion)}?`
        : `known options: ${OPTIONS.map((o) => o.name).join(', ')}`,
    });
  }
  const name = String(issue.path[0] ?? 'config');
  const option = OPTION_BY_NAME.get(name);
  const given = values[name];
  // `listen: [::1]:4000` unquoted is a YAML list; `name: {x}` a mapping: say so rather than "expected string".
  const shape = Array.isArray(given) ? 'a list' : typeof given === 'object' && given !== null ? 'a mapping' : null;
  const quote = shape ? `; YAML read the value as ${shape}: quote it, e.g. ${name}: "${option?.name === 'listen' ? '[::1]:4000' : '...'}"` : '';
  throw new ConfigError(name, `${layer.origin(name)}: ${name}: ${issue.message}${more}`, {
    hint: option ? `${name} must be ${option.expect}${quote}` : 'see supervisor.example.yaml',
  });
}

function octalTrap(origin: string, mode: number, fix: string): ConfigError {
  return new ConfigError('socket-mode', `${origin}: socket-mode is the number ${mode}, not an octal mode`, {
    hint:
      `quote it: ${fix}. YAML 1.2 and command-line parsers read an unquoted 0660 as the decimal 660 ` +
      '(and YAML reads 0o660 as 432), which is not the mode you meant',
  });
}

function build(winner: Map<OptionName, Layer>, workerEnv: Record<string, string>): Config {
  const value = <K extends OptionName>(name: K): FileConfig[K] => winner.get(name)!.values[name] as FileConfig[K];
  const origin = (name: OptionName): string => winner.get(name)!.origin(name);
  const base = (name: OptionName): string => winner.get(name)!.base;
  const fail = (name: OptionName, what: string, hint: string): never => {
    throw new ConfigError(name, `${origin(name)}: ${what}`, { hint });
  };

  if (!winner.has('app')) {
    throw new ConfigError('app', 'no app module given', {
      hint: 'name it: scgi-supervise start app.js (or app: in the YAML file, or SCGI_SUPERVISE_APP)',
    });
  }
  const app = resolve(base('app'), value('app'));
  checkApp(app, () => origin('app'));

  let listen;
  try {
    listen = parseListenAddress(value('listen'), base('listen'));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError('listen', `${origin('listen')}: ${err.message}`, { hint: err.hint, cause: err });
  }

  const modeText = value('socket-mode').replace(/^0o/i, '');
  const socketMode = parseInt(modeText, 8);
  if (socketMode > 0o777) {
    fail('socket-mode', `socket-mode ${value('socket-mode')} is above 0777`, 'use permission bits only, e.g. "0660" or "0666"');
  }

  const backoffMin = value('restart-backoff-min');
  const backoffMax = value('restart-backoff-max');
  if (backoffMax < backoffMin) {
    fail('restart-backoff-max', `restart-backoff-max ${backoffMax}s is below restart-backoff-min ${backoffMin}s`, 'raise restart-backoff-max');
  }

  const workers = value('workers');
  const control = value('control');
  const metricsText = value('metrics-listen');
  let metricsListen: ListenAddress | null = null;
  if (metricsText !== null) {
    try {
      metricsListen = parseListenAddress(metricsText, base('metrics-listen'), 'metrics-listen');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ConfigError('metrics-listen', `${origin('metrics-listen')}: ${err.message}`, { hint: err.hint, cause: err });
    }
    if (metricsListen.kind === 'fd') fail('metrics-listen', 'metrics-listen cannot be an inherited fd', 'write HOST:PORT, :PORT or unix:PATH');
  }
  const chdir = value('chdir') === null ? null : resolve(base('chdir'), value('chdir')!);
  if (chdir !== null) checkFolder(chdir, () => origin('chdir'));
  const nodeArgs = value('node-args');
  const config: Config = {
    app,
    workers: workers === 'auto' ? defaultWorkers() : workers,
    listen: Object.freeze(listen),
    socketMode,
    socketGroup: value('socket-group'),
    backlog: value('backlog'),
    gracefulTimeoutMs: ms(value('graceful-timeout')),
    bootTimeoutMs: ms(value('boot-timeout')),
    workerTimeoutMs: ms(value('worker-timeout')),
    reloadSurge: value('reload-surge'),
    restartBackoffMinMs: ms(backoffMin),
    restartBackoffMaxMs: ms(backoffMax),
    statsIntervalMs: ms(value('stats-interval')),
    metricsListen: metricsListen === null ? null : Object.freeze(metricsListen),
    name: value('name'),
    control: control === null ? null : resolve(base('control'), control),
    controlGroup: value('control-group'),
    limits: Object.freeze({
      maxHeaderBytes: value('max-header-bytes'),
      maxHeaderCount: value('max-header-count'),
      maxBodyBytes: value('max-body-bytes'),
      strict: value('strict'),
    }),
    timeouts: Object.freeze({
      ...DEFAULT_TIMEOUTS,
      headerTimeoutMs: ms(value('header-timeout')),
      bodyIdleTimeoutMs: ms(value('body-timeout')),
      sendIdleTimeoutMs: ms(value('send-timeout')),
      requestTimeoutMs: ms(value('request-timeout')),
    }),
    maxConnections: value('max-connections'),
    recycle: Object.freeze({
      maxRequests: value('max-requests'),
      maxRequestsJitter: value('max-requests-jitter'),
      maxMemoryBytes: Math.round(value('max-memory') * 1024 * 1024),
      maxLifetimeMs: ms(value('max-lifetime')),
      surge: value('recycle-surge'),
    }),
    logLevel: value('log-level'),
    logFormat: value('log-format') as LogFormat,
    user: value('user'),
    group: value('group'),
    chdir,
    env: Object.freeze({ ...workerEnv }),
    // Split on blanks, no shell quoting: node flags take their values after `=` (--max-old-space-size=512).
    nodeArgs: nodeArgs === null ? null : Object.freeze(nodeArgs.split(/\s+/).filter((a) => a !== '')),
  };
  return Object.freeze(config);
}

function ms(seconds: number): number {
  return Math.round(seconds * 1000);
}

function checkFolder(path: string, origin: () => string): void {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new ConfigError('chdir', `${origin()}: chdir ${path} does not exist or cannot be read`, {
      hint: 'name an existing folder the workers may enter (relative to the YAML file\'s folder, or the current one)',
      cause: err,
    });
  }
  if (!isDir) throw new ConfigError('chdir', `${origin()}: chdir ${path} is not a folder`, { hint: 'name a folder, e.g. /srv/app' });
}

function checkApp(path: string, origin: () => string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (err) {
    const code = isErrnoException(err) ? err.code : undefined;
    throw new ConfigError('app', `${origin()}: app ${path} ${code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : 'cannot be read'}`, {
      code: 'ERR_APP_NOT_FOUND',
      hint: 'check the path; a relative path is resolved against the current folder (flags, environment) or the YAML file\'s folder',
      cause: err,
    });
  }
  if (!isFile) {
    throw new ConfigError('app', `${origin()}: app ${path} is not a file`, {
      code: 'ERR_APP_NOT_FOUND',
      hint: `name the module file itself, e.g. ${path}/index.js`,
    });
  }
}
