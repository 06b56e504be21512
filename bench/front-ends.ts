// `node dist/bench/front-ends.js`: the product behind nginx, lighttpd and Apache (Debian's, as the tests start them:
// loopback ports, own config in a temp dir), over TCP and a Unix socket, 2 workers, the 14-byte hello: one
// `wrk -t1 -c32 -d3s` per front end and transport, once with the workers on their libuv handles (the default) and
// once forced onto net.Socket (SCGI_SUPERVISE_NET_SOCKETS=1), printing req/s, non-2xx, socket errors and whether
// a worker was replaced. A check that the handle path holds with every front end, not a benchmark: one short run
// each, so read ratios, not absolute figures. Options: --duration S (3).

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startApache } from '../test/helpers/frontends/apache.js';
import type { FrontEnd, FrontEndOptions, Transport } from '../test/helpers/frontends/front-end.js';
import { startLighttpd } from '../test/helpers/frontends/lighttpd.js';
import { startNginx } from '../test/helpers/frontends/nginx.js';
import { startSupervisor, type Supervisor } from '../test/helpers/supervisor.js';

const { values: opts } = parseArgs({ options: { duration: { type: 'string', default: '3' } } });
const FRONT_ENDS: Array<(o: FrontEndOptions) => Promise<FrontEnd>> = [startNginx, startLighttpd, startApache];
const TRANSPORTS: Transport[] = ['tcp', 'unix'];

interface Row {
  path: string;
  frontEnd: string;
  transport: Transport;
  reqPerSec: number;
  non2xx: number;
  socketErrors: string;
}

async function runPath(path: 'handle' | 'net'): Promise<{ rows: Row[]; replaced: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'scgi-front-ends-'));
  chmodSync(dir, 0o755); // the front ends run as www-data and must reach the socket
  const sock = join(dir, 'app.sock');
  const env = path === 'net' ? { SCGI_SUPERVISE_NET_SOCKETS: '1' } : {};
  const supervisors: Supervisor[] = [];
  const rows: Row[] = [];
  try {
    const tcp = await startSupervisor({ app: 'bench-hello.cjs', workers: 2, env });
    supervisors.push(tcp);
    const unix = await startSupervisor({ app: 'bench-hello.cjs', workers: 2, listen: `unix:${sock}`, args: ['--socket-mode', '0666'], env });
    supervisors.push(unix);
    const before = supervisors.map((s) => s.workerPids().join(',')).join(';');
    for (const start of FRONT_ENDS) {
      const fe = await start({ backends: { tcp: tcp.connect as { host: string; port: number }, unix: sock } });
      try {
        for (const transport of TRANSPORTS) {
          const r = spawnSync('wrk', ['-t1', '-c32', `-d${opts.duration}s`, `http://127.0.0.1:${fe.ports[transport]}/`], { encoding: 'utf8', timeout: 60_000 });
          rows.push({
            path,
            frontEnd: `${fe.name} ${fe.version}`,
            transport,
            reqPerSec: Number(r.stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0),
            non2xx: Number(r.stdout.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
            socketErrors: r.stdout.match(/Socket errors: (.*)/)?.[1]?.trim() ?? 'none',
          });
        }
      } finally {
        await fe.stop();
      }
    }
    const after = supervisors.map((s) => s.workerPids().join(',')).join(';');
    return { rows, replaced: before !== after };
  } finally {
    for (const s of supervisors) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const handle = await runPath('handle');
  const net = await runPath('net');
  const lines = [
    `wrk -t1 -c32 -d${opts.duration}s per row, 2 workers, hello; handle = libuv handles (default), net = SCGI_SUPERVISE_NET_SOCKETS=1.`,
    '',
    '| front end | transport | handle req/s | net req/s | handle ÷ net | non-2xx (handle / net) | socket errors (handle / net) |',
    '|---|---|---:|---:|---:|---|---|',
  ];
  for (let i = 0; i < handle.rows.length; i++) {
    const h = handle.rows[i]!;
    const n = net.rows[i]!;
    lines.push(
      `| ${h.frontEnd} | ${h.transport} | ${h.reqPerSec.toFixed(0)} | ${n.reqPerSec.toFixed(0)} | ${(h.reqPerSec / n.reqPerSec).toFixed(2)} | ${h.non2xx} / ${n.non2xx} | ${h.socketErrors} / ${n.socketErrors} |`,
    );
  }
  lines.push('', `workers replaced during the runs: handle ${handle.replaced ? 'yes' : 'no'}, net ${net.replaced ? 'yes' : 'no'}`);
  process.stdout.write(lines.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`front-ends: failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
