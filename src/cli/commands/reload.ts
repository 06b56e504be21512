// `scgi-supervise reload`: a thin wrapper over the control command (control/commands/reload.ts). Prints
// `reloaded: generation G, N workers in X.Xs` and exits 0 once the new generation serves; a failed canary prints the
// app's error and exits 1; a reload already running exits EXIT_BUSY (4). Tests grep the `reloaded:` line.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { controlRequest } from '../../control/client.js';
import type { ReloadResponse } from '../../control/commands/reload.js';
import { controlPathFor, runVerb, withControlOptions, type ControlArgs } from '../control-options.js';

export function formatReload(r: ReloadResponse): string {
  return `reloaded: generation ${r.generation}, ${r.workers} workers in ${(r.durationMs / 1000).toFixed(1)}s`;
}

export const command: CommandModule<object, ControlArgs> = {
  command: 'reload',
  describe: 'Replace every worker with one running freshly loaded app code, one at a time, with no request lost',
  builder: (y: Argv) =>
    withControlOptions(y, 600)
      .example('$0 reload', 'reload the supervisor started with the default --listen')
      .example('$0 reload -l unix:/run/shop.sock', 'reload the one started with that --listen'),
  handler: (argv: ArgumentsCamelCase<ControlArgs>) =>
    runVerb(async () => {
      const path = controlPathFor(argv);
      const result = await controlRequest<ReloadResponse>(path, 'reload', {}, (argv.timeout ?? 600) * 1000);
      process.stdout.write(formatReload(result) + '\n');
    }),
};
