// systemd socket activation (sd_listen_fds(3)): which inherited socket `listen` means. Pure: environment and pid in,
// a `fd:N` text or a ConfigError out. Not the socket itself (master/listener.ts opens it and reads its backlog), nor
// keeping LISTEN_* from the workers (master/spawn-worker.ts).

import { ConfigError } from '../errors.js';

/** systemd passes listening sockets from fd 3 on (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

export interface InheritedSocket {
  fd: number;
  /** From LISTEN_FDNAMES (FileDescriptorName= in the socket unit); systemd's default is "unknown". */
  name: string;
}

/**
 * The sockets systemd passed to THIS process, or null when there are none: LISTEN_FDS unset, or LISTEN_PID names
 * another process (the variables leaked from a parent that got them, e.g. a shell started by a socket unit).
 */
export function inheritedSockets(env: NodeJS.ProcessEnv, pid: number): InheritedSocket[] | null {
  const count = env.LISTEN_FDS;
  if (count === undefined || count === '') return null;
  if (env.LISTEN_PID !== undefined && env.LISTEN_PID !== '' && env.LISTEN_PID !== String(pid)) return null;
  if (!/^\d{1,4}$/.test(count) || Number(count) === 0) return null;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  return Array.from({ length: Number(count) }, (_, i) => ({ fd: LISTEN_FDS_START + i, name: names[i] || 'unknown' }));
}

const described = (sockets: InheritedSocket[]) => sockets.map((s) => `fd:${s.fd} (${s.name})`).join(', ');

/**
 * What `listen` means under socket activation:
 * - not set anywhere + one inherited socket → `fd:3`; several → an error listing them (pick one by name);
 * - set to `fd:NAME` → the one socket of that LISTEN_FDNAMES name (none or several: an error naming NAME);
 * - set to `fd:N` → itself (listener.ts checks it is a socket);
 * - set to anything else while systemd passed sockets → an error naming both (we would bind a second socket that
 *   systemd knows nothing of, the bug issue 14 opened with).
 * Returns the listen text to parse, or null when socket activation has nothing to say.
 */
export function activationListen(
  listen: { text: string; origin: string } | null,
  sockets: InheritedSocket[] | null,
): string | null {
  const byName = listen !== null && /^fd:(?!\d+$)/.test(listen.text.trim()) ? listen.text.trim().slice(3) : null;
  if (sockets === null) {
    if (byName !== null) {
      throw new ConfigError('listen', `${listen!.origin}: fd:${byName} names a socket passed by systemd, but none was passed (no LISTEN_FDS for this process)`, {
        hint: 'run under a systemd socket unit with FileDescriptorName=' + byName + ', or use HOST:PORT or unix:PATH',
      });
    }
    return null;
  }
  if (listen === null) {
    if (sockets.length === 1) return `fd:${sockets[0]!.fd}`;
    throw new ConfigError('listen', `systemd passed ${sockets.length} sockets: ${described(sockets)}; which one is the SCGI socket is ambiguous`, {
      hint: 'pick one with --listen fd:NAME (FileDescriptorName= in the socket unit) or fd:N',
      code: 'ERR_CONFIG_CONFLICT',
    });
  }
  if (byName !== null) {
    const matches = sockets.filter((s) => s.name === byName);
    if (matches.length === 1) return `fd:${matches[0]!.fd}`;
    throw new ConfigError(
      'listen',
      `${listen.origin}: fd:${byName} matches ${matches.length === 0 ? 'none' : matches.length} of the sockets systemd passed: ${described(sockets)}`,
      { hint: matches.length === 0 ? 'use one of the names above (FileDescriptorName= in the socket unit)' : 'give the sockets distinct FileDescriptorName=, or pass fd:N', code: 'ERR_CONFIG_CONFLICT' },
    );
  }
  if (listen.text.trim().startsWith('fd:')) return listen.text;
  throw new ConfigError('listen', `${listen.origin} is ${listen.text}, but systemd also passed ${described(sockets)} (LISTEN_FDS): both cannot be the SCGI socket`, {
    hint: 'remove listen (flag, SCGI_SUPERVISE_LISTEN and the config file) to use the passed socket, or remove the socket unit / ListenStream=',
    code: 'ERR_CONFIG_CONFLICT',
  });
}
