// loadConfig: YAML in, then a frozen Config or a ConfigError whose code and key the tests check (never the prose).
// The location prefix `file:line:col` of YAML problems is part of the format and is checked too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type ErrorCode } from '../../../src/errors.js';
import { loadConfig, type ConfigInput } from '../../../src/config/load.js';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../../../src/protocol/limits.js';

const dir = mkdtempSync(join(tmpdir(), 'scgi-config-'));
const APP = join(dir, 'app.js');
writeFileSync(APP, 'module.exports = (req, res) => res.end("ok");\n');
mkdirSync(join(dir, 'conf'));
writeFileSync(join(dir, 'conf', 'app.js'), 'module.exports = (req, res) => res.end("conf");\n');
mkdirSync(join(dir, 'folder-app'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes a YAML file in the temp dir and returns its path. */
function yamlFile(text: string, name = `c${++n}.yaml`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function load(input: ConfigInput, env: NodeJS.ProcessEnv = {}) {
  return loadConfig(input, env, dir);
}

function rejects(fn: () => unknown, key: string, code: ErrorCode = 'ERR_CONFIG_INVALID'): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.key, key);
  assert.equal(caught.code, code);
  assert.ok(caught.hint && caught.hint.length > 0, 'every ConfigError has a hint');
  return caught;
}

test('defaults: only the app given', () => {
  const c = load({ app: 'app.js' });
  assert.equal(c.app, APP);
  assert.equal(c.workers, availableParallelism());
  assert.deepEqual(c.listen, { kind: 'tcp', host: '127.0.0.1', port: 4000 });
  assert.equal(c.socketMode, 0o666);
  assert.equal(c.socketGroup, null);
  assert.equal(c.backlog, 511);
  assert.equal(c.gracefulTimeoutMs, 30_000);
  assert.equal(c.bootTimeoutMs, 30_000);
  assert.equal(c.reloadSurge, 1);
  assert.equal(c.restartBackoffMinMs, 100);
  assert.equal(c.restartBackoffMaxMs, 10_000);
  assert.equal(c.statsIntervalMs, 1000);
  assert.equal(c.name, null);
  assert.equal(c.control, null);
  assert.deepEqual(c.limits, DEFAULT_LIMITS);
  assert.deepEqual(c.timeouts, DEFAULT_TIMEOUTS);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.logFormat, 'text');
});

test('the Config is frozen, nested objects too', () => {
  const c = load({ app: 'app.js' });
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.listen));
  assert.ok(Object.isFrozen(c.limits));
  assert.ok(Object.isFrozen(c.timeouts));
});

test('precedence: defaults < YAML < environment < flags, option by option', () => {
  const config = yamlFile('app: app.js\nworkers: 2\nlisten: 127.0.0.1:4100\ngraceful-timeout: 5\nlog-level: debug\n');
  const env = { SCGI_SUPERVISE_WORKERS: '3', SCGI_SUPERVISE_LISTEN: '127.0.0.1:4200' };
  const flags: ConfigInput = { config, workers: 4 };

  const all = load(flags, env);
  assert.equal(all.workers, 4); // flag
  assert.deepEqual(all.listen, { kind: 'tcp', host: '127.0.0.1', port: 4200 }); // env beats YAML
  assert.equal(all.gracefulTimeoutMs, 5000); // YAML beats default
  assert.equal(all.logLevel, 'debug');
  assert.equal(all.backlog, 511); // default

  assert.equal(load({ config }, env).workers, 3);
  assert.equal(load({ config }).workers, 2);
  assert.equal(load({ config, listen: '[::1]:4300' }, env).listen.kind, 'tcp');
  assert.deepEqual(load({ config, listen: '[::1]:4300' }, env).listen, { kind: 'tcp', host: '::1', port: 4300 });
});

