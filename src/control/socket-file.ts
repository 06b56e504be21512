// The control socket's place on disk: a directory that is safe to hold it (created 0700 if missing; refused only when
// another user could swap the socket: writable by others without the sticky bit, or owned by someone other than us
// or root) and a socket file that is either stale (removed) or live (busy). Not the listening or the protocol:
// control/server.ts binds (with a umask that leaves the file 0600 from its first instant) and calls these first.

import { createConnection } from 'node:net';
import { readFileSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { ControlError, isErrnoException } from '../errors.js';

function currentUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/**
 * The directory must be a real directory (not a symlink) that nobody but us and root can change: owned by us or
 * root, and not writable by others unless sticky (then others cannot remove or rename our socket). A 0755
 * directory of ours or root's is fine (systemd's RuntimeDirectory=): the socket file's own 0600 keeps others out.
 * `group`: the --control-group gid; a directory we create is then 0750 in that group, so its members can reach it.
 */
export async function prepareDirectory(dir: string, group: number | null = null): Promise<void> {
  const uid = currentUid();
  const mode = group === null ? 0o700 : 0o750;
  let created = false;
  try {
    created = (await mkdir(dir, { recursive: true, mode })) !== undefined;
  } catch (err) {
    if (!(isErrnoException(err) && err.code === 'EEXIST')) {
      throw new ControlError('ERR_CONTROL_PERMISSION', `cannot create the control directory ${dir}: ${errText(err)}`, {
        hint: 'pass --control PATH in a directory you own',
        cause: err,
      });
    }
  }
  if (created) {
    if (group !== null) await chown(dir, -1, group);
    await chmod(dir, mode); // the umask could have left it narrower than the owner needs
  }
  const st = await lstat(dir);
  if (!st.isDirectory()) {
    throw new ControlError('ERR_CONTROL_PERMISSION', `control directory ${dir} is not a directory`, {
      hint: 'remove it, or pass --control PATH in a directory you own',
    });
  }
  if (uid !== -1 && st.uid !== uid && st.uid !== 0) {
    throw new ControlError('ERR_CONTROL_PERMISSION', `control directory ${dir} is owned by uid ${st.uid}, neither us (${uid}) nor root`, {
      hint: 'its owner could replace the socket; remove it, or pass --control PATH in a directory you or root own',
    });
  }
  // Others may write and the sticky bit is off: anyone could unlink our socket and put theirs in its place.
  if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
    const shown = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw new ControlError('ERR_CONTROL_PERMISSION', `control directory ${dir} has mode ${shown}: others can write in it without the sticky bit`, {
      hint: `run chmod o-w ${dir} (or chmod +t), or pass --control PATH in a directory only you or root can write`,
    });
  }
}

/** --control-group NAME|GID → gid from /etc/group (a number is taken as is), or null when unknown. */
export function controlGroupId(group: string): number | null {
  if (/^\d+$/.test(group)) return Number(group);
  let text: string;
  try {
    text = readFileSync('/etc/group', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return null;
}

/** A socket file nobody answers on is left over from a killed supervisor: remove it. A live one is an error. */
export async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) {
    throw new ControlError('ERR_CONTROL_BUSY', `control path ${path} exists and is not a socket`, {
      hint: 'remove it, or pass --control or --name to pick another path',
    });
  }
  if (await isAlive(path)) throw busyError(path);
  await unlink(path).catch((err: unknown) => {
    if (!(isErrnoException(err) && err.code === 'ENOENT')) throw err;
  });
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    const done = (alive: boolean): void => {
      probe.destroy();
      resolve(alive);
    };
    probe.setTimeout(1000, () => done(true)); // no answer yet is not proof of death: keep it
    probe.once('connect', () => done(true));
    probe.once('error', (err: NodeJS.ErrnoException) => done(!(err.code === 'ECONNREFUSED' || err.code === 'ENOENT')));
  });
}

export function busyError(path: string): ControlError {
  return new ControlError('ERR_CONTROL_BUSY', `another supervisor uses the control socket ${path}`, {
    hint: 'stop it first, or pass --name or --control to run another one beside it',
  });
}

function errText(err: unknown): string {
  return isErrnoException(err) ? err.code ?? err.message : err instanceof Error ? err.message : String(err);
}
