// Reads /proc for the benchmark: the process tree under a pid, CPU ticks (utime+stime) and RSS per process. Linux only.
// Not process control (process-group.ts).

import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface StatFields {
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

/** Fields of /proc/<pid>/stat (after the `(comm)`, which may contain spaces), or undefined when the pid is gone. */
export function readStat(pid: number | 'self'): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  return parseStat(text);
}

export function parseStat(text: string): StatFields {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field N is rest[N - 3]
  return { ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]), cutime: Number(rest[13]), cstime: Number(rest[14]) };
}

/** `root` and all its descendants, root first. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readStat(pid);
    if (stat === undefined) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 10000) {
    const pid = queue.shift()!;
    if (readStat(pid) === undefined) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** The direct children of `pid`. */
export function childrenOf(pid: number): number[] {
  return processTree(pid).filter((p) => readStat(p)?.ppid === pid);
}

/** CPU seconds (user + system) used so far by each pid; a missing pid counts 0. */
export function cpuSeconds(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const stat = readStat(pid);
    out.set(pid, stat === undefined ? 0 : (stat.utime + stat.stime) / CLK_TCK);
  }
  return out;
}

/** CPU seconds used between two samples, summed over the pids present in `after` (new pids count from 0). */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, seconds] of after) sum += seconds - (before.get(pid) ?? 0);
  return sum;
}

/** VmRSS of a pid in KiB, or 0 when gone. */
export function rssKiB(pid: number): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'latin1').match(/^VmRSS:\s+(\d+) kB/m);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine spent busy so far (all CPUs: /proc/stat's first line minus idle and iowait). */
export function machineBusySeconds(): number {
  const first = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = first;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}
