// `scgi-supervise metrics`: prints the Prometheus text exposition through the control socket, the same text that
// GET /metrics serves on --metrics-listen (for a look without an HTTP port, or for `promtool check metrics`).
// A thin wrapper over control/commands/metrics.ts.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { controlRequest } from '../../control/client.js';
import type { MetricsResponse } from '../../control/commands/metrics.js';
import { controlPathFor, runVerb, withControlOptions, type ControlArgs } from '../control-options.js';

export const command: CommandModule<object, ControlArgs> = {
  command: 'metrics',
  describe: 'Print the Prometheus metrics (the text GET /metrics serves on --metrics-listen)',
  builder: (y: Argv) =>
    withControlOptions(y, 10)
      .example('$0 metrics | promtool check metrics', 'check the exposition')
      .example('$0 metrics --name shop | grep listen_queue', 'the listen queue of the instance "shop"') as unknown as Argv<ControlArgs>,
  handler: (argv: ArgumentsCamelCase<ControlArgs>) =>
    runVerb(async () => {
      const path = controlPathFor(argv);
      const response = await controlRequest<MetricsResponse>(path, 'metrics', {}, (argv.timeout ?? 10) * 1000);
      process.stdout.write(response.text);
    }),
};
