// CONTRACT STUB: replaced by the helper that owns the 'start' verb. Must keep exporting `command`.
import type { CommandModule } from 'yargs';

export const command: CommandModule = {
  command: 'start',
  describe: '(start: not built yet)',
  handler: () => {
    process.stderr.write('scgi-supervise: start is not built yet\n');
    process.exitCode = 1;
  },
};
