// CONTRACT STUB: replaced by the helper that owns the 'stop' verb. Must keep exporting `command`.
import type { CommandModule } from 'yargs';

export const command: CommandModule = {
  command: 'stop',
  describe: '(stop: not built yet)',
  handler: () => {
    process.stderr.write('scgi-supervise: stop is not built yet\n');
    process.exitCode = 1;
  },
};
