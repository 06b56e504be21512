// How many connections wait in the kernel's accept queue of the listening socket, and how many it may hold: read
// by the socket's inode (/proc/self/fd/N → socket:[INODE]), so it works alike for a socket we bound and one
// inherited as fd:N. Not the sampling schedule (master.ts samples it at --stats-interval, never per scrape).
// Also the reading a stop needs to know that the queue is empty before it closes the socket (issue 13).
//
// TCP: the LISTEN row (st 0A) of /proc/net/tcp or tcp6 with our inode; for a listening socket the kernel puts
// sk_ack_backlog (the accept queue) in `rx_queue`. `tx_queue` is NOT the limit there (it is 0 for LISTEN rows:
// get_tcp4_sock prints write_seq - snd_una); the limit is min(backlog, net.core.somaxconn), which listen(2) applies.
// Unix: nothing in /proc carries the queue (/proc/net/unix has no queue column); the kernel reports it only through
// netlink sock_diag (UNIX_DIAG_RQLEN: queue and limit), as `ss -xl` prints it. Node has no netlink, so this runs
// `ss` once per sample: measured here 4.2 ms of master CPU and 12 ms wall per run, against 0.5 ms for the TCP
// read of /proc (docs/metrics.md "How the queue is read" has the comparison and why not an addon).

import { execFile } from 'node:child_process';
import { open, readFile, readlink } from 'node:fs/promises';
import type { ListenQueue } from '../stats-contract.js';

export type { ListenQueue };

export type ListenQueueReader = () => Promise<ListenQueue | null>;

/** `socket:[12345]` → 12345, or null when fd is no socket (or gone). */
export async function socketInode(fd: number): Promise<number | null> {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/self/fd/${fd}`));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The LISTEN row with this inode in a /proc/net/tcp(6) text: its rx_queue. Listening sockets come first in the
 * file (the kernel walks the listening hash before the established one), so a caller may pass only a prefix.
 */
export function parseProcNetTcp(text: string, inode: number): number | null {
  const want = String(inode);
  for (const line of text.split('\n')) {
    // "  0: 0100007F:C7C5 00000000:0000 0A 00000000:00000003 00:00000000 00000000  0  0 2050894 ..."
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A' || f[9] !== want) continue;
    const rx = f[4]!.split(':')[1];
    return rx === undefined ? null : parseInt(rx, 16);
  }
  return null;
}

/**
 * `ss -xlnH` output: "u_str LISTEN 3 7 /run/app.sock 2050893 * 0" (Recv-Q is the accept queue, Send-Q the limit,
 * the local "port" is the inode). Returns the row with this inode.
 */
export function parseSsUnix(text: string, inode: number): ListenQueue | null {
  const want = String(inode);
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[1] !== 'LISTEN') continue;
    // A path with spaces shifts the columns: the inode is the field before "*" (the peer).
    const star = f.lastIndexOf('*');
    if (star < 1 || f[star - 1] !== want) continue;
    return { depth: Number(f[2]), limit: Number(f[3]) };
  }
  return null;
}

/** Reads only what it must of /proc/net/tcp*: stop at the first non-LISTEN row (file order: listeners first). */
async function readTcpDepth(inode: number): Promise<number | null> {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let handle;
    try {
      handle = await open(file, 'r');
    } catch {
      continue;
    }
    try {
      let text = '';
      const buf = Buffer.alloc(65536);
      for (;;) {
        const { bytesRead } = await handle.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        text += buf.toString('latin1', 0, bytesRead);
        const found = parseProcNetTcp(text, inode);
        if (found !== null) return found;
        // Past the listeners: a row in another state after the header means ours is not in this file.
        if (/^\s*\d+: [0-9A-F:]+ [0-9A-F:]+ (?!0A)[0-9A-F]{2} /m.test(text)) break;
      }
    } finally {
      await handle.close();
    }
  }
  return null;
}

function runSs(args: string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('ss', args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout) => resolve(err ? null : stdout));
  });
}

async function somaxconn(): Promise<number | null> {
  try {
    return Number((await readFile('/proc/sys/net/core/somaxconn', 'utf8')).trim());
  } catch {
    return null;
  }
}

/**
 * A reader for the listening socket `fd`. `backlog` is what listen(2) was called with (the workers re-apply it):
 * the TCP limit. Resolves null when the queue cannot be read (no /proc, no `ss`); never rejects.
 */
export function listenQueueReader(fd: number, kind: 'tcp' | 'unix' | 'fd', backlog: number): ListenQueueReader {
  let inode: number | null | undefined;
  return async () => {
    if (inode === undefined) inode = await socketInode(fd);
    if (inode === null) return null;
    if (kind !== 'unix') {
      const depth = await readTcpDepth(inode);
      if (depth !== null) {
        const max = await somaxconn();
        return { depth, limit: max === null ? backlog : Math.min(backlog, max) };
      }
      if (kind === 'tcp') return null;
    }
    const out = await runSs(['-xlnH'], 2000);
    return out === null ? null : parseSsUnix(out, inode);
  };
}
