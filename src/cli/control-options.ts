// What the control verbs (reload, stats, scale, stop) share: the options that find the control socket the same way
// `start` does, and the mapping from errors to exit codes. Not the socket client (control/client.ts).

import type { Argv } from 'yargs';
import { resolve, isAbsolute } from 'node:path';
import { resolveControlPath } from '../control/paths.js';
import { parseListenAddress } from '../config/listen-address.js';
import { readYamlConfig } from '../config/yaml-file.js';
import { DEFAULTS } from '../config/defaults.js';
import { SupervisorError } from '../errors.js';
import { EXIT_BUSY, EXIT_FAILURE, EXIT_NOT_RUNNING, EXIT_REFUSED, EXIT_USAGE, printError } from './format.js';

export interface ControlArgs {
  control?: string;
  name?: string;
  listen?: string;
  config?: string;
  timeout?: number;
}

export function withControlOptions<T>(yargs: Argv<T>, defaultTimeoutS: number): Argv<T & ControlArgs> {
  return yargs
    .option('control', {
      type: 'string',
      describe: 'Control socket path (default: derived from --name or --listen, as `start` does)',
    })
    .option('name', { type: 'string', describe: 'Instance name given to `start --name`' })
    .option('listen', { alias: 'l', type: 'string', describe: 'Listen address given to `start` (derives the control path)' })
    .option('config', { type: 'string', describe: 'The YAML config file given to `start` (reads listen/name/control)' })
    .option('timeout', {
      type: 'number',
      default: defaultTimeoutS,
      describe: 'Seconds to wait for the supervisor before giving up',
    }) as Argv<T & ControlArgs>;
}

/**
 * The control path `start` would use given the same options: flags, then SCGI_SUPERVISE_* environment, then the
 * YAML file, then the defaults (the precedence of config/load.ts, restricted to listen, name and control).
 */
export function controlPathFor(args: ControlArgs, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const configFile = args.config ?? (env.SCGI_SUPERVISE_CONFIG || undefined);
  const file = configFile === undefined ? null : readYamlConfig(resolve(cwd, configFile));
  const fromFile = (key: string): string | undefined => {
    const v = file?.values[key];
    if (typeof v === 'number') return String(v); // `listen: 4000` in YAML is a number
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const pick = (flag: string | undefined, envName: string, key: string): { value: string; base: string } | null => {
    if (flag) return { value: flag, base: cwd };
    const e = env[envName];
    if (e) return { value: e, base: cwd };
    const f = fromFile(key);
    // Relative paths in the file are relative to the file's folder, as load.ts has it.
    if (f !== undefined && file) return { value: f, base: file.dir };
    return null;
  };
  const control = pick(args.control, 'SCGI_SUPERVISE_CONTROL', 'control');
  const name = pick(args.name, 'SCGI_SUPERVISE_NAME', 'name');
  const listen = pick(args.listen, 'SCGI_SUPERVISE_LISTEN', 'listen') ?? { value: DEFAULTS.listen, base: cwd };
  return resolveControlPath({
    control: control ? (isAbsolute(control.value) ? control.value : resolve(control.base, control.value)) : null,
    name: name?.value ?? null,
    listen: parseListenAddress(listen.value, listen.base),
  });
}

/** Exit code for an error a verb ends with. Tests rely on NOT_RUNNING = 3, BUSY = 4 and REFUSED = 5 (cli/format.ts). */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof SupervisorError)) return EXIT_FAILURE;
  switch (err.code) {
    case 'ERR_CONTROL_NOT_RUNNING':
      return EXIT_NOT_RUNNING;
    case 'ERR_RELOAD_IN_PROGRESS':
      return EXIT_BUSY;
    case 'ERR_RELOAD_REFUSED':
      return EXIT_REFUSED;
    case 'ERR_CONFIG_INVALID':
    case 'ERR_CONFIG_FILE':
      return EXIT_USAGE;
    default:
      return EXIT_FAILURE;
  }
}

/** Runs a verb's body; prints any error the one way (cli/format.ts) and sets the exit code. */
export async function runVerb(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    printError(err);
    process.exitCode = exitCodeFor(err);
  }
}
