// `scgi-supervise stats`: one row per worker as an aligned table, or with --json the StatsSnapshot exactly as
// control/target.ts names its fields (scripts and tests read that form). A thin wrapper over control/commands/stats.ts.
// With --watch [S]: the live view, redrawn in place on a terminal (q or Ctrl-C quits), one printout per interval
// when stdout is not a terminal, one JSON object per line with --json.

import Table from 'cli-table3';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ControlClient, controlRequest } from '../../control/client.js';
import type { StatsSnapshot, WorkerStats } from '../../stats-contract.js';
import { controlPathFor, runVerb, withControlOptions, type ControlArgs } from '../control-options.js';
import { ConfigError } from '../../errors.js';

type StatsArgs = ControlArgs & { json?: boolean; watch?: number };

/** `42s`, `12m05s`, `3h04m`, `2d03h`: short enough for a column, exact enough to spot a restart. */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor((s % 86400) / 3600))}h`;
}

function formatLastExit(e: WorkerStats['lastExit']): string {
  if (!e) return '-';
  return `${e.reason}${e.limit ? ` ${e.limit}` : ''} (${e.signal ?? `code ${e.code ?? '?'}`})`;
}

const NO_BORDERS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
};

/** `listen queue 3/511` (waiting/limit), or `listen queue ?` when the kernel's figure could not be read. */
export function formatListenQueue(q: StatsSnapshot['master']['listenQueue']): string {
  return q === null || q === undefined ? 'listen queue ?' : `listen queue ${q.depth}/${q.limit}`;
}

export function formatStatsTable(snapshot: StatsSnapshot): string {
  const m = snapshot.master;
  const head = `master pid ${m.pid}, version ${m.version}, listen ${m.listen}, generation ${m.generation}, ` +
    `up ${formatUptime(m.uptime)}, ${m.workers} workers, ${formatListenQueue(m.listenQueue)}\n`;
  const table = new Table({
    head: ['ID', 'PID', 'STATE', 'GEN', 'UPTIME', 'REQUESTS', 'INFLIGHT', 'RESTARTS', 'IN 60S', 'RECYCLES', 'CPU%', 'MEM MiB', 'LAST EXIT'],
    chars: NO_BORDERS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    colAligns: ['right', 'right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  });
  for (const w of snapshot.workers) {
    table.push([
      w.id,
      w.pid ?? '-',
      w.state,
      w.generation,
      formatUptime(w.uptime),
      w.requests,
      w.inflight,
      w.restarts,
      w.recentRestarts ?? '-', // a master of an older build does not send it
      w.recycles ?? '-',
      w.cpu === null ? '-' : w.cpu.toFixed(1),
      w.memory === null ? '-' : (w.memory / 1048576).toFixed(1),
      formatLastExit(w.lastExit),
    ]);
  }
  // Trailing spaces from padded last columns are noise in a terminal and in diffs.
  const body = table.toString().split('\n').map((line) => line.trimEnd()).join('\n');
  return head + body + '\n';
}

/**
 * The live view's table: per worker state, requests per second since the previous snapshot (by slot and pid, so a
 * respawned worker starts from 0), in flight, CPU, memory, restarts; the queue in the first line.
 */
export function formatWatchTable(snapshot: StatsSnapshot, previous: StatsSnapshot | null, elapsedS: number): string {
  const m = snapshot.master;
  const head = `${m.listen}  generation ${m.generation}  up ${formatUptime(m.uptime)}  ${m.workers} workers  ${formatListenQueue(m.listenQueue)}\n`;
  const table = new Table({
    head: ['ID', 'PID', 'STATE', 'REQ/S', 'INFLIGHT', 'CPU%', 'MEM MiB', 'RESTARTS'],
    chars: NO_BORDERS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    colAligns: ['right', 'right', 'left', 'right', 'right', 'right', 'right', 'right'],
  });
  for (const w of snapshot.workers) {
    const before = previous?.workers.find((p) => p.id === w.id && p.pid === w.pid && w.pid !== null);
    const rate = before === undefined || elapsedS <= 0 ? '-' : Math.max(0, (w.requests - before.requests) / elapsedS).toFixed(1);
    table.push([
      w.id,
      w.pid ?? '-',
      w.state,
      rate,
      w.inflight,
      w.cpu === null ? '-' : w.cpu.toFixed(1),
      w.memory === null ? '-' : (w.memory / 1048576).toFixed(1),
      w.restarts,
    ]);
  }
  return head + table.toString().split('\n').map((line) => line.trimEnd()).join('\n') + '\n';
}

/** Runs until q / Ctrl-C (a terminal), SIGINT/SIGTERM, or the supervisor going away (rejects then). */
async function watch(argv: ArgumentsCamelCase<StatsArgs>, intervalS: number): Promise<void> {
  const out = process.stdout;
  const tty = out.isTTY === true && !argv.json;
  const timeoutMs = (argv.timeout ?? 10) * 1000;
  const client = new ControlClient(controlPathFor(argv));
  await client.connect(Math.min(timeoutMs, 5000));
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (): void => stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const input = process.stdin;
  const keys = tty && input.isTTY === true;
  const onKey = (data: Buffer): void => {
    if (data.includes(0x71) || data.includes(0x51) || data.includes(0x03)) stop(); // q, Q, Ctrl-C (raw mode: no SIGINT)
  };
  if (keys) {
    input.setRawMode(true);
    input.resume();
    input.on('data', onKey);
  }
  if (tty) out.write('\x1b[?25l'); // hide the cursor while redrawing
  let previous: StatsSnapshot | null = null;
  let previousAt = 0;
  try {
    for (;;) {
      const snapshot = await client.request<StatsSnapshot>('stats', {}, timeoutMs);
      const now = performance.now();
      if (argv.json) out.write(JSON.stringify(snapshot) + '\n');
      else {
        const text = formatWatchTable(snapshot, previous, (now - previousAt) / 1000);
        // Home, draw, clear what the previous frame left below: no flicker of a full clear.
        if (tty) out.write('\x1b[H' + text.replace(/\n/g, '\x1b[K\n') + '\x1b[J' + '(q to quit)');
        else out.write(text + '\n');
      }
      previous = snapshot;
      previousAt = now;
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), intervalS * 1000)));
      const done = await Promise.race([tick, stopped.then(() => true)]);
      clearTimeout(timer);
      if (done) return;
    }
  } finally {
    if (tty) out.write('\x1b[?25h\n');
    if (keys) {
      input.off('data', onKey);
      input.setRawMode(false);
      input.pause();
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    client.close();
  }
}

export const command: CommandModule<object, StatsArgs> = {
  command: 'stats',
  describe: 'Show the master and every worker: state, generation, uptime, requests, in-flight, restarts, CPU, memory',
  builder: (y: Argv) =>
    withControlOptions(y, 10)
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object (field names are stable)' })
      .option('watch', {
        type: 'number',
        describe: 'Redraw every SECONDS (default 1) until q or Ctrl-C; one printout (or JSON line) per interval when not a terminal',
        coerce: (v: unknown) => (v === '' || v === true || v === undefined ? 1 : Number(v)),
      })
      .example('$0 stats --watch', 'a live view, redrawn every second')
      .example('$0 stats --watch 5 --json', 'one JSON object per line every 5 s')
      .example('$0 stats', 'a table, one row per worker')
      .example('$0 stats --json | jq .workers[].requests', 'the same for scripts') as unknown as Argv<StatsArgs>,
  handler: (argv: ArgumentsCamelCase<StatsArgs>) =>
    runVerb(async () => {
      if (argv.watch !== undefined) {
        if (!(argv.watch > 0)) throw new ConfigError('watch', `--watch ${argv.watch}: expected seconds above 0`, { hint: 'e.g. --watch 2' });
        return watch(argv, argv.watch);
      }
      const path = controlPathFor(argv);
      const snapshot = await controlRequest<StatsSnapshot>(path, 'stats', {}, (argv.timeout ?? 10) * 1000);
      process.stdout.write(argv.json ? JSON.stringify(snapshot) + '\n' : formatStatsTable(snapshot));
    }),
};
