// Started as root with --user: the workers' real and effective uid and gid are the user's and their supplementary
// groups the user's (read from /proc/<pid>/status), the master stays root, and nginx's www-data worker reaches them
// over a 0660 www-data unix socket; --chdir, --env and --node-args reach the workers; unknown users and a master
// that is not root are refused before anything starts (exit 64, by code). Issue 14 item 4.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSupervisor } from '../helpers/supervisor.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { isRoot } from '../helpers/frontends/front-end.js';
import { APPS, CLI, ROOT } from '../helpers/paths.js';

const APP = join(APPS, 'output-lines.cjs');

function requireRoot(t: TestContext): boolean {
  if (isRoot()) return true;
  // Under CI the suite runs as root (the runner installs packages); a skip there could never fail.
  if (process.env.CI === 'true') assert.fail('this test needs root (it changes the workers\' identity)');
  t.skip('needs root');
  return false;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A user with at least one supplementary group: an existing one if the system has it, else www-data in a new group. */
function userWithGroups(t: TestContext): string {
  for (const line of sh('getent', ['group']).split('\n')) {
    const members = (line.split(':')[3] ?? '').split(',').filter(Boolean);
    for (const m of members) if (spawnSync('getent', ['passwd', m]).status === 0) return m;
  }
  const group = `scgi-test-${process.pid}`;
  sh('groupadd', [group]);
  t.after(() => void spawnSync('groupdel', [group]));
  sh('gpasswd', ['-a', 'www-data', group]);
  return 'www-data';
}

function procStatus(pid: number): { uids: number[]; gids: number[]; groups: number[] } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number[] =>
    (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uids: field('Uid'), gids: field('Gid'), groups: field('Groups').sort((a, b) => a - b) };
}

test('root master, --user: workers as the user with its groups; nginx (www-data) reaches the 0660 socket', async (t) => {
  if (!requireRoot(t)) return;
  const user = userWithGroups(t);
  const uid = Number(sh('id', ['-u', user]));
  const gid = Number(sh('id', ['-g', user]));
  const groups = sh('id', ['-G', user]).split(/\s+/).map(Number).sort((a, b) => a - b);
  assert.ok(groups.length >= 2, `${user} has supplementary groups: ${groups.join(' ')}`);
  const home = sh('getent', ['passwd', user]).split(':')[5];

  const dir = await mkdtemp(join(tmpdir(), 'scgi-identity-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // nginx's www-data worker walks to the socket
  const work = join(dir, 'work');
  mkdirSync(work, { mode: 0o755 });
  const sock = join(dir, 'scgi.sock');
  const sup = await startSupervisor({
    app: APP,
    workers: 2,
    listen: `unix:${sock}`,
    args: [
      '--user', user,
      '--socket-mode', '0660', '--socket-group', 'www-data',
      '--chdir', work,
      '--env', 'FIXTURE_ENV=hello', '--env', 'OTHER=x',
      '--node-args', '--max-old-space-size=96 --no-warnings',
    ],
    t,
  });

  const pids = sup.workerPids();
  assert.equal(pids.length, 2);
  for (const pid of pids) {
    const s = procStatus(pid);
    assert.deepEqual(s.uids, [uid, uid, uid, uid], `worker ${pid} real, effective, saved, fs uid`);
    assert.deepEqual(s.gids, [gid, gid, gid, gid], `worker ${pid} gids`);
    assert.deepEqual(s.groups, groups, `worker ${pid} supplementary groups`);
  }
  assert.deepEqual(procStatus(sup.pid).uids, [0, 0, 0, 0], 'the master keeps root');

  const st = statSync(sock);
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.gid, Number(sh('getent', ['group', 'www-data']).split(':')[2]));

  const nginx = await startNginx({ backends: { unix: sock }, t });
  // nginx's worker runs as www-data (the helper's `user www-data;` when root): it is that process that connects.
  const children = readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(children.length > 0 && children.every((p) => procStatus(p).uids[1] === 33), 'nginx workers run as www-data');
  const res = await httpRequest({ port: nginx.ports.unix!, path: '/id' });
  assert.equal(res.status, 200, `${res.status} ${res.body.toString()}\n${nginx.errorLog()}`);
  const id = JSON.parse(res.body.toString()) as Record<string, unknown>;
  assert.equal(id.uid, uid);
  assert.equal(id.euid, uid);
  assert.equal(id.gid, gid);
  assert.equal(id.egid, gid);
  assert.deepEqual((id.groups as number[]).sort((a, b) => a - b), groups);
  assert.equal(id.cwd, work);
  assert.equal(id.env, 'hello');
  assert.equal(id.home, home);
  assert.equal(id.user, user);
  assert.deepEqual(id.execArgv, ['--max-old-space-size=96', '--no-warnings'], 'node-args replace the master\'s flags');
});

function startFails(args: string[], asNobody = false): { status: number | null; stderr: string } {
  const argv = [CLI, 'start', APP, '-l', `unix:${join(tmpdir(), `never-${process.pid}.sock`)}`, ...args];
  const r = asNobody
    ? spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, ...argv], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 })
    : spawnSync(process.execPath, argv, { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stderr: r.stderr };
}

