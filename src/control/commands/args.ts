// Argument checks shared by the control commands (one file per command lives beside this one).

import { ControlError } from '../../errors.js';

/** A misspelt argument is an error, not silently ignored (`{"worker": 3}` for `scale`). */
export function rejectUnknownArgs(command: string, args: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(args).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new ControlError('ERR_CONTROL_BAD_ARGS', `${command} got unknown argument(s) ${unknown.join(', ')}`, {
      hint: known.length > 0 ? `${command} takes ${known.join(', ')}` : `${command} takes no arguments`,
    });
  }
}
