// The only place that turns errors and results into text for people, and the CLI's exit codes.

import { SupervisorError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** `request`: no response came (refused, reset, timeout). */
export const EXIT_NO_RESPONSE = 2;
/** A control verb found no supervisor at the control path. */
export const EXIT_NOT_RUNNING = 3;
/** `reload` refused because another reload is running. */
export const EXIT_BUSY = 4;
/** `reload` refused: the config file is invalid or changes a key only a restart applies (ERR_RELOAD_REFUSED). */
export const EXIT_REFUSED = 5;
export const EXIT_USAGE = 64;

/** `ERR_LISTEN_IN_USE: 127.0.0.1:4000 is in use; another process listens there, pick --listen` */
export function formatError(err: unknown): string {
  if (err instanceof SupervisorError) {
    return err.hint ? `${err.code}: ${err.message}; ${err.hint}` : `${err.code}: ${err.message}`;
  }
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Error details that came over a wire (IPC, control socket) as plain data. */
export function formatErrorData(data: { code: string; message: string; hint?: string }): string {
  return data.hint ? `${data.code}: ${data.message}; ${data.hint}` : `${data.code}: ${data.message}`;
}

export function printError(err: unknown): void {
  process.stderr.write(`scgi-supervise: ${formatError(err)}\n`);
}
