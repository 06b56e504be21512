// Control command `scale`: change the worker count at runtime; the Master adds or drains one worker at a time
// and answers once the pool has the new size. This file validates the count and forwards.
//
//   CLI   scgi-supervise scale N [--control PATH | --name NAME | -l ADDR] [--timeout S]
//   wire  → {"id":1,"command":"scale","args":{"workers":3}}
//         ← {"id":1,"ok":true,"result":{"from":2,"to":3}}
//         ← {"id":1,"ok":false,"error":{"code":"ERR_CONTROL_BAD_ARGS",…}}   (not an integer in 1..MAX_WORKERS)

import { ControlError } from '../../errors.js';
import { MAX_WORKERS } from '../../stats-contract.js';
import type { ControlTarget } from '../target.js';
import type { ScaleResult } from '../../stats-contract.js';
import { rejectUnknownArgs } from './args.js';

export const name = 'scale';
/** A guard against typos (`scale 40000`), not a tuning limit. */

export interface ScaleArgs {
  workers: number;
}
export type ScaleResponse = ScaleResult;

export function parseArgs(args: Record<string, unknown>): ScaleArgs {
  rejectUnknownArgs(name, args, ['workers']);
  const workers = args.workers;
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new ControlError('ERR_CONTROL_BAD_ARGS', `scale needs a worker count, got ${JSON.stringify(workers)}`, {
      hint: `give an integer from 1 to ${MAX_WORKERS}, e.g. scgi-supervise scale 4`,
    });
  }
  return { workers };
}

export function run(target: ControlTarget, args: ScaleArgs): Promise<ScaleResponse> {
  return target.scale(args.workers);
}
