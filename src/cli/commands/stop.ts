// `scgi-supervise stop`: asks for a graceful stop (as SIGTERM does), then waits until the master has exited: its
// control connection closes and its pid is gone. Bounded by --timeout (default 60 s: the 30 s graceful timeout plus
// margin; raise it when `start --graceful-timeout` is longer). Prints `stopped: master pid P exited`.

import { readFileSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ControlClient } from '../../control/client.js';
import type { StopResponse } from '../../control/commands/stop.js';
import { ControlError, SupervisorError } from '../../errors.js';
import { controlPathFor, runVerb, withControlOptions, type ControlArgs } from '../control-options.js';

const POLL_MS = 50;

/** Gone, or a zombie its parent has not reaped yet (it has exited either way). */
export function pidExited(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // the /proc entry vanished between the two checks
  }
}

function timeoutError(what: string, seconds: number): ControlError {
  return new ControlError('ERR_CONTROL_TIMEOUT', `${what} after ${seconds} s`, {
    hint: 'it may still be draining slow requests; pass a larger --timeout, or check its log',
  });
}

export const command: CommandModule<object, ControlArgs> = {
  command: 'stop',
  describe: 'Stop gracefully (let in-flight requests finish) and return once the master has exited',
  builder: (y: Argv) => withControlOptions(y, 60).example('$0 stop --name shop', 'stop the supervisor started with --name shop'),
  handler: (argv: ArgumentsCamelCase<ControlArgs>) =>
    runVerb(async () => {
      const timeoutS = argv.timeout ?? 60;
      const deadline = Date.now() + timeoutS * 1000;
      const path = controlPathFor(argv);
      const client = new ControlClient(path);
      await client.connect();
      let pid: number | null = null;
      try {
        pid = (await client.request<StopResponse>('stop', {}, timeoutS * 1000)).pid;
      } catch (err) {
        // Already stopping (a SIGTERM or another `stop` came first): wait for the exit all the same.
        if (!(err instanceof SupervisorError && err.code === 'ERR_STOPPING')) throw err;
      }
      // The master closes the control connection as it exits (server.close(), or the kernel at exit).
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        client.closed.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
      client.close();
      if (!closed) throw timeoutError(`the supervisor at ${path} had not stopped`, timeoutS);
      if (pid !== null) {
        while (!pidExited(pid)) {
          if (Date.now() >= deadline) throw timeoutError(`master pid ${pid} was still running`, timeoutS);
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
      }
      process.stdout.write(pid === null ? 'stopped\n' : `stopped: master pid ${pid} exited\n`);
    }),
};
