// CONTRACT STUB: replaced by the helper that owns the 'reload' verb. Must keep exporting `command`.
import type { CommandModule } from 'yargs';

export const command: CommandModule = {
  command: 'reload',
  describe: '(reload: not built yet)',
  handler: () => {
    process.stderr.write('scgi-supervise: reload is not built yet\n');
    process.exitCode = 1;
  },
};