test('--user/--group: unknown names and a master that is not root are refused at start (exit 64)', (t) => {
  const unknownUser = startFails(['--user', 'no-such-user-scgi']);
  assert.equal(unknownUser.status, 64, unknownUser.stderr);
  assert.match(unknownUser.stderr, /ERR_CONFIG_INVALID: /);
  const unknownGroup = startFails(['--group', 'no-such-group-scgi']);
  assert.equal(unknownGroup.status, 64, unknownGroup.stderr);
  assert.match(unknownGroup.stderr, /ERR_CONFIG_INVALID: /);
  const badEnv = startFails(['--env', 'NOEQUALS']);
  assert.equal(badEnv.status, 64, badEnv.stderr);
  if (!requireRoot(t)) return; // below: run the CLI as nobody, which only root can do
  const notRoot = startFails(['--user', 'www-data'], true);
  assert.equal(notRoot.status, 64, notRoot.stderr);
  assert.match(notRoot.stderr, /ERR_CONFIG_PRIVILEGE: /);
});

test('--user: an app or chdir the user cannot reach is refused at start, naming the user key (exit 64)', async (t) => {
  if (!requireRoot(t)) return;
  const { copyFileSync } = await import('node:fs');
  const dir = await mkdtemp(join(tmpdir(), 'scgi-private-')); // 0700, owned by root
  t.after(() => rm(dir, { recursive: true, force: true }));
  const app = join(dir, 'app.cjs');
  copyFileSync(APP, app);
  const run = (args: string[]) =>
    spawnSync(process.execPath, [CLI, 'start', ...args, '-l', `unix:${join(dir, 'never.sock')}`], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  const unreadable = run([app, '--user', 'www-data']);
  assert.equal(unreadable.status, 64, unreadable.stderr);
  assert.match(unreadable.stderr, /ERR_CONFIG_INVALID: /);
  const noChdir = run([APP, '--user', 'www-data', '--chdir', dir]);
  assert.equal(noChdir.status, 64, noChdir.stderr);
  assert.match(noChdir.stderr, /ERR_CONFIG_INVALID: /);
});

test('root master, --group alone: workers keep uid 0, take the gid, and have no supplementary groups', async (t) => {
  if (!requireRoot(t)) return;
  const gid = Number(sh('getent', ['group', 'www-data']).split(':')[2]);
  const dir = await mkdtemp(join(tmpdir(), 'scgi-identity-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sup = await startSupervisor({ app: APP, workers: 1, listen: `unix:${join(dir, 'scgi.sock')}`, args: ['--group', 'www-data'], t });
  const s = procStatus(sup.workerPids()[0]!);
  assert.deepEqual(s.uids, [0, 0, 0, 0]);
  assert.deepEqual(s.gids, [gid, gid, gid, gid]);
  assert.deepEqual(s.groups, []);
});
