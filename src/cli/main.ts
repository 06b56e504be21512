#!/usr/bin/env node
// The `scgi-supervise` executable: yargs wiring only. Each verb lives in cli/commands/<verb>.ts and exports `command`.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { command as start } from './commands/start.js';
import { command as request } from './commands/request.js';
import { command as reload } from './commands/reload.js';
import { command as stats } from './commands/stats.js';
import { command as scale } from './commands/scale.js';
import { command as stop } from './commands/stop.js';
import { EXIT_USAGE } from './format.js';

await yargs(hideBin(process.argv))
  .scriptName('scgi-supervise')
  .usage('$0 <command> [options]\n\nA supervisor for pre-forked SCGI workers behind nginx, lighttpd or Apache.')
  .command(start)
  .command(request)
  .command(reload)
  .command(stats)
  .command(scale)
  .command(stop)
  .demandCommand(1, 'Say what to do: start, request, reload, stats, scale or stop (see --help).')
  .strict()
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version()
  .wrap(Math.min(110, process.stdout.columns || 110))
  .fail((msg, err) => {
    if (err) throw err;
    process.stderr.write(`scgi-supervise: ${msg}\nRun 'scgi-supervise --help' for usage.\n`);
    process.exit(EXIT_USAGE);
  })
  .parseAsync();
