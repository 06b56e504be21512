// Control command `stats`: one snapshot of the master and every worker, in the field names of control/target.ts.
// Sampling (pidusage, batched request counters) is the Master's; the table is drawn by cli/commands/stats.ts.
//
//   CLI   scgi-supervise stats [--json] [--control PATH | --name NAME | -l ADDR] [--timeout S]
//   wire  → {"id":1,"command":"stats","args":{}}
//         ← {"id":1,"ok":true,"result":{"master":{"pid":812,"version":"0.1.0","listen":"127.0.0.1:4000",
//              "generation":1,"uptime":73.2,"workers":2},"workers":[{"id":0,"pid":815,"state":"ready",
//              "generation":1,"uptime":73.1,"requests":1200,"inflight":0,"restarts":0,"lastExit":null,
//              "cpu":0.4,"memory":52428800},…]}}

import type { ControlTarget } from '../target.js';
import type { StatsSnapshot } from '../../stats-contract.js';
import { rejectUnknownArgs } from './args.js';

export const name = 'stats';

export type StatsArgs = Record<string, never>;
export type StatsResponse = StatsSnapshot;

export function parseArgs(args: Record<string, unknown>): StatsArgs {
  rejectUnknownArgs(name, args, []);
  return {};
}

export function run(target: ControlTarget, _args: StatsArgs): Promise<StatsResponse> {
  return target.stats();
}
