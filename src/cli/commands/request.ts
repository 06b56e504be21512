// CONTRACT STUB: replaced by the helper that owns the 'request' verb. Must keep exporting `command`.
import type { CommandModule } from 'yargs';

export const command: CommandModule = {
  command: 'request',
  describe: '(request: not built yet)',
  handler: () => {
    process.stderr.write('scgi-supervise: request is not built yet\n');
    process.exitCode = 1;
  },
};
