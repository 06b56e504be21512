// The control socket's place on disk: a directory only its owner can enter (0700, created if missing, refused if
// others can enter it or another user owns it) and a socket file that is either stale (removed) or live (busy).
// Not the listening or the protocol: control/server.ts calls these before it listens.

import { createConnection } from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { ControlError, isErrnoException } from '../errors.js';

function currentUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/** The directory must be ours, a real directory (not a symlink), and closed to group and others. */
export async function prepareDirectory(dir: string): Promise<void> {
  const uid = currentUid();
  let created = false;
  try {
    created = (await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined;
  } catch (err) {
    if (!(isErrnoException(err) && err.code === 'EEXIST')) {
      throw new ControlError('ERR_CONTROL_PERMISSION', `cannot create the control directory ${dir}: ${errText(err)}`, {
        hint: 'pass --control PATH in a directory you own',
        cause: err,
      });
    }
  }
  if (created) await chmod(dir, 0o700); // the umask could have left it narrower than the owner needs
  const st = await lstat(dir);
  if (!st.isDirectory()) {
    throw new ControlError('ERR_CONTROL_PERMISSION', `control directory ${dir} is not a directory`, {
      hint: 'remove it, or pass --control PATH in a directory you own with mode 0700',
    });
  }
  if (uid !== -1 && st.uid !== uid) {
    throw new ControlError('ERR_CONTROL_PERMISSION', `control directory ${dir} is owned by uid ${st.uid}, not ${uid}`, {
      hint: 'someone else created it; remove it, or pass --control PATH in a directory you own with mode 0700',
    });
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new ControlError('ERR_CONTROL_PERMISSION', `control directory ${dir} has mode ${mode}; others could reach the socket`, {
      hint: `run chmod 0700 ${dir}, or pass --control PATH in a directory only you can enter`,
    });
  }
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
