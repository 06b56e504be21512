// Socket activation through loadConfig (config/socket-activation.ts): which `listen` a LISTEN_FDS environment
// means, and the errors when it is ambiguous or in conflict: codes and keys, never the prose.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { loadConfig, type ConfigInput } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'scgi-activation-'));
writeFileSync(join(dir, 'app.js'), 'module.exports = (req, res) => res.end("ok");\n');
test.after(() => rmSync(dir, { recursive: true, force: true }));

const PID = 4242;
const load = (input: ConfigInput, env: NodeJS.ProcessEnv) => loadConfig({ app: 'app.js', ...input }, env, dir, PID);
const passed = (n: number, names?: string): NodeJS.ProcessEnv => ({ LISTEN_FDS: String(n), LISTEN_PID: String(PID), ...(names ? { LISTEN_FDNAMES: names } : {}) });

function conflict(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.key, 'listen');
    assert.equal(err.code, 'ERR_CONFIG_CONFLICT');
    assert.match(err.message, pattern); // names what was passed
    return true;
  });
}

test('one passed socket and no listen anywhere: fd:3', () => {
  assert.deepEqual(load({}, passed(1)).listen, { kind: 'fd', fd: 3 });
});

test('LISTEN_PID of another process, or no LISTEN_FDS: the default address as before', () => {
  assert.equal(load({}, { LISTEN_FDS: '1', LISTEN_PID: String(PID + 1) }).listen.kind, 'tcp');
  assert.equal(load({}, {}).listen.kind, 'tcp');
});

test('listen set in any source beside a passed socket: ERR_CONFIG_CONFLICT naming both', () => {
  conflict(() => load({ listen: '127.0.0.1:5000' }, passed(1)), /--listen.*127\.0\.0\.1:5000.*fd:3/);
  conflict(() => load({}, { ...passed(1), SCGI_SUPERVISE_LISTEN: 'unix:/tmp/x.sock' }), /SCGI_SUPERVISE_LISTEN.*fd:3/);
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:5001\n');
  conflict(() => load({ config: file }, passed(1)), /c\.yaml.*127\.0\.0\.1:5001.*fd:3/);
});

test('several sockets: fd:NAME picks by LISTEN_FDNAMES; none named, an unknown or a repeated name is an error naming it', () => {
  const env = passed(3, 'admin:scgi:metrics');
  assert.deepEqual(load({ listen: 'fd:scgi' }, env).listen, { kind: 'fd', fd: 4 });
  assert.deepEqual(load({ listen: 'fd:5' }, env).listen, { kind: 'fd', fd: 5 });
  conflict(() => load({}, env), /3 sockets.*fd:3 \(admin\).*fd:4 \(scgi\)/);
  conflict(() => load({ listen: 'fd:web' }, env), /fd:web matches none/);
  conflict(() => load({ listen: 'fd:x' }, passed(2, 'x:x')), /fd:x matches 2/);
});

test('fd:NAME without systemd sockets: ERR_CONFIG_INVALID on listen', () => {
  assert.throws(() => load({ listen: 'fd:scgi' }, {}), (err: unknown) => err instanceof ConfigError && err.key === 'listen' && err.code === 'ERR_CONFIG_INVALID');
});
