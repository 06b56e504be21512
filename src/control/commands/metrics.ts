// Control command `metrics`: the Prometheus text exposition, exactly what GET /metrics on --metrics-listen serves
// (control/metrics-server.ts). The master formats it from its last sample; nothing is sampled per call.
//
//   CLI   scgi-supervise metrics [--control PATH | --name NAME | -l ADDR | --config FILE] [--timeout S]
//   wire  → {"id":1,"command":"metrics","args":{}}
//         ← {"id":1,"ok":true,"result":{"text":"# HELP scgi_supervise_requests_total …\n"}}

import type { ControlTarget } from '../target.js';
import { rejectUnknownArgs } from './args.js';

export const name = 'metrics';

export type MetricsArgs = Record<string, never>;
export interface MetricsResponse {
  text: string;
}

export function parseArgs(args: Record<string, unknown>): MetricsArgs {
  rejectUnknownArgs(name, args, []);
  return {};
}

export async function run(target: ControlTarget, _args: MetricsArgs): Promise<MetricsResponse> {
  return { text: await target.metrics() };
}