test('every option can come from the environment, coerced from strings', () => {
  const c = load(
    {},
    {
      SCGI_SUPERVISE_APP: 'app.js',
      SCGI_SUPERVISE_WORKERS: '7',
      SCGI_SUPERVISE_LISTEN: 'unix:run/app.sock',
      SCGI_SUPERVISE_SOCKET_MODE: '0600',
      SCGI_SUPERVISE_SOCKET_GROUP: 'www-data',
      SCGI_SUPERVISE_BACKLOG: '128',
      SCGI_SUPERVISE_GRACEFUL_TIMEOUT: '0',
      SCGI_SUPERVISE_BOOT_TIMEOUT: '2.5',
      SCGI_SUPERVISE_RELOAD_SURGE: '2',
      SCGI_SUPERVISE_RESTART_BACKOFF_MIN: '0.05',
      SCGI_SUPERVISE_RESTART_BACKOFF_MAX: '2',
      SCGI_SUPERVISE_STATS_INTERVAL: '0.5',
      SCGI_SUPERVISE_NAME: 'shop',
      SCGI_SUPERVISE_CONTROL: 'ctl.sock',
      SCGI_SUPERVISE_LOG_LEVEL: 'warn',
      SCGI_SUPERVISE_LOG_FORMAT: 'json',
      SCGI_SUPERVISE_MAX_HEADER_BYTES: '2048',
      SCGI_SUPERVISE_MAX_HEADER_COUNT: '50',
      SCGI_SUPERVISE_MAX_BODY_BYTES: '0',
      SCGI_SUPERVISE_HEADER_TIMEOUT: '1',
      SCGI_SUPERVISE_BODY_TIMEOUT: '3',
      SCGI_SUPERVISE_STRICT: 'yes',
      SCGI_SUPERVISE_UNRELATED: 'ignored',
    },
  );
  assert.equal(c.app, APP);
  assert.equal(c.workers, 7);
  assert.deepEqual(c.listen, { kind: 'unix', path: join(dir, 'run', 'app.sock') });
  assert.equal(c.socketMode, 0o600);
  assert.equal(c.socketGroup, 'www-data');
  assert.equal(c.backlog, 128);
  assert.equal(c.gracefulTimeoutMs, 0);
  assert.equal(c.bootTimeoutMs, 2500);
  assert.equal(c.reloadSurge, 2);
  assert.equal(c.restartBackoffMinMs, 50);
  assert.equal(c.restartBackoffMaxMs, 2000);
  assert.equal(c.statsIntervalMs, 500);
  assert.equal(c.name, 'shop');
  assert.equal(c.control, join(dir, 'ctl.sock'));
  assert.equal(c.logLevel, 'warn');
  assert.equal(c.logFormat, 'json');
  assert.deepEqual(c.limits, { maxHeaderBytes: 2048, maxHeaderCount: 50, maxBodyBytes: 0, strict: true });
  assert.deepEqual(c.timeouts, { ...DEFAULT_TIMEOUTS, headerTimeoutMs: 1000, bodyIdleTimeoutMs: 3000 });
});

test('an empty environment variable counts as unset', () => {
  assert.equal(load({ app: 'app.js' }, { SCGI_SUPERVISE_WORKERS: '', SCGI_SUPERVISE_LISTEN: '' }).listen.kind, 'tcp');
});

test('flags: strings and numbers as yargs hands them over', () => {
  const c = load({ app: 'app.js', workers: '5', backlog: 64, gracefulTimeout: '1.5', strict: 'false', socketMode: '660' });
  assert.equal(c.workers, 5);
  assert.equal(c.backlog, 64);
  assert.equal(c.gracefulTimeoutMs, 1500);
  assert.equal(c.limits.strict, false);
  assert.equal(c.socketMode, 0o660);
  assert.equal(load({ app: 'app.js', workers: 'auto' }).workers, availableParallelism());
});

test('the config file can be named by SCGI_SUPERVISE_CONFIG; --config wins over it', () => {
  const a = yamlFile('app: app.js\nworkers: 11\n');
  const b = yamlFile('app: app.js\nworkers: 12\n');
  assert.equal(load({}, { SCGI_SUPERVISE_CONFIG: a }).workers, 11);
  assert.equal(load({ config: b }, { SCGI_SUPERVISE_CONFIG: a }).workers, 12);
});

test('relative paths in the YAML file are resolved against its folder; flags against cwd', () => {
  const config = yamlFile('app: app.js\nlisten: unix:app.sock\ncontrol: ctl.sock\n', join('conf', 'supervisor.yaml'));
  const c = load({ config });
  assert.equal(c.app, join(dir, 'conf', 'app.js'));
  assert.deepEqual(c.listen, { kind: 'unix', path: join(dir, 'conf', 'app.sock') });
  assert.equal(c.control, join(dir, 'conf', 'ctl.sock'));
  assert.equal(load({ config, app: 'app.js' }).app, APP);
});

