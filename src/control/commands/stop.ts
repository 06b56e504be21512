// Control command `stop`: begin a graceful stop (as SIGTERM does). Answers as soon as the stop has begun, with the
// master's pid, so the client can wait for that process to exit (cli/commands/stop.ts does; draining is the Master's).
//
//   CLI   scgi-supervise stop [--control PATH | --name NAME | -l ADDR] [--timeout S]
//   wire  → {"id":1,"command":"stop","args":{}}
//         ← {"id":1,"ok":true,"result":{"pid":812}}

import type { ControlTarget } from '../target.js';
import { rejectUnknownArgs } from './args.js';

export const name = 'stop';

export type StopArgs = Record<string, never>;
export interface StopResponse {
  /** The master's pid: the control server runs inside the master process. */
  pid: number;
}

export function parseArgs(args: Record<string, unknown>): StopArgs {
  rejectUnknownArgs(name, args, []);
  return {};
}

export async function run(target: ControlTarget, _args: StopArgs): Promise<StopResponse> {
  await target.stop();
  return { pid: process.pid };
}
