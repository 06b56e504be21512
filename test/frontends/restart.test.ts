// Worker restarts behind real front ends (docs/protocol.md case 37, §4.3): while requests flow through nginx, lighttpd and
// Apache over TCP and a Unix socket, every worker is killed with SIGKILL at once. The master keeps the listening
// socket, so no connect is refused: only a request in flight on a killed worker may fail, and no front end may mark
// the backend down (lighttpd would answer 503 for 2-4 s after one ECONNREFUSED).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.js';
import { httpRequest } from '../helpers/frontends/http-client.js';
import { delay, makeTempDir, removeDir, waitFor } from '../helpers/frontends/process-utils.js';
import { startNginx } from '../helpers/frontends/nginx.js';
import { startLighttpd } from '../helpers/frontends/lighttpd.js';
import { startApache } from '../helpers/frontends/apache.js';
import type { FrontEnd, Transport } from '../helpers/frontends/front-end.js';

const WORKERS = 2;
const LOOPS = 3; // concurrent request loops per front end and transport

interface Tally {
  ok: number;
  /** ms since the start at which each 200 completed. */
  okAtMs: number[];
  failed: { status: number | string; atMs: number }[];
}

/** Sequential GETs on `LOOPS` connections until `until()` says stop; records every non-200. */
async function traffic(port: number, until: () => boolean, started: number): Promise<Tally> {
  const tally: Tally = { ok: 0, okAtMs: [], failed: [] };
  await Promise.all(
    Array.from({ length: LOOPS }, async () => {
      for (let i = 0; i < 100_000 && !until(); i++) {
        try {
          const r = await httpRequest({ port, path: '/json', timeoutMs: 10_000 });
          if (r.status === 200) {
            tally.ok++;
            tally.okAtMs.push(Date.now() - started);
          }
          else tally.failed.push({ status: r.status, atMs: Date.now() - started });
        } catch (err) {
          tally.failed.push({ status: (err as NodeJS.ErrnoException).code ?? String(err), atMs: Date.now() - started });
        }
      }
    }),
  );
  return tally;
}

test('SIGKILL of every worker behind nginx, lighttpd and Apache: no refused connect, no backend marked down', async (t) => {
  const dir = await makeTempDir('restart');
  t.after(() => removeDir(dir));
  const sock = join(dir, 'scgi.sock');
  const [svTcp, svUnix] = await Promise.all([
    startSupervisor({ app: 'diff-express.cjs', workers: WORKERS, t }),
    startSupervisor({ app: 'diff-express.cjs', workers: WORKERS, listen: `unix:${sock}`, t }),
  ]);
  assert.ok('port' in svTcp.connect);
  const backends = { tcp: svTcp.connect, unix: sock };
  const frontEnds: FrontEnd[] = await Promise.all([startNginx({ backends, t }), startLighttpd({ backends, t }), startApache({ backends, t })]);
  const supervisors: Partial<Record<Transport, Supervisor>> = { tcp: svTcp, unix: svUnix };

  for (const transport of ['tcp', 'unix'] as Transport[]) {
    await t.test(`over ${transport === 'tcp' ? 'TCP' : 'a Unix socket'}`, async (tt) => {
      const sv = supervisors[transport]!;
      const before = sv.workerPids();
      assert.equal(before.length, WORKERS);
      const started = Date.now();
      let stop = false;
      const runs = frontEnds.map((fe) => traffic(fe.ports[transport]!, () => stop, started));

      await delay(300); // traffic is flowing (the loops start at once; this only spaces the kill from the start)
      const killedAt = Date.now() - started;
      for (const pid of before) process.kill(pid, 'SIGKILL');
      await waitFor(
        `${WORKERS} new workers after SIGKILL of ${before.join(', ')}`,
        () => {
          const now = sv.workerPids();
          return now.length === WORKERS && now.every((p) => !before.includes(p));
        },
        { timeoutMs: 15_000 },
      );
      const respawnedAt = Date.now() - started;
      await delay(1_500); // keep the traffic going: lighttpd's "disabled" window would show as 503s here
      stop = true;
      const tallies = await Promise.all(runs);

      frontEnds.forEach((fe, i) => {
        const { ok, okAtMs, failed } = tallies[i];
        const where = `${fe.name}/${transport}: ${ok} ok, failed ${JSON.stringify(failed)} (killed at ${killedAt} ms, replaced by ${respawnedAt} ms)\n--- ${fe.name} log ---\n${fe.errorLog().slice(-2000)}`;
        tt.diagnostic(`${fe.name}/${transport}: ${ok} ok, ${failed.length} failed ${JSON.stringify(failed)}; killed at ${killedAt} ms, replaced by ${respawnedAt} ms`);
        // Bounds loose enough for a loaded machine: traffic flowed, and went on being served after the replacement.
        assert.ok(ok >= 20, `too little traffic to judge: ${where}`);
        assert.ok(okAtMs.some((at) => at > respawnedAt), `nothing served after the workers were replaced: ${where}`);
        // Only requests in flight on a killed worker may fail: at most one per loop, and none after the replacement.
        assert.ok(failed.length <= LOOPS, where);
        assert.ok(failed.every((f) => f.atMs <= respawnedAt + 100), `a failure after the workers were replaced: ${where}`);
        assert.ok(!failed.some((f) => f.status === 503), `the front end marked the backend down (503): ${where}`);
      });
      assert.match(sv.logs(), /exited on SIGKILL; respawning/);
    });
  }
});