test('app: missing, not found, a folder', () => {
  rejects(() => load({}), 'app');
  rejects(() => load({ app: 'nope.js' }), 'app', 'ERR_APP_NOT_FOUND');
  rejects(() => load({ app: 'folder-app' }), 'app', 'ERR_APP_NOT_FOUND');
  rejects(() => load({ config: yamlFile('app: missing.js\n') }), 'app', 'ERR_APP_NOT_FOUND');
});

test('the octal trap: an unquoted YAML mode is refused with a hint; strings are octal', () => {
  rejects(() => load({ config: yamlFile('app: app.js\nsocket-mode: 0660\n') }), 'socket-mode');
  rejects(() => load({ config: yamlFile('app: app.js\nsocket-mode: 0o660\n') }), 'socket-mode');
  rejects(() => load({ config: yamlFile('app: app.js\nsocket-mode: 660\n') }), 'socket-mode');
  rejects(() => load({ app: 'app.js', socketMode: 660 }), 'socket-mode'); // a flag already parsed as a number
  assert.equal(load({ config: yamlFile('app: app.js\nsocket-mode: "0660"\n') }).socketMode, 0o660);
  assert.equal(load({ config: yamlFile("app: app.js\nsocket-mode: '0o640'\n") }).socketMode, 0o640);
  assert.equal(load({ config: yamlFile('app: app.js\nsocket-mode: "600"\n') }).socketMode, 0o600);
  rejects(() => load({ config: yamlFile('app: app.js\nsocket-mode: "1777"\n') }), 'socket-mode'); // above 0777
  rejects(() => load({ config: yamlFile('app: app.js\nsocket-mode: "0680"\n') }), 'socket-mode'); // 8 is not octal
  rejects(() => load({ app: 'app.js' }, { SCGI_SUPERVISE_SOCKET_MODE: 'rw-rw----' }), 'socket-mode');
});

test('YAML syntax errors: ERR_CONFIG_FILE with file:line:col', () => {
  const badIndent = yamlFile('app: app.js\nworkers: 2\n\tlisten: x\n'); // a tab as indentation
  const e1 = rejects(() => load({ config: badIndent }), 'config', 'ERR_CONFIG_FILE');
  assert.match(e1.message, new RegExp(`^${escape(badIndent)}:3:\\d+: `));

  const dup = yamlFile('app: app.js\nworkers: 2\nworkers: 3\n');
  const e2 = rejects(() => load({ config: dup }), 'config', 'ERR_CONFIG_FILE');
  assert.match(e2.message, new RegExp(`^${escape(dup)}:3:1: `));

  const unclosed = yamlFile('app: "app.js\n');
  rejects(() => load({ config: unclosed }), 'config', 'ERR_CONFIG_FILE');

  rejects(() => load({ config: yamlFile('- app.js\n- 4\n') }), 'config', 'ERR_CONFIG_FILE'); // a list
  rejects(() => load({ config: yamlFile('just a string\n') }), 'config', 'ERR_CONFIG_FILE');
  rejects(() => load({ config: join(dir, 'absent.yaml') }), 'config', 'ERR_CONFIG_FILE');
  rejects(() => load({ config: dir }), 'config', 'ERR_CONFIG_FILE'); // a folder
});

test('an empty or comment-only YAML file is an empty config', () => {
  assert.equal(load({ config: yamlFile(''), app: 'app.js' }).backlog, 511);
  assert.equal(load({ config: yamlFile('# nothing yet\n'), app: 'app.js' }).backlog, 511);
});

