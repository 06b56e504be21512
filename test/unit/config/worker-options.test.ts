// The workers' options (user, group, chdir, env, node-args) through loadConfig, and the identity check that `start`
// runs on them (master/worker-identity.ts) with a fake account database: codes and keys, never the prose.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type ErrorCode } from '../../../src/errors.js';
import { loadConfig, type ConfigInput } from '../../../src/config/load.js';
import { checkWorkerAccess, resolveWorkerIdentity, setprivArgs, type AccountLookup } from '../../../src/master/worker-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'scgi-worker-opts-'));
writeFileSync(join(dir, 'app.js'), 'module.exports = (req, res) => res.end("ok");\n');
mkdirSync(join(dir, 'srv'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const yaml = (text: string): string => {
  const path = join(dir, `w${++n}.yaml`);
  writeFileSync(path, text);
  return path;
};
const load = (input: ConfigInput, env: NodeJS.ProcessEnv = {}) => loadConfig({ app: 'app.js', ...input }, env, dir);

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
  assert.ok(caught.hint, 'a hint');
  return caught;
}

test('defaults: workers as the master, in its folder, with its flags', () => {
  const c = load({});
  assert.equal(c.user, null);
  assert.equal(c.group, null);
  assert.equal(c.chdir, null);
  assert.deepEqual(c.env, {});
  assert.equal(c.nodeArgs, null);
});

test('flags, environment and YAML: user, group, chdir, node-args', () => {
  const c = load({ user: 'app', group: '33', chdir: 'srv', nodeArgs: ' --max-old-space-size=512   --enable-source-maps ' });
  assert.equal(c.user, 'app');
  assert.equal(c.group, '33');
  assert.equal(c.chdir, join(dir, 'srv'));
  assert.deepEqual(c.nodeArgs, ['--max-old-space-size=512', '--enable-source-maps']);
  const e = load({}, { SCGI_SUPERVISE_USER: 'www-data', SCGI_SUPERVISE_NODE_ARGS: '--no-warnings' });
  assert.equal(e.user, 'www-data');
  assert.deepEqual(e.nodeArgs, ['--no-warnings']);
  const f = loadConfig({ config: yaml('app: app.js\nuser: app\nchdir: srv\nnode-args: "--max-old-space-size=256"\n') }, {}, '/');
  assert.equal(f.user, 'app');
  assert.equal(f.chdir, join(dir, 'srv')); // relative to the file's folder
  assert.deepEqual(f.nodeArgs, ['--max-old-space-size=256']);
});

test('env: a YAML map and repeated --env merge name by name, flags last; no SCGI_SUPERVISE_ENV', () => {
  const file = yaml('app: app.js\nenv:\n  NODE_ENV: production\n  PORT: 8080\n  DEBUG: false\n');
  const c = loadConfig({ config: file, env: ['PORT=9090', 'EXTRA=a=b', 'EMPTY='] }, { SCGI_SUPERVISE_ENV: 'X=1' }, '/');
  assert.deepEqual({ ...c.env }, { NODE_ENV: 'production', PORT: '9090', DEBUG: 'false', EXTRA: 'a=b', EMPTY: '' });
  assert.ok(Object.isFrozen(c.env));
  assert.deepEqual({ ...load({ env: 'ONE=1' }).env }, { ONE: '1' });
});

test('bad values name their key', () => {
  rejects(() => load({ env: ['NOEQUALS'] }), 'env');
  rejects(() => load({ env: ['=x'] }), 'env');
  rejects(() => load({ env: ['BAD-NAME=1'] }), 'env');
  rejects(() => loadConfig({ config: yaml('app: app.js\nenv: [A=1]\n') }, {}, '/'), 'env');
  rejects(() => load({ chdir: 'no-such-folder' }), 'chdir');
  rejects(() => load({ chdir: 'app.js' }), 'chdir');
  rejects(() => loadConfig({ config: yaml('app: app.js\nuser: ""\n') }, {}, '/'), 'user');
});

// A fake NSS: app (uid 1001, primary group 1001), groups app and www-data.
const accounts: AccountLookup = (db, key) => {
  const passwd = [['app', 'x', '1001', '1001', '', '/home/app', '/bin/sh']];
  const group = [['app', 'x', '1001', ''], ['www-data', 'x', '33', '']];
  const rows = db === 'passwd' ? passwd : group;
  return rows.find((r) => r[0] === key || r[2] === key) ?? null;
};
const ROOT = { uid: 0, gid: 0 };
const setpriv = () => true;

test('identity: a user brings its uid, primary gid, groups and HOME/USER/LOGNAME', () => {
  const id = resolveWorkerIdentity({ user: 'app', group: null }, accounts, ROOT, setpriv)!;
  assert.deepEqual(id, { uid: 1001, gid: 1001, groups: 'init', env: { HOME: '/home/app', USER: 'app', LOGNAME: 'app' } });
  assert.deepEqual(setprivArgs(id), ['--reuid=1001', '--regid=1001', '--init-groups']);
  assert.equal(resolveWorkerIdentity({ user: '1001', group: 'www-data' }, accounts, ROOT, setpriv)!.gid, 33);
  assert.equal(resolveWorkerIdentity({ user: null, group: null }, accounts, ROOT, setpriv), null);
});

test('identity: a group alone keeps the uid and clears the groups; a bare uid needs a group', () => {
  const id = resolveWorkerIdentity({ user: null, group: 'www-data' }, accounts, ROOT, setpriv)!;
  assert.deepEqual(setprivArgs(id), ['--regid=33', '--clear-groups']);
  const bare = resolveWorkerIdentity({ user: '5000', group: '5000' }, accounts, ROOT, setpriv)!;
  assert.deepEqual(setprivArgs(bare), ['--reuid=5000', '--regid=5000', '--clear-groups']);
  rejects(() => resolveWorkerIdentity({ user: '5000', group: null }, accounts, ROOT, setpriv), 'user');
});

test('identity: unknown names, no root, no setpriv', () => {
  rejects(() => resolveWorkerIdentity({ user: 'nobody-here', group: null }, accounts, ROOT, setpriv), 'user');
  rejects(() => resolveWorkerIdentity({ user: 'app', group: 'no-group' }, accounts, ROOT, setpriv), 'group');
  rejects(() => resolveWorkerIdentity({ user: 'app', group: null }, accounts, { uid: 1000, gid: 1000 }, setpriv), 'user', 'ERR_CONFIG_PRIVILEGE');
  rejects(() => resolveWorkerIdentity({ user: null, group: 'www-data' }, accounts, { uid: 1001, gid: 1001 }, setpriv), 'group', 'ERR_CONFIG_PRIVILEGE');
  // already that identity: nothing to change, no root needed
  assert.equal(resolveWorkerIdentity({ user: 'app', group: null }, accounts, { uid: 1001, gid: 1001 }, setpriv), null);
  rejects(() => resolveWorkerIdentity({ user: 'app', group: null }, accounts, ROOT, () => false), 'user');
});

test('access: the workers\' user must enter chdir and read the worker module and the app', () => {
  const id = resolveWorkerIdentity({ user: 'app', group: null }, accounts, ROOT, setpriv)!;
  const paths = { app: '/srv/app.js', chdir: '/srv', workerMain: '/opt/w.js' };
  const asked: string[] = [];
  checkWorkerAccess(id, paths, (_, args) => (asked.push(args.join(' ')), true));
  assert.deepEqual(asked, ['-x /srv', '-r /opt/w.js', '-r /srv/app.js']);
  for (const denied of ['-x /srv', '-r /opt/w.js', '-r /srv/app.js']) {
    rejects(() => checkWorkerAccess(id, paths, (_, args) => args.join(' ') !== denied), 'user');
  }
  checkWorkerAccess(null, paths, () => assert.fail('no identity, no check'));
});
