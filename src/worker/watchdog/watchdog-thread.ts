// The watchdog: a worker_thread in every worker, with its own event loop, so it runs while the main thread is stuck
// in synchronous code. It reads request-board.ts (the heartbeat, the requests in flight) and:
// - the loop blocked for workerTimeoutMs: writes a `blocked` line (messages.ts) to WATCHDOG_FD; the master kills;
// - the master gone (our parent pid changed): asks the main thread to drain, and kills the process if the main
//   thread is blocked and cannot. Not the main thread's side (watchdog.ts) nor the kill decision (master/pool.ts).

import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { readBoard } from './request-board.js';
import type { WorkerToMaster } from '../messages.js';

export interface WatchdogData {
  memory: SharedArrayBuffer;
  /** 0: no hung-worker report (the orphan watch stays on). */
  workerTimeoutMs: number;
  fd: number;
  /** How often the main thread stamps the heartbeat; also how often this thread looks. */
  beatMs: number;
}

/**
 * With the master gone: a main thread that has not taken our "master gone" this long after it was posted is blocked
 * and cannot drain, so we kill (issue 13: port free and blocked workers gone within 2 s; detection adds up to
 * beatMs). Once it drains, a heartbeat older than ORPHAN_STALE_MS means it blocked while draining: kill too.
 */
const ORPHAN_ACK_MS = 750;
const ORPHAN_STALE_MS = 1000;
/** After a report, the master kills at once; if it has not after this long (master stuck or gone), we do. */
const REPORT_GRACE_MS = 5000;

const data = workerData as WatchdogData;
const masterPid = process.ppid;
let reportedAt = 0;
let masterGoneAt = 0;

function killSelf(): void {
  process.kill(process.pid, 'SIGKILL');
}

function report(message: WorkerToMaster): boolean {
  try {
    fs.writeSync(data.fd, `${JSON.stringify(message)}\n`);
    return true;
  } catch {
    return false; // EPIPE: the master is gone; EBADF: started without the pipe. Either way nobody will kill us.
  }
}

function check(): void {
  const now = Date.now();
  const { lastBeat, armed, acknowledged } = readBoard(data.memory, now);
  const staleMs = now - lastBeat;
  // process.ppid is read afresh each time (uv_os_getppid): a dead master's children are re-parented.
  if (masterGoneAt === 0 && process.ppid !== masterPid) {
    masterGoneAt = now;
    parentPort!.postMessage({ type: 'master-gone' });
  }
  if (masterGoneAt !== 0) {
    if (acknowledged ? staleMs >= ORPHAN_STALE_MS : now - masterGoneAt >= ORPHAN_ACK_MS) killSelf();
    return;
  }
  if (!armed || data.workerTimeoutMs <= 0 || staleMs < data.workerTimeoutMs) {
    reportedAt = 0;
    return;
  }
  if (reportedAt === 0) {
    reportedAt = now;
    const { requests } = readBoard(data.memory, now);
    if (!report({ type: 'blocked', blockedMs: staleMs, requests })) killSelf();
  } else if (now - reportedAt >= REPORT_GRACE_MS) killSelf();
}

setInterval(check, data.beatMs);
