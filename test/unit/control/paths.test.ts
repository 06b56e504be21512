// The control path rule (control/paths.ts), as docs/operations.md states it: --control wins, then --name, then a
// file named after the listen address, in a per-user directory. Pure: the environment is passed in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultControlDir, resolveControlPath, socketFileName, type ControlPathWorld } from '../../../src/control/paths.js';
import type { ListenAddress } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';

const USER: ControlPathWorld = { env: { XDG_RUNTIME_DIR: '/run/user/1000' }, uid: 1000, tmpdir: '/tmp' };
const USER_NO_XDG: ControlPathWorld = { env: {}, uid: 1000, tmpdir: '/tmp' };
const ROOT: ControlPathWorld = { env: { XDG_RUNTIME_DIR: '/run/user/0' }, uid: 0, tmpdir: '/tmp' };
const TCP: ListenAddress = { kind: 'tcp', host: '127.0.0.1', port: 4000 };

test('the directory: XDG_RUNTIME_DIR for a user, /run for root (even with XDG set), else a per-uid temp dir', () => {
  assert.equal(defaultControlDir(USER), '/run/user/1000/scgi-supervise');
  assert.equal(defaultControlDir(ROOT), '/run/scgi-supervise');
  assert.equal(defaultControlDir(USER_NO_XDG), '/tmp/scgi-supervise-1000');
  assert.equal(defaultControlDir({ ...USER, env: { XDG_RUNTIME_DIR: 'relative/dir' } }), '/tmp/scgi-supervise-1000');
});

test('--control wins over --name and --listen, and is made absolute', () => {
  assert.equal(resolveControlPath({ control: '/srv/ctl.sock', name: 'shop', listen: TCP }, USER), '/srv/ctl.sock');
  assert.equal(resolveControlPath({ control: 'ctl.sock', listen: TCP }, USER), `${process.cwd()}/ctl.sock`);
});

test('--name names the file in the default directory', () => {
  assert.equal(resolveControlPath({ name: 'shop', listen: TCP }, USER), '/run/user/1000/scgi-supervise/shop.sock');
  assert.equal(resolveControlPath({ name: 'shop', listen: TCP }, ROOT), '/run/scgi-supervise/shop.sock');
});

test('an invalid --name is a ConfigError on key name', () => {
  for (const name of ['../etc', 'a/b', '.hidden', '-x', 'x'.repeat(65), 'sp ace']) {
    assert.throws(
      () => resolveControlPath({ name, listen: TCP }, USER),
      (err: unknown) => err instanceof ConfigError && err.key === 'name',
      name,
    );
  }
});

test('without --control or --name the file is named after the listen address', () => {
  assert.equal(resolveControlPath({ listen: TCP }, USER), '/run/user/1000/scgi-supervise/127.0.0.1_4000.sock');
  assert.equal(socketFileName({ kind: 'tcp', host: '::1', port: 4000 }), '[::1]_4000.sock');
  assert.equal(socketFileName({ kind: 'tcp', host: 'LocalHost', port: 80 }), 'localhost_80.sock');
  assert.equal(socketFileName({ kind: 'fd', fd: 3 }), 'fd-3.sock');
  assert.match(socketFileName({ kind: 'unix', path: '/run/app.sock' }), /^unix-[0-9a-f]{16}\.sock$/);
});

test('two different listen addresses never share a control path; the same one always does', () => {
  const addresses: ListenAddress[] = [
    TCP,
    { kind: 'tcp', host: '127.0.0.1', port: 4001 },
    { kind: 'tcp', host: '127.0.0.2', port: 4000 },
    { kind: 'tcp', host: '::1', port: 4000 },
    { kind: 'tcp', host: '0.0.0.0', port: 4000 },
    { kind: 'unix', path: '/run/a.sock' },
    { kind: 'unix', path: '/run/b.sock' },
    { kind: 'unix', path: '/tmp/x/a.sock' },
    { kind: 'fd', fd: 3 },
    { kind: 'fd', fd: 4 },
  ];
  const paths = addresses.map((listen) => resolveControlPath({ listen }, USER));
  assert.equal(new Set(paths).size, addresses.length, paths.join('\n'));
  assert.deepEqual(
    addresses.map((listen) => resolveControlPath({ listen: { ...listen } as ListenAddress }, USER)),
    paths,
  );
});

test('a relative unix listen path and its absolute form give the same control path', () => {
  const rel = resolveControlPath({ listen: { kind: 'unix', path: 'app.sock' } }, USER);
  const abs = resolveControlPath({ listen: { kind: 'unix', path: `${process.cwd()}/app.sock` } }, USER);
  assert.equal(rel, abs);
});

test('a control path longer than a unix socket allows is a ConfigError on key control', () => {
  assert.throws(
    () => resolveControlPath({ control: '/' + 'd'.repeat(120) + '/c.sock', listen: TCP }, USER),
    (err: unknown) => err instanceof ConfigError && err.key === 'control',
  );
  // A long tmpdir with the hashed unix name still fits or fails cleanly, never silently truncates.
  const deep: ControlPathWorld = { env: {}, uid: 1000, tmpdir: '/' + 't'.repeat(90) };
  assert.throws(() => resolveControlPath({ listen: { kind: 'unix', path: '/run/a.sock' } }, deep), ConfigError);
});
