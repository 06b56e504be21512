// The shared SCGI socket: bound ONCE by the master, put into the listening state without ever being accepted on
// here, and handed to every worker as a plain fd (spawn-worker.ts). Not the accept loop (the workers' serve code).
// The kernel socket lives as long as the master holds its fd, so connections queue in the backlog while workers
// change, even when every worker has died at once (docs/protocol.md case 37).

import * as net from 'node:net';
import { chmodSync, chownSync, existsSync, fstatSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { lookup } from 'node:dns/promises';
import { getSystemErrorName } from 'node:util';
import { spawnSync } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { ListenError, isErrnoException } from '../errors.js';
import { createServerHandle as nodeCreateServerHandle, type CreateServerHandle, type ServerHandle } from '../node-internals.js';
import type { ListenAddress } from '../config/config.js';
import { formatListenAddress } from '../config/listen-address.js';
import { runListenPrimer } from './spawn-worker.js';
import { loadSynFilter } from './syn-filter.js';

export interface ListenerOptions {
  listen: ListenAddress;
  socketMode: number;
  socketGroup: string | null;
  backlog: number;
}

export interface Listener {
  /** The master's fd of the socket; passed to workers in their stdio array. */
  readonly fd: number;
  /** `127.0.0.1:4000`, `[::1]:4000`, `unix:/path`, `fd:3` (with the real port when 0 was asked for). */
  readonly address: string;
  /** Closes the master's fd and removes the socket file if this listener created it (and unlinkPath did not). Idempotent. */
  close(): void;
  /**
   * Removes the socket file this listener created, leaving the socket open: a stop's first step, so new connects
   * fail at once with ENOENT (nginx tries its next upstream) while the queue empties. No-op for TCP and fd:N.
   */
  unlinkPath(): void;
  /**
   * close() at the end of a stop's emptying (issue 13). For TCP it first shrinks the socket's accept queue to one
   * connection, so that the last worker's close, which comes later, can reset at most that one. Otherwise close().
   */
  closeForStop(): void;
  /**
   * A stop's first step for a TCP socket we bound: from now on the kernel drops new SYNs (syn-filter.ts), while the
   * connections already queued, and handshakes under way, stay for the workers to accept. Returns null when done, or
   * why it could not (no addon: the caller falls back on closeForStop's shrink). Not for unix sockets (unlinkPath)
   * nor for fd:N (systemd's socket is never touched).
   */
  refuseNewConnections(): string | null;
  /**
   * The socket's libuv handle, which a worker gets a copy of over IPC when it asks (max-connections); never
   * listened on here. Null once closed.
   */
  handle(): object | null;
  /**
   * An inherited socket's own listen() backlog (systemd's Backlog=), which workers must re-listen it with instead of
   * ours; undefined for a socket we bound (it has ours) or when it cannot be read (see inheritedBacklog).
   */
  readonly backlog?: number;
}

/** net._createServerHandle, probed by src/node-internals.ts: a bound TCP or Pipe handle, or a negative libuv status. */
function createServerHandle(shown: string, ...args: Parameters<CreateServerHandle>): ServerHandle | number {
  if (nodeCreateServerHandle === null) {
    throw new ListenError('ERR_LISTEN_FAILED', shown, 'this Node has no net._createServerHandle, which the listener binds with', {
      hint: 'run scgi-supervise on a Node version its package.json names (engines)',
    });
  }
  return nodeCreateServerHandle(...args);
}

export async function openListener(options: ListenerOptions): Promise<Listener> {
  const { listen } = options;
  switch (listen.kind) {
    case 'tcp':
      return openTcp(listen.host, listen.port, options.backlog);
    case 'unix':
      return openUnix(listen.path, options);
    case 'fd':
      return openInherited(listen.fd);
    default: {
      const never: never = listen;
      throw new ListenError('ERR_LISTEN_BAD_ADDRESS', String(never), 'unknown listen address kind');
    }
  }
}

async function openTcp(host: string, port: number, backlog: number): Promise<Listener> {
  const shown = formatListenAddress({ kind: 'tcp', host, port });
  let ip = host;
  if (net.isIP(host) === 0) {
    try {
      ip = (await lookup(host)).address;
    } catch (cause) {
      throw new ListenError('ERR_LISTEN_BAD_ADDRESS', shown, `cannot resolve host ${JSON.stringify(host)}`, {
        hint: 'use an IP address such as 127.0.0.1 or [::1], or a name this machine resolves',
        cause,
      });
    }
  }
  const handle = createServerHandle(shown, ip, port, net.isIP(ip), undefined, 0);
  if (typeof handle === 'number') throw errnoListenError(shown, handle);
  // libuv defers EADDRINUSE from bind() to listen() (`delayed_error`); getsockname reports it, and without this
  // check the first worker's listen() would fail, or worse, auto-bind the socket to a random port.
  const out: { address?: string; port?: number } = {};
  const err = handle.getsockname?.(out) ?? 0;
  if (err !== 0 || !out.port) {
    handle.close();
    throw errnoListenError(shown, err || -osConstants.errno.EADDRINUSE);
  }
  const address = formatListenAddress({ kind: 'tcp', host: out.address ?? ip, port: out.port });
  try {
    await primeListen(handle.fd, backlog, address);
  } catch (e) {
    handle.close();
    throw e;
  }
  return makeListener(handle, address, null);
}

async function openUnix(path: string, options: ListenerOptions): Promise<Listener> {
  const address = formatListenAddress({ kind: 'unix', path });
  // libuv reports a missing directory as EACCES; say what it really is.
  if (!existsSync(dirname(path))) {
    throw new ListenError('ERR_LISTEN_BAD_ADDRESS', address, `the directory ${dirname(path)} does not exist`, {
      hint: 'create it first (e.g. RuntimeDirectory= under systemd), or pick another --listen path',
    });
  }
  await removeStaleSocket(path, address);
  const handle = createServerHandle(address, path, -1, -1, undefined, 0);
  if (typeof handle === 'number') throw errnoListenError(address, handle);
  let created = true;
  try {
    chmodSync(path, options.socketMode);
    if (options.socketGroup !== null) chownSync(path, -1, groupId(options.socketGroup, address));
    await primeListen(handle.fd, options.backlog, address);
  } catch (e) {
    handle.close();
    unlinkQuietly(path);
    created = false;
    throw e instanceof ListenError ? e : wrapErrno(address, e);
  }
  return makeListener(handle, address, created ? path : null);
}

function openInherited(fd: number): Promise<Listener> {
  const address = `fd:${fd}`;
  let isSocket = false;
  try {
    isSocket = fstatSync(fd).isSocket();
  } catch (cause) {
    throw new ListenError('ERR_LISTEN_BAD_ADDRESS', address, `fd ${fd} is not open`, {
      hint: 'fd:N is for a socket passed by systemd (LISTEN_FDS); use HOST:PORT or unix:PATH otherwise',
      cause,
    });
  }
  if (!isSocket) {
    throw new ListenError('ERR_LISTEN_BAD_ADDRESS', address, `fd ${fd} is not a socket`, {
      hint: 'fd:N is for a socket passed by systemd (LISTEN_FDS); use HOST:PORT or unix:PATH otherwise',
    });
  }
  // systemd hands sockets over already listening; we neither close nor unlink what we did not create,
  // but do keep our fd open so the socket outlives every worker.
  let handle: ServerHandle | null = null;
  const sendable = (): object | null => {
    // A handle over the inherited fd, made when a worker first asks; never closed (closing it would close the fd).
    if (handle === null && nodeCreateServerHandle !== null) {
      const h = nodeCreateServerHandle(null, 0, 0, fd);
      handle = typeof h === 'number' ? null : h;
    }
    return handle;
  };
  const backlog = inheritedBacklog(fd);
  const listener: Listener = {
    fd,
    address,
    close: () => undefined,
    unlinkPath: () => undefined,
    closeForStop: () => undefined,
    refuseNewConnections: () => 'an inherited socket is left to systemd',
    handle: sendable,
  };
  return Promise.resolve(backlog === null ? listener : { ...listener, backlog });
}

/**
 * The backlog an inherited listening socket was given (systemd's Backlog=, default SOMAXCONN). A worker's libuv
 * listen() always calls listen(2) again, and Linux then replaces the queue limit: re-listening with ours would
 * silently undo the socket unit's Backlog=. No getsockopt reads it; sock_diag does, as `ss` shows it in Send-Q for a
 * listening socket, so the master asks `ss` once, matching the socket by its inode (fstat). Null when `ss` is
 * missing or does not list it (then workers use --backlog and start.ts warns).
 */
export function inheritedBacklog(fd: number): number | null {
  let ino: string;
  try {
    ino = String(fstatSync(fd).ino);
  } catch {
    return null;
  }
  const ss = spawnSync('ss', ['-lnHe', '-t', '-x'], { encoding: 'utf8', timeout: 5000 });
  if (ss.status !== 0 || typeof ss.stdout !== 'string') return null;
  for (const line of ss.stdout.split('\n')) {
    // tcp   LISTEN 0 4096 127.0.0.1:4000 0.0.0.0:* ino:2927193 sk:12 ...
    // u_str LISTEN 0 4096 /run/app.sock 2927413 * 0 ...        (a unix socket's "port" column is its inode)
    const cols = line.trim().split(/\s+/);
    if (cols[1] !== 'LISTEN' || !/^\d+$/.test(cols[3] ?? '')) continue;
    const matches = cols[0] === 'u_str' ? cols[5] === ino : cols.includes(`ino:${ino}`);
    if (matches) return Number(cols[3]);
  }
  return null;
}

function makeListener(handle: ServerHandle, address: string, createdPath: string | null): Listener {
  let open = true;
  // Unlinked once: a later start may already have bound a new socket at the same path, which must not be removed.
  let path = createdPath;
  const unlinkPath = () => {
    if (path !== null) unlinkQuietly(path);
    path = null;
  };
  const close = () => {
    if (!open) return;
    open = false;
    handle.close();
    unlinkPath();
  };
  return {
    fd: handle.fd,
    address,
    handle: () => (open ? handle : null),
    unlinkPath,
    close,
    refuseNewConnections() {
      if (!open) return 'the socket is closed';
      if (createdPath !== null) return 'a unix socket is unlinked instead';
      const filter = loadSynFilter();
      if ('error' in filter) return `the syn_filter addon cannot load (${filter.error})`;
      try {
        filter.refuse(handle.fd);
        return null;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    },
    closeForStop() {
      // listen(2) again with a backlog of 0, then close our fd, in one synchronous step: libuv would start polling
      // (and accepting) only at the loop's next turn, and the close comes first, so the master still never accepts
      // (see primeListen). The workers' copies keep the socket: from now on at most one connection waits in its
      // queue and the kernel drops further SYNs (the client resends after 1 s, finds the port closed, and nginx
      // tries its next server). Without it, every connection arriving in the last worker's final loop turn before
      // its close was reset: 0-8 per stop under load (test/frontends/stop-queue.test.ts).
      if (open && createdPath === null) handle.listen?.(0);
      close();
    },
  };
}

// listen(2) is a property of the socket, not of the fd or the process. A libuv listen() in the master would also
// start accepting on its next poll, so a throwaway child (spawn-worker.ts runListenPrimer) calls listen() on a copy
// of the fd and exits in the same tick, before its event loop ever polls: the socket is then LISTENING (connections
// queue in the kernel backlog from now on) and nobody has accepted. This also turns a listen-time EADDRINUSE (two
// SO_REUSEADDR binds, neither listening yet) into our error instead of a worker's.
async function primeListen(fd: number, backlog: number, address: string): Promise<void> {
  let result;
  try {
    result = await runListenPrimer(fd, backlog);
  } catch (cause) {
    throw new ListenError('ERR_LISTEN_FAILED', address, `cannot start listening on ${address}`, { cause });
  }
  if (result.ok) return;
  if (result.error === 'EADDRINUSE') throw inUse(address);
  throw new ListenError('ERR_LISTEN_FAILED', address, `listen() on ${address} failed: ${result.error}`, {
    hint: 'check the address and the system limits (somaxconn), then try again',
  });
}

/** A socket file left by a dead process is removed; one with a live listener behind it is an error. */
async function removeStaleSocket(path: string, address: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (e) {
    if (isErrnoException(e) && e.code === 'ENOENT') return;
    throw wrapErrno(address, e);
  }
  if (!stat.isSocket()) {
    throw new ListenError('ERR_LISTEN_BAD_ADDRESS', address, `${path} exists and is not a socket`, {
      hint: 'pick another path for --listen unix:PATH, or remove that file if it is yours',
    });
  }
  const state = await probe(path);
  if (state === 'alive') {
    throw new ListenError('ERR_LISTEN_SOCKET_ALIVE', address, `${address} is in use by a running process`, {
      hint: 'another server listens on that socket; stop it or pick another --listen path',
    });
  }
  if (state === 'stale') unlinkQuietly(path);
  else throw new ListenError('ERR_LISTEN_PERMISSION', address, `cannot probe ${path}: ${state}`, {
    hint: 'run as a user that may write to the socket and its directory, or pick another --listen path',
  });
}

function probe(path: string): Promise<'alive' | 'stale' | string> {
  return new Promise((resolve) => {
    const socket = net.createConnection(path);
    const done = (result: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // A listener with a full backlog does not answer quickly: count silence as alive, never remove it.
    const timer = setTimeout(() => done('alive'), 1000);
    socket.once('connect', () => done('alive'));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT') done('stale');
      else if (e.code === 'EAGAIN') done('alive');
      else done(e.code ?? e.message);
    });
  });
}

function groupId(group: string, address: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const fromFile = (text: string) => {
    for (const line of text.split('\n')) {
      const [name, , gid] = line.split(':');
      if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
    }
    return null;
  };
  let gid: number | null = null;
  try {
    gid = fromFile(readFileSync('/etc/group', 'utf8'));
  } catch {
    gid = null;
  }
  if (gid === null) {
    throw new ListenError('ERR_LISTEN_BAD_ADDRESS', address, `unknown group ${JSON.stringify(group)} for --socket-group`, {
      hint: 'give a group from /etc/group or a numeric gid (groups from LDAP/NSS: use the gid)',
    });
  }
  return gid;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function inUse(address: string, cause?: unknown): ListenError {
  return new ListenError('ERR_LISTEN_IN_USE', address, `${address} is in use`, {
    hint: 'another process listens there, pick --listen', // RULES.md: tests grep this line
    cause,
  });
}

/** libuv returns negative errno numbers from handle calls. */
function errnoListenError(address: string, errno: number): ListenError {
  const code = (errno < 0 ? errnoName(errno) : undefined) ?? `errno ${errno}`;
  const e = Object.assign(new Error(code), { code, errno });
  return wrapErrno(address, e);
}

function errnoName(errno: number): string | undefined {
  try {
    return getSystemErrorName(errno);
  } catch {
    return undefined;
  }
}

export function wrapErrno(address: string, err: unknown): ListenError {
  const code = isErrnoException(err) ? err.code : undefined;
  switch (code) {
    case 'EADDRINUSE':
      return inUse(address, err);
    case 'EACCES':
    case 'EPERM':
      return new ListenError('ERR_LISTEN_PERMISSION', address, `no permission to listen on ${address}`, {
        hint: 'ports below 1024 need root or CAP_NET_BIND_SERVICE; a unix socket needs a writable directory',
        cause: err,
      });
    case 'EADDRNOTAVAIL':
    case 'ENOENT':
    case 'ENOTDIR':
    case 'EINVAL':
    case 'ENAMETOOLONG':
    case 'EAFNOSUPPORT':
      return new ListenError('ERR_LISTEN_BAD_ADDRESS', address, `cannot listen on ${address} (${code})`, {
        hint: 'use an address of this machine (127.0.0.1, [::1]) or a unix socket path in an existing directory',
        cause: err,
      });
    default:
      return new ListenError('ERR_LISTEN_FAILED', address, `cannot listen on ${address} (${code ?? String(err)})`, {
        hint: 'check the address and try again',
        cause: err,
      });
  }
}
