#!/usr/bin/env node
// cli/ owns the command line: it composes Master and ControlServer and is the master process's only process.exit.
// The `scgi-supervise` executable: yargs wiring only. Each verb lives in cli/commands/<verb>.ts and exports `command`.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { CommandModule } from 'yargs';
import { EXIT_USAGE } from './format.js';

const VERBS = ['start', 'check', 'request', 'reload', 'stats', 'metrics', 'scale', 'stop'] as const;

// Load only the verb being run: `request` as a health check should not pay for loading the master and its libraries.
// With no verb (or --help at the top), every verb is loaded so the help lists them all.
const argv = joinFlagValues(hideBin(process.argv));
const verb = VERBS.find((v) => v === argv[0]);
const modules: Array<{ command: CommandModule }> = await Promise.all(
  (verb ? [verb] : VERBS).map((v) => import(`./commands/${v}.js`) as Promise<{ command: CommandModule }>),
);

let cli = yargs(argv);
for (const m of modules) cli = cli.command(m.command);
await cli
  .scriptName('scgi-supervise')
  .usage('$0 <command> [options]\n\nA supervisor for pre-forked SCGI workers behind nginx, lighttpd or Apache.')
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

/**
 * `--node-args "--max-old-space-size=512"`: a value that starts with `-` would be read by yargs as flags of our own
 * (and refused by strict mode), so it is glued to its option first, as `--node-args=...` would be.
 */
function joinFlagValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i] === '--node-args' && next !== undefined && next.startsWith('-')) {
      out.push(`--node-args=${next}`);
      i++;
    } else {
      out.push(args[i]!);
    }
  }
  return out;
}
