// `scgi-supervise scale N`: a thin wrapper over the control command (control/commands/scale.ts). Exits 0 once the
// pool has N workers, printing `scaled: FROM -> TO workers`.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { controlRequest } from '../../control/client.js';
import type { ScaleResponse } from '../../control/commands/scale.js';
import { controlPathFor, runVerb, withControlOptions, type ControlArgs } from '../control-options.js';

type ScaleArgs = ControlArgs & { workers: number };

export const command: CommandModule<object, ScaleArgs> = {
  command: 'scale <workers>',
  describe: 'Change the number of workers at runtime (added or drained one at a time)',
  builder: (y: Argv) =>
    withControlOptions(y, 300)
      .positional('workers', { type: 'number', demandOption: true, describe: 'The new worker count' })
      .example('$0 scale 12', 'run 12 workers') as unknown as Argv<ScaleArgs>,
  handler: (argv: ArgumentsCamelCase<ScaleArgs>) =>
    runVerb(async () => {
      const path = controlPathFor(argv);
      // The count is checked by the server (control/commands/scale.ts), one place for the rule.
      const result = await controlRequest<ScaleResponse>(path, 'scale', { workers: argv.workers }, (argv.timeout ?? 300) * 1000);
      process.stdout.write(`scaled: ${result.from} -> ${result.to} workers\n`);
    }),
};
