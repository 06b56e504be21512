// CONTRACT STUB: replaced by the helper that owns the 'scale' verb. Must keep exporting `command`.
import type { CommandModule } from 'yargs';

export const command: CommandModule = {
  command: 'scale',
  describe: '(scale: not built yet)',
  handler: () => {
    process.stderr.write('scgi-supervise: scale is not built yet\n');
    process.exitCode = 1;
  },
};
