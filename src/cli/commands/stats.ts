// `scgi-supervise stats`: one row per worker as an aligned table, or with --json the StatsSnapshot exactly as
// control/target.ts names its fields (scripts and tests read that form). A thin wrapper over control/commands/stats.ts.

import Table from 'cli-table3';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { controlRequest } from '../../control/client.js';
import type { StatsSnapshot, WorkerStats } from '../../stats-contract.js';
import { controlPathFor, runVerb, withControlOptions, type ControlArgs } from '../control-options.js';

type StatsArgs = ControlArgs & { json?: boolean };

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
  return `${e.reason} (${e.signal ?? `code ${e.code ?? '?'}`})`;
}

const NO_BORDERS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
};

export function formatStatsTable(snapshot: StatsSnapshot): string {
  const m = snapshot.master;
  const head = `master pid ${m.pid}, version ${m.version}, listen ${m.listen}, generation ${m.generation}, ` +
    `up ${formatUptime(m.uptime)}, ${m.workers} workers\n`;
  const table = new Table({
    head: ['ID', 'PID', 'STATE', 'GEN', 'UPTIME', 'REQUESTS', 'INFLIGHT', 'RESTARTS', 'CPU%', 'MEM MiB', 'LAST EXIT'],
    chars: NO_BORDERS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    colAligns: ['right', 'right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
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
      w.cpu === null ? '-' : w.cpu.toFixed(1),
      w.memory === null ? '-' : (w.memory / 1048576).toFixed(1),
      formatLastExit(w.lastExit),
    ]);
  }
  // Trailing spaces from padded last columns are noise in a terminal and in diffs.
  const body = table.toString().split('\n').map((line) => line.trimEnd()).join('\n');
  return head + body + '\n';
}

export const command: CommandModule<object, StatsArgs> = {
  command: 'stats',
  describe: 'Show the master and every worker: state, generation, uptime, requests, in-flight, restarts, CPU, memory',
  builder: (y: Argv) =>
    withControlOptions(y, 10)
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object (field names are stable)' })
      .example('$0 stats', 'a table, one row per worker')
      .example('$0 stats --json | jq .workers[].requests', 'the same for scripts') as unknown as Argv<StatsArgs>,
  handler: (argv: ArgumentsCamelCase<StatsArgs>) =>
    runVerb(async () => {
      const path = controlPathFor(argv);
      const snapshot = await controlRequest<StatsSnapshot>(path, 'stats', {}, (argv.timeout ?? 10) * 1000);
      process.stdout.write(argv.json ? JSON.stringify(snapshot) + '\n' : formatStatsTable(snapshot));
    }),
};
