// Supervisor figures that are not throughput: how long a killed worker takes to be replaced and ready (kill -9,
// then the master's `worker <id> (pid <pid>) ready` line), and how long a rolling reload of 8 workers takes under
// load (`reload -l ADDR`, helper C's verb). Not the throughput runs (measure.ts).

import { spawn } from 'node:child_process';
import { CLI, ROOT, startBackend, type Shape } from './backends.js';
import { childrenOf } from './proc-stats.js';
import { runWrk } from './wrk.js';
import type { Lifecycle } from './report.js';

const READY = /worker (\d+) \(pid (\d+)\) ready/; // stable log lines (RULES.md)

export async function measureRespawn(port: number, kills = 5): Promise<NonNullable<Lifecycle['respawnMs']>> {
  const shape: Shape = { name: 'respawn', app: 'hello', connections: 0, workers: 2, variants: false };
  const group = await startBackend('product', { port, shape });
  const samples: number[] = [];
  const detectMs: number[] = [];
  try {
    for (let i = 0; i < kills; i++) {
      const workers = childrenOf(group.pid);
      const victim = workers[i % workers.length];
      if (victim === undefined) throw new Error(`product master ${group.pid} has no workers\n${group.tail()}`);
      const since = group.lines.length;
      const killedAt = performance.now();
      process.kill(victim, 'SIGKILL');
      const exited = await group.waitForLine(new RegExp(`worker \\d+ \\(pid ${victim}\\) exited`), 10_000, since);
      detectMs.push(exited.line.atMs - killedAt);
      let seen;
      for (let guard = 0; guard < 50; guard++) {
        seen = await group.waitForLine(READY, 10_000, since + guard);
        if (Number(seen.match[2]) !== victim) break;
      }
      samples.push(seen!.line.atMs - killedAt);
      // Spread the kills so a crash-loop backoff (meant for apps that die at once) is not what we measure.
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await group.stop();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const detect = [...detectMs].sort((a, b) => a - b);
  return { samples, median: sorted[sorted.length >> 1]!, max: sorted[sorted.length - 1]!, detectMedian: detect[detect.length >> 1]!, targetMs: 300 };
}

export async function measureReload(port: number, nginxPort: number, surge: number, workers = 8, underLoad = true): Promise<NonNullable<Lifecycle['reload']>[number]> {
  const shape: Shape = { name: 'reload', app: 'hello', connections: 32, workers, variants: false };
  const group = await startBackend('product', { port, shape, productArgs: ['--reload-surge', String(surge)] });
  try {
    const load = underLoad ? runWrk({ url: `http://127.0.0.1:${nginxPort}/`, connections: 32, durationS: 5 }) : null;
    await new Promise((r) => setTimeout(r, 1000)); // let the load reach steady state first (or the workers settle)
    const since = group.lines.length;
    const started = performance.now();
    const command = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'reload', '-l', `127.0.0.1:${port}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (output += t));
      child.stderr.setEncoding('utf8').on('data', (t: string) => (output += t));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
    const commandMs = performance.now() - started;
    if (command.code !== 0) {
      await load?.catch(() => undefined);
      return { surge, error: `reload exited ${command.code}: ${command.output.trim()}` };
    }
    let allReadyMs = NaN;
    let index = since;
    for (let i = 0; i < workers; i++) {
      const seen = await group.waitForLine(READY, 10_000, index);
      index = seen.index + 1;
      allReadyMs = seen.line.atMs - started;
    }
    const wrk = load === null ? null : await load;
    return { surge, workers, commandMs, allReadyMs, errors: wrk === null ? 0 : wrk.non2xx + wrk.socketErrors, requests: wrk?.requests ?? 0, underLoad, targetMs: 2000 };
  } catch (error) {
    return { surge, error: (error as Error).message };
  } finally {
    await group.stop();
  }
}
