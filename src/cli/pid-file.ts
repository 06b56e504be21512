// `--pid-file PATH` for init systems other than systemd (OpenRC, runit, start-stop-daemon): `start` refuses a file
// that names a live process, writes the master's pid once the socket is bound, and removes the file at exit (only
// if it still holds our pid). Not a lock: two supervisors racing between check and write is the init system's job.

import { readFileSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { ConfigError, isErrnoException } from '../errors.js';

/** Throws ERR_CONFIG_PID_FILE when the file names a live process; a missing, empty or stale file is fine. */
export function checkPidFile(path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return;
    throw new ConfigError('pid-file', `--pid-file ${path} cannot be read: ${(err as Error).message}`, { code: 'ERR_CONFIG_PID_FILE', cause: err });
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  if (alive(pid)) {
    throw new ConfigError('pid-file', `--pid-file ${path} names pid ${pid}, which is running`, {
      code: 'ERR_CONFIG_PID_FILE',
      hint: `another supervisor runs there: stop it (kill -TERM ${pid}), or pass another --pid-file`,
    });
  }
}

/** Written aside and renamed: a reader never sees a half-written pid. */
export function writePidFile(path: string): void {
  try {
    writeFileSync(`${path}.tmp`, `${process.pid}\n`, { mode: 0o644 });
    renameSync(`${path}.tmp`, path);
  } catch (err) {
    throw new ConfigError('pid-file', `--pid-file ${path} cannot be written: ${(err as Error).message}`, {
      code: 'ERR_CONFIG_PID_FILE',
      hint: 'name a file in a folder the master may write, e.g. /run/scgi-supervise.pid',
      cause: err,
    });
  }
}

export function removePidFile(path: string): void {
  try {
    if (Number(readFileSync(path, 'utf8').trim()) === process.pid) unlinkSync(path);
  } catch {
    // already gone, or replaced by someone else: leave it
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrnoException(err) && err.code === 'EPERM'; // ESRCH: gone
  }
}
