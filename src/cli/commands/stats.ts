// CONTRACT STUB: replaced by the helper that owns the 'stats' verb. Must keep exporting `command`.
import type { CommandModule } from 'yargs';

export const command: CommandModule = {
  command: 'stats',
  describe: '(stats: not built yet)',
  handler: () => {
    process.stderr.write('scgi-supervise: stats is not built yet\n');
    process.exitCode = 1;
  },
};
