// A stop resets nothing (issue 13 item 3, "how it is verified"): two supervisors, each in a network namespace of
// its own reached over a veth pair with private addresses, behind one nginx `upstream`; under GET and POST load,
// `scgi-supervise stop` of one of them. nginx retries a GET on the other server after an error but never a POST it
// already sent, so a connection reset in the stopped one's accept queue is a 502 POST. The stop refuses new
// connections first (their SYNs dropped: nginx's connect fails and it tries the other server, POSTs included), serves
// what was queued, then closes: no reset at all, nothing lost.
// Not the single-supervisor case (test/integration/lifecycle-stop-queue.test.ts).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startSupervisor } from '../helpers/supervisor.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { delay, makeTempDir, removeDir } from '../helpers/frontends/process-utils.js';
import { isRoot, runFrontEnd, RUN_AS } from '../helpers/frontends/front-end.js';
import { NGINX_BIN } from '../helpers/frontends/nginx.js';
import { runCli } from '../integration/control-helpers.js';

const PORT = 4000; // inside namespaces of our own: nothing else listens there
const LOOPS = 12; // concurrent client loops through nginx
const BODY = 'x'.repeat(2048);

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr || r.error?.message || r.status}`);
}

/** A namespace with a veth pair: 10.200.<net>.1 on our side, 10.200.<net>.2 inside; deleted in t.after. */
function namespace(t: TestContext, name: string, net: number): string {
  const host = `${name}h`;
  t.after(() => {
    spawnSync('ip', ['netns', 'del', name], { timeout: 5000 }); // takes the inner end of the pair, and so the pair
    spawnSync('ip', ['link', 'del', host], { timeout: 5000, stdio: 'ignore' });
  });
  ip(['netns', 'add', name]);
  ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', `${name}n`]);
  ip(['link', 'set', `${name}n`, 'netns', name]);
  ip(['addr', 'add', `10.200.${net}.1/30`, 'dev', host]);
  ip(['link', 'set', host, 'up']);
  ip(['-n', name, 'addr', 'add', `10.200.${net}.2/30`, 'dev', `${name}n`]);
  ip(['-n', name, 'link', 'set', `${name}n`, 'up']);
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
  return `10.200.${net}.2`;
}

interface Tally {
  sent: Record<'GET' | 'POST', number>;
  ok: Record<'GET' | 'POST', number>;
  failed: string[];
}

test('stop of one of two supervisors behind one nginx upstream under GET and POST load: no reset, nothing lost', { timeout: 30_000 }, async (t) => {
  if (!isRoot()) throw new Error('this test needs root (ip netns); run the suite as root, as CI does');
  const dir = await makeTempDir('stop-queue');
  t.after(() => removeDir(dir));
  // Names unique per run (interface names: at most 15 characters); 10.200.N.0/30 nets from the pid.
  const tag = `sq${process.pid % 100_000}`;
  const net = (process.pid % 120) * 2;
  const addrs = [namespace(t, `${tag}a`, net), namespace(t, `${tag}b`, net + 1)];
  const controls = [join(dir, 'a.ctl'), join(dir, 'b.ctl')];
  const sups = await Promise.all(
    addrs.map((addr, i) =>
      startSupervisor({
        app: 'life-echo.cjs',
        workers: 2,
        listen: `${addr}:${PORT}`,
        args: ['--control', controls[i]!],
        wrap: ['ip', 'netns', 'exec', `${tag}${'ab'[i]}`],
        t,
      }),
    ),
  );
  const nginx = await runFrontEnd(
    {
      name: 'nginx',
      binary: NGINX_BIN,
      debianPackage: 'nginx',
      version: '1.22.1 (Debian 12)',
      render: async (d, ports) => ({
        files: {
          'nginx.conf': `# rendered by test/frontends/stop-queue.test.ts
daemon off;
worker_processes 1;
${isRoot() ? `user ${RUN_AS};` : ''}
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${d}/${k}_temp;`).join('\n')}
    upstream app { ${addrs.map((a) => `server ${a}:${PORT};`).join(' ')} }
    server {
        listen 127.0.0.1:${ports.tcp};
        location / { include /etc/nginx/scgi_params; scgi_pass app; }
    }
}
`,
        },
        args: ['-p', `${d}/`, '-c', `${d}/nginx.conf`, '-e', `${d}/error.log`],
        errorLogFile: 'error.log',
      }),
    },
    { backends: { tcp: { host: addrs[0]!, port: PORT } }, t },
  );
  const port = nginx.ports.tcp!;

  const tally: Tally = { sent: { GET: 0, POST: 0 }, ok: { GET: 0, POST: 0 }, failed: [] };
  let running = true;
  const started = Date.now();
  const load = Promise.all(
    Array.from({ length: LOOPS }, async (_, loop) => {
      for (let i = 0; running && i < 100_000; i++) {
        const method = (i + loop) % 2 ? 'POST' : 'GET';
        tally.sent[method]++;
        try {
          const r = await httpRequest({ port, method, path: `/l${loop}/${i}`, body: method === 'POST' ? BODY : undefined, timeoutMs: 10_000 });
          const bodyLength = r.status === 200 ? (JSON.parse(r.body.toString('utf8')) as { bodyLength: number }).bodyLength : -1;
          if (r.status === 200 && bodyLength === (method === 'POST' ? BODY.length : 0)) tally.ok[method]++;
          else tally.failed.push(`${method} ${r.status} at ${Date.now() - started} ms`);
        } catch (err) {
          tally.failed.push(`${method} ${(err as NodeJS.ErrnoException).code ?? String(err)} at ${Date.now() - started} ms`);
        }
      }
    }),
  );
  await delay(1000); // both servers take load
  const stop = await runCli(['stop', '--control', controls[0]!, '--timeout', '15'], 20_000);
  assert.equal(stop.code, 0, `${stop.stdout}${stop.stderr}`);
  await delay(500); // the other one carries it all
  running = false;
  await load;

  const log = nginx.errorLog();
  const resets = log.split('\n').filter((l) => /reset by peer/.test(l));
  const figures = `sent ${JSON.stringify(tally.sent)}, answered 200 ${JSON.stringify(tally.ok)}, resets in nginx's log ${resets.length}`;
  t.diagnostic(figures);
  for (const line of sups[0]!.logs().split('\n')) if (/master.*(stopping|listen queue|stopped)/.test(line)) t.diagnostic(line);
  for (const line of log.split('\n')) if (/\[(error|warn)\]/.test(line)) t.diagnostic(line.replace(/, client:.*/, ''));
  assert.ok(tally.sent.POST > 50 && tally.sent.GET > 50, `too little load to tell: ${figures}`);
  const why = `${figures}\n${log}\n--- the stopped supervisor ---\n${sups[0]!.logs()}`;
  assert.equal(resets.length, 0, why);
  assert.deepEqual(tally.failed, [], why);
  assert.equal(tally.ok.GET, tally.sent.GET, why);
  assert.equal(tally.ok.POST, tally.sent.POST, why);
  assert.match(sups[0]!.logs(), /stopping: new connections refused/, 'the syn_filter addon is built and used');
});
