// What the benchmark ran on: CPU model, cores, memory, kernel, and the versions of node, nginx, uWSGI and wrk.
// Not measured figures (measure.ts).

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpuModel: string;
  nproc: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  nginx: string;
  uwsgi: string;
  wrk: string;
  gitCommit: string;
  date: string;
}

function firstLine(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return ((r.stdout ?? '') + (r.stderr ?? '')).trim().split('\n')[0] ?? 'not found';
}

export function describeMachine(root: string): Machine {
  let cpuModel = 'unknown';
  try {
    cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpuModel;
  } catch {
    // not Linux
  }
  let gitCommit = 'unknown';
  try {
    gitCommit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a checkout
  }
  return {
    cpuModel,
    nproc: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    nginx: firstLine('/usr/sbin/nginx', ['-v']).replace(/^nginx version: /, ''),
    uwsgi: firstLine('/usr/bin/uwsgi', ['--version']),
    wrk: firstLine('/usr/bin/wrk', ['-v']).split(' [')[0]!,
    gitCommit,
    date: new Date().toISOString(),
  };
}