test('schema errors name the key and its line', () => {
  const cases: Array<[string, string, number]> = [
    ['app: app.js\nworkers: 0\n', 'workers', 2],
    ['app: app.js\n\nworkers: four\n', 'workers', 3],
    ['app: app.js\nbacklog: 1.5\n', 'backlog', 2],
    ['app: app.js\nlog-level: loud\n', 'log-level', 2],
    ['app: app.js\nlog-format: xml\n', 'log-format', 2],
    ['app: app.js\nstrict: maybe\n', 'strict', 2],
    ['app: app.js\ngraceful-timeout: -1\n', 'graceful-timeout', 2],
    ['app: app.js\nheader-timeout: 0\n', 'header-timeout', 2],
    ['app: app.js\nmax-header-bytes: 10\n', 'max-header-bytes', 2],
    ['app: app.js\nname: "a/b"\n', 'name', 2],
    ['app: app.js\nworkers:\n', 'workers', 2], // null
    ['app: 4\n', 'app', 1],
    ['app: app.js\nlisten: "localhost"\n', 'listen', 2],
    ['app: app.js\nlisten: [::1]\n', 'listen', 2], // a YAML list, not a string
    ['app: app.js\nsocket-group: {a: 1}\n', 'socket-group', 2],
    ['app: app.js\nrestart-backoff-min: 5\nrestart-backoff-max: 1\n', 'restart-backoff-max', 3],
  ];
  for (const [text, key, line] of cases) {
    const file = yamlFile(text);
    const err = rejects(() => load({ config: file }), key);
    assert.match(err.message, new RegExp(`^${escape(file)}:${line}:\\d+: `), `${key} in ${JSON.stringify(text)}`);
  }
});

test('unknown keys are refused, with the nearest known key suggested', () => {
  const cases: Array<[string, string, string | null]> = [
    ['wokers', 'wokers', 'workers'],
    ['gracefulTimeout', 'gracefulTimeout', 'graceful-timeout'],
    ['socket_mode', 'socket_mode', 'socket-mode'],
    ['completely-unrelated-thing', 'completely-unrelated-thing', null],
  ];
  for (const [yamlKey, key, suggestion] of cases) {
    const file = yamlFile(`app: app.js\n${yamlKey}: 1\n`);
    const err = rejects(() => load({ config: file }), key);
    assert.match(err.message, new RegExp(`^${escape(file)}:2:1: `));
    if (suggestion) assert.ok(err.hint!.includes(`"${suggestion}"`), err.hint);
    else assert.ok(!err.hint!.startsWith('did you mean'), err.hint);
  }
});

test('environment and flag errors name the option key', () => {
  rejects(() => load({ app: 'app.js' }, { SCGI_SUPERVISE_WORKERS: 'many' }), 'workers');
  rejects(() => load({ app: 'app.js' }, { SCGI_SUPERVISE_STRICT: 'perhaps' }), 'strict');
  rejects(() => load({ app: 'app.js' }, { SCGI_SUPERVISE_LISTEN: '::1:4000' }), 'listen');
  rejects(() => load({ app: 'app.js', workers: 0 }), 'workers');
  rejects(() => load({ app: 'app.js', backlog: 'lots' }), 'backlog');
  rejects(() => load({ app: 'app.js', listen: 'fd:1' }), 'listen');
  rejects(() => load({ app: 'app.js', logFormat: 'yaml' }), 'log-format');
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('request-timeout and max-connections: defaults, all three sources, and bad values name their key', () => {
  const d = load({ app: 'app.js' });
  assert.equal(d.timeouts.requestTimeoutMs, 30_000);
  assert.equal(d.maxConnections, 0);
  const env = load({}, { SCGI_SUPERVISE_APP: 'app.js', SCGI_SUPERVISE_REQUEST_TIMEOUT: '2.5', SCGI_SUPERVISE_MAX_CONNECTIONS: '1' });
  assert.equal(env.timeouts.requestTimeoutMs, 2500);
  assert.equal(env.maxConnections, 1);
  const flags = load({ app: 'app.js', requestTimeout: '0', maxConnections: 4 });
  assert.equal(flags.timeouts.requestTimeoutMs, 0); // 0: no limit
  assert.equal(flags.maxConnections, 4);
  const yaml = load({ config: yamlFile('app: app.js\nrequest-timeout: 90\nmax-connections: 2\n') });
  assert.equal(yaml.timeouts.requestTimeoutMs, 90_000);
  assert.equal(yaml.maxConnections, 2);
  rejects(() => load({ app: 'app.js', requestTimeout: '-1' }), 'request-timeout');
  rejects(() => load({ app: 'app.js' }, { SCGI_SUPERVISE_REQUEST_TIMEOUT: 'soon' }), 'request-timeout');
  rejects(() => load({ app: 'app.js', maxConnections: '1.5' }), 'max-connections');
  rejects(() => load({ config: yamlFile('app: app.js\nmax-connections: -1\n') }), 'max-connections');
});
