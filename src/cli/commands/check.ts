// `scgi-supervise check [app] [--config FILE] [start's options]`: validates everything `start` would, without
// starting (like `nginx -t`): the config (flags, environment, file), the workers' user and group, the control path,
// that the listen address can be bound now, and that the app loads (in a child, as a worker loads it). Prints each
// problem as `scgi-supervise: CODE: message; hint` and exits 0 (all fine), 64 (the config is invalid) or 1.

import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Config } from '../../config/config.js';
import { loadConfig } from '../../config/load.js';
import { resolveControlPath } from '../../control/paths.js';
import { prepareDirectory, removeStaleSocket } from '../../control/socket-file.js';
import { AppLoadError, ConfigError } from '../../errors.js';
import { openListener } from '../../master/listener.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, printError } from '../format.js';
import { checkPidFile } from '../pid-file.js';
import { pickInput, resolveIdentity, startOptions, type StartArgs } from './start.js';

const CHECK_APP = fileURLToPath(new URL('../check-app.js', import.meta.url));

export const command: CommandModule<object, StartArgs> = {
  command: 'check [app]',
  describe: 'Validate what start would use (config, app, listen address, control path) and exit 0 or name each problem',
  builder: (y: Argv) =>
    startOptions(y)
      .example('$0 check --config supervisor.yaml', 'before a deploy or in ExecStartPre=')
      .example('$0 check app.js -l 127.0.0.1:4000', 'is the port free, does the app load?') as unknown as Argv<StartArgs>,
  handler: async (argv: ArgumentsCamelCase<StartArgs>) => {
    process.exitCode = await runCheck(argv);
  },
};

export async function runCheck(argv: ArgumentsCamelCase<StartArgs>): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(pickInput(argv));
  } catch (err) {
    printError(err);
    return err instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
  }
  const problems: unknown[] = [];
  const attempt = async (step: () => Promise<void> | void): Promise<void> => {
    try {
      await step();
    } catch (err) {
      problems.push(err);
    }
  };
  await attempt(() => void resolveIdentity(config));
  if (argv.pidFile !== undefined) await attempt(() => checkPidFile(argv.pidFile!));
  const controlPath = resolveControlPath({ control: config.control, name: config.name, listen: config.listen });
  await attempt(async () => {
    await prepareDirectory(dirname(controlPath));
    await removeStaleSocket(controlPath); // a live supervisor there is ERR_CONTROL_BUSY
  });
  let listenAddress = '';
  await attempt(async () => {
    const listener = await openListener(config);
    listenAddress = listener.address;
    listener.close();
  });
  await attempt(() => checkApp(config));
  for (const err of problems) printError(err);
  if (problems.length > 0) {
    process.stderr.write(`check: ${problems.length} problem${problems.length > 1 ? 's' : ''}\n`);
    return EXIT_FAILURE;
  }
  // Stable line: tests and deploy scripts grep `check: ok`.
  process.stdout.write(`check: ok: app ${config.app}, ${config.workers} workers, listen ${listenAddress}, control ${controlPath}\n`);
  return EXIT_OK;
}

/** Loads the app in a child with the workers' folder, environment and node flags; bounded by the boot timeout. */
function checkApp(config: Config): Promise<void> {
  const execArgv = config.nodeArgs ?? process.execArgv.filter((a) => !/^--inspect/.test(a));
  const child = spawn(process.execPath, [...execArgv, CHECK_APP, config.app], {
    cwd: config.chdir ?? undefined,
    env: { ...process.env, ...config.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new AppLoadError('ERR_APP_BOOT_TIMEOUT', config.app, `${config.app} did not finish loading within ${config.bootTimeoutMs / 1000}s`, {
        hint: 'raise --boot-timeout, or find what the app waits for at load',
      }));
    }, config.bootTimeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      type Result = { ok: boolean; error?: { code: string; message: string; hint?: string } };
      const result = parseResult<Result>(line);
      if (code === 0 && result?.ok) return resolve();
      const e = result?.error;
      reject(
        new AppLoadError(
          (e?.code as 'ERR_APP_LOAD_FAILED' | undefined) ?? 'ERR_APP_LOAD_FAILED',
          config.app,
          e?.message ?? `loading ${config.app} exited with code ${code}`,
          { hint: e?.hint ?? 'run the app with node to see the error' },
        ),
      );
    });
  });
}


function parseResult<T>(line: string): T | null {
  try {
    return JSON.parse(line) as T;
  } catch {
    return null;
  }
}
