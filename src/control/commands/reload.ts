// Control command `reload`: a rolling reload of every worker onto freshly loaded app code.
// The rollout itself (canary, surge, rollback) is the Master's; this file only validates and forwards.
//
//   CLI   scgi-supervise reload [--control PATH | --name NAME | -l ADDR] [--timeout S]
//   wire  → {"id":1,"command":"reload","args":{}}
//         ← {"id":1,"ok":true,"result":{"generation":3,"durationMs":2140,"workers":8}}
//         ← {"id":1,"ok":false,"error":{"code":"ERR_RELOAD_IN_PROGRESS"|"ERR_RELOAD_FAILED"|"ERR_STOPPING",…}}

import type { ControlTarget } from '../target.js';
import type { ReloadResult } from '../../stats-contract.js';
import { rejectUnknownArgs } from './args.js';

export const name = 'reload';

export type ReloadArgs = Record<string, never>;
export type ReloadResponse = ReloadResult;

export function parseArgs(args: Record<string, unknown>): ReloadArgs {
  rejectUnknownArgs(name, args, []);
  return {};
}

export function run(target: ControlTarget, _args: ReloadArgs): Promise<ReloadResponse> {
  return target.reload();
}
