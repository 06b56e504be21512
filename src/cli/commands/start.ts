// `scgi-supervise start <app>`: loads the config, binds the socket (master/listener.ts), runs the Master and the
// ControlServer beside it, wires signals into the master's queue, and is the only place that exits the master
// process. Not the supervision itself (master/), nor the control protocol (control/).

import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig, type ConfigInput } from '../../config/load.js';
import type { Config } from '../../config/config.js';
import { resolveControlPath } from '../../control/paths.js';
import { ControlServer } from '../../control/server.js';
import { startMetricsServer, type MetricsServer } from '../../control/metrics-server.js';
import { listenQueueReader } from '../../master/listen-queue.js';
import { controlGroupId } from '../../control/socket-file.js';
import { ConfigError, SupervisorError } from '../../errors.js';
import { createLogger, type Logger } from '../../log.js';
import { openListener, type Listener } from '../../master/listener.js';
import { Master } from '../../master/master.js';
import { createSdNotifier } from '../../master/sd-notify.js';
import { installSignalHandlers, type SignalEvent } from '../../master/signals.js';
import { createSpawnWorker, hasSetpriv, lookupAccount, testAs, WORKER_MAIN, type SpawnWorker } from '../../master/spawn-worker.js';
import { checkWorkerAccess, resolveWorkerIdentity, type WorkerIdentity } from '../../master/worker-identity.js';
import type { ControlTarget } from '../../control/target.js';
import { ConfigReloader } from '../config-reload.js';
import { checkPidFile, removePidFile, writePidFile } from '../pid-file.js';
import { WorkerOutput, type LineSink } from '../../master/worker-output.js';
import { EXIT_FAILURE, EXIT_USAGE, formatError, printError } from '../format.js';

export type StartArgs = ConfigInput & { pidFile?: string };

export const command: CommandModule<object, StartArgs> = {
  command: 'start [app]',
  describe: 'Run <app> (a (req, res) handler or an object with fetch) in N pre-forked SCGI workers on one socket',
  builder: (y: Argv) =>
    startOptions(y)
      .example('$0 start app.js -w 8 --listen 127.0.0.1:4000', 'nginx: scgi_pass 127.0.0.1:4000; include scgi_params;')
      .example('$0 start app.js -l unix:/run/app.sock --socket-mode 0660 --socket-group www-data', 'a unix socket for the web server group')
      .example('$0 start examples/hello.js -w 2', 'the bundled example; then: scgi-supervise request /')
      .example('$0 start --config supervisor.yaml', 'options (the app too) from a YAML file')
      .example('$0 start app.js -l unix:/run/app/scgi.sock --user app --socket-group www-data --socket-mode 0660', 'started as root: workers run as app') as unknown as Argv<StartArgs>,
  handler: async (argv: ArgumentsCamelCase<StartArgs>) => {
    const code = await runStart(argv);
    // Routed worker output and the master's lines may still be queued behind a slow reader (journald, a pipe).
    await flushed([process.stdout, process.stderr], FLUSH_AT_EXIT_MS);
    process.exit(code); // the only exit of the master process
  },
};

/** start's options; `check` takes the same ones. */
export function startOptions(y: Argv): Argv {
  return (
    // No yargs defaults here: config/load.ts layers defaults < YAML < environment < flags, and a yargs default
    // would always win over the YAML file. The defaults are named in the descriptions.
    y
      .positional('app', { type: 'string', describe: 'Your app module (CJS or ESM), unchanged; or app: in --config, or SCGI_SUPERVISE_APP' })
      .option('workers', { alias: 'w', type: 'string', describe: 'Worker processes (default: one per CPU, "auto")' })
      .option('listen', { alias: 'l', type: 'string', describe: 'HOST:PORT, [IPv6]:PORT, unix:PATH or fd:N (default 127.0.0.1:4000)' })
      .option('socket-mode', { type: 'string', describe: 'unix: socket file mode, octal (default 0666; 0660 with --socket-group)' })
      .option('socket-group', { type: 'string', describe: 'unix: socket group (the front end user must be in it)' })
      .option('backlog', { type: 'number', describe: 'listen() backlog (default 511)' })
      .option('graceful-timeout', { type: 'number', describe: 'Seconds a draining worker may finish in-flight requests (default 30)' })
      .option('boot-timeout', { type: 'number', describe: 'Seconds a new worker may take to load the app and accept (default 30)' })
      .option('worker-timeout', { type: 'number', describe: 'Seconds a worker\'s event loop may stay blocked before it is killed and replaced (default 30, 0 = off)' })
      .option('reload-surge', { type: 'number', describe: 'New workers a reload may start at once (default 1)' })
      .option('name', { type: 'string', describe: 'Instance name: keys the control socket path' })
      .option('control', { type: 'string', describe: 'Control socket path (default derived from --name or --listen)' })
      .option('control-group', { type: 'string', describe: 'Group (name or gid) whose members may run reload, stats, scale, stop (socket 0660)' })
      .option('config', { type: 'string', describe: 'YAML config file (flags win over it)' })
      .option('log-level', { type: 'string', describe: 'trace, debug, info, warn, error (default info)' })
      .option('log-format', { type: 'string', describe: 'text or json (default text)' })
      .option('max-header-bytes', { type: 'number', describe: 'Largest SCGI header block (default 65536; 431 above)' })
      .option('max-body-bytes', { type: 'number', describe: 'Largest request body (default 1 GiB; 413 above)' })
      .option('header-timeout', { type: 'number', describe: 'Seconds to receive the whole header block (default 10)' })
      .option('body-timeout', { type: 'number', describe: 'Seconds of silence allowed while reading a body (default 30)' })
      .option('send-timeout', { type: 'number', describe: 'Seconds a response may wait on a front end that reads none of it (default 60)' })
      .option('strict', { type: 'boolean', describe: 'Reject a missing SCGI=1 and every duplicate header name' })
      .option('stats-interval', { type: 'number', describe: 'Seconds between workers\' reports and the CPU/memory/listen-queue sample (default 1)' })
      .option('metrics-listen', { type: 'string', describe: 'Serve Prometheus GET /metrics on HOST:PORT, :PORT (loopback) or unix:PATH (default off)' })
      .option('user', { type: 'string', describe: 'Run the workers as this user (name or uid), with its groups; the master stays root' })
      .option('group', { type: 'string', describe: "Run the workers with this group (name or gid; default the user's)" })
      .option('chdir', { type: 'string', describe: 'Folder the workers start in (default the current one)' })
      .option('env', { type: 'string', array: true, describe: 'KEY=VALUE added to the workers\' environment; repeat for several' })
      .option('node-args', {
        type: 'string',
        describe: 'Node flags for the workers, replacing the master\'s: --node-args="--max-old-space-size=512" (with =)',
      })
      .option('request-timeout', { type: 'number', describe: 'Seconds a request may take, handler start to response end; then 504 or a reset (default 30; 0: none)' })
      .option('max-connections', { type: 'number', describe: 'Requests one worker handles at once before it stops accepting (default 0: no cap; 1 for CPU-bound apps)' })
      .option('max-requests', { type: 'number', describe: 'Requests a worker serves before it is replaced (default 0: never)' })
      .option('max-requests-jitter', { type: 'number', describe: 'Up to this many requests added to max-requests, drawn per worker (default 0)' })
      .option('max-memory', { type: 'number', describe: 'MiB of resident memory above which a worker is replaced; killed at twice it (default 0: no limit)' })
      .option('max-lifetime', { type: 'number', describe: 'Seconds a worker lives before it is replaced (default 0: no limit)' })
      .option('recycle-surge', { type: 'number', describe: 'Slots recycled at once; each replacement is ready before its old worker drains (default 1)' })
      .option('pid-file', { type: 'string', describe: 'Write the master\'s pid here once bound; removed at exit (init systems other than systemd)' })
  );
}

async function runStart(argv: ArgumentsCamelCase<StartArgs>): Promise<number> {
  // Signals are caught from the first moment (loading modules and binding take a while on a busy machine) and
  // held until the master exists: a TERM during start-up is a clean stop, not a death by default action.
  let deliver: ((event: SignalEvent) => void) | null = null;
  const early: SignalEvent[] = [];
  const removeSignals = installSignalHandlers((event) => (deliver ? deliver(event) : early.push(event)));
  try {
    return await run(argv, (target) => {
      deliver = target;
      for (const event of early.splice(0)) target(event);
    });
  } finally {
    removeSignals();
  }
}

async function run(argv: ArgumentsCamelCase<StartArgs>, connectSignals: (deliver: (event: SignalEvent) => void) => void): Promise<number> {
  let config: Config;
  let controlPath: string;
  let identity: WorkerIdentity | null;
  let controlGroup: number | null;
  try {
    config = loadConfig(pickInput(argv));
    controlPath = resolveControlPath({ control: config.control, name: config.name, listen: config.listen });
    identity = resolveIdentity(config);
    checkWorkerAccess(identity, { app: config.app, chdir: config.chdir, workerMain: WORKER_MAIN }, testAs);
    controlGroup = config.controlGroup === null ? null : controlGroupId(config.controlGroup);
    if (controlGroup === null && config.controlGroup !== null) {
      throw new ConfigError('control-group', `unknown group ${JSON.stringify(config.controlGroup)} for --control-group`, {
        hint: 'give a group from /etc/group or a numeric gid (groups from LDAP/NSS: use the gid)',
      });
    }
    if (argv.pidFile !== undefined) checkPidFile(argv.pidFile);
  } catch (err) {
    printError(err);
    return err instanceof SupervisorError && err.code.startsWith('ERR_CONFIG') ? EXIT_USAGE : EXIT_FAILURE;
  }
  // One writer per output descriptor for the master's lines and the workers' (worker-output.ts): a line is never
  // cut by another, even when the reader is slow and a write goes out in pieces.
  const stdout = lineSink(process.stdout);
  const stderr = lineSink(process.stderr);
  const log = createLogger({ name: 'master', level: config.logLevel, format: config.logFormat, write: (line) => stderr.write(line) });
  // From here on, with --log-format json even a fatal error is a JSON record (the same text as its msg).
  const fail = (err: unknown): void =>
    config.logFormat === 'json' ? log.fatal(err instanceof SupervisorError ? { code: err.code } : {}, formatError(err)) : printError(err);
  if (process.pid === 1) {
    // As a container's first process we reap our own workers, but Node cannot wait for descendants it did not
    // spawn (an app's own children, orphaned to us): they would stay zombies. docs/containers.md: run with an init.
    log.warn('running as PID 1: orphaned descendants of the app cannot be reaped here; run under an init (docker run --init, tini, dumb-init)');
  }
  const output = new WorkerOutput({ format: config.logFormat, stdout, stderr });
  const launchFor = (c: Config, id: WorkerIdentity | null) =>
    createSpawnWorker({ identity: id, chdir: c.chdir, env: c.env, nodeArgs: c.nodeArgs, output });
  // A reload with a re-read config swaps this before its first new worker starts (cli/config-reload.ts).
  let launch = launchFor(config, identity);
  const spawnWorker: SpawnWorker = (options, fd) => launch(options, fd);

  let listener: Listener;
  try {
    listener = await openListener(config);
  } catch (err) {
    fail(err);
    return EXIT_FAILURE;
  }
  if (config.listen.kind === 'fd') {
    // The inherited socket keeps its own backlog (systemd's Backlog=): workers re-listen with it, not with ours.
    if (listener.backlog !== undefined) config = Object.freeze({ ...config, backlog: listener.backlog });
    else log.warn(`cannot read the backlog of ${listener.address} (is ss installed?); workers re-listen it with --backlog ${config.backlog}`);
  }

  const pidFile = argv.pidFile;
  if (pidFile !== undefined) {
    try {
      writePidFile(pidFile); // after the bind: an init system that sees the pid may send requests
    } catch (err) {
      listener.close();
      fail(err);
      return EXIT_FAILURE;
    }
  }
  // sd_notify for Type=notify units (null without NOTIFY_SOCKET, or with a warning when the addon cannot load).
  const notifier = createSdNotifier({ env: process.env, pid: process.pid, log: { warn: (m) => log.warn(m), debug: (m) => log.debug(m) } });
  const master = new Master({
    config,
    listener,
    spawnWorker,
    log: masterLog(log),
    version: packageVersion(),
    readListenQueue: listenQueueReader(listener.fd, config.listen.kind, config.backlog),
    ...(notifier ? { observe: notifier.observe } : {}),
  });
  const input = pickInput(argv);
  const inherited = config.listen.kind === 'fd' ? config.backlog : null;
  const reloader = new ConfigReloader({
    initial: config,
    load: () => {
      const next = loadConfig(input);
      resolveIdentity(next); // a user that no longer exists refuses the reload, like any invalid key
      // An inherited socket keeps the backlog read from it at start (above), not the config's.
      return inherited === null || next.listen.kind !== 'fd' ? next : Object.freeze({ ...next, backlog: inherited });
    },
    target: master,
    willApply: (next) => (launch = launchFor(next, resolveIdentity(next))),
    reverted: (previous) => (launch = launchFor(previous, resolveIdentity(previous))),
    warn: (msg) => log.warn(msg),
  });
  // SIGHUP and the control command both reload through the reloader: the file is read again either way.
  const target: ControlTarget = {
    reload: () => reloader.reload(),
    stats: () => master.stats(),
    metrics: () => master.metrics(),
    scale: (workers) => master.scale(workers),
    stop: () => master.stop(),
  };
  const control = new ControlServer(target, { path: controlPath, log, group: controlGroup });
  let metrics: MetricsServer | null = null;
  try {
    await control.listen();
    if (config.metricsListen !== null) {
      const at = config.metricsListen;
      if (at.kind === 'fd') throw new Error('unreachable: config/load.ts refuses fd: for metrics-listen');
      metrics = await startMetricsServer(master, at, log);
      // test/integration/metrics*.test.ts reads the address (port 0 → the real port) from this line.
      log.info(`metrics on http://${metrics.address.startsWith('unix:') ? `${metrics.address} ` : metrics.address}/metrics`);
    }
  } catch (err) {
    listener.close();
    await control.close().catch(() => undefined);
    fail(err);
    return EXIT_FAILURE;
  }
  master.start().then(
    () => log.info(`try: ${cliName()} request --listen ${listener.address} /`),
    (err: unknown) => {
      // A stop during start is not an error; an app that cannot load is (its stack was logged by the master).
      if (err instanceof SupervisorError && err.code === 'ERR_STOPPING') return;
      fail(err);
    },
  );

  connectSignals((event) => {
    // A refused or failed reload was logged where it was decided; a signal has no one else to answer.
    if (event.type === 'reload') reloader.reload().catch(() => undefined);
    else master.enqueue(event);
  });

  const code = await master.done;
  notifier?.close();
  await metrics?.close();
  await control.close().catch((err: unknown) => log.warn({ err }, 'closing the control socket failed'));
  // The workers have exited; what they wrote last may still be in their pipes.
  await output.closed(OUTPUT_CLOSE_WAIT_MS);
  if (pidFile !== undefined) removePidFile(pidFile);
  return code;
}

export function resolveIdentity(config: Config): WorkerIdentity | null {
  return resolveWorkerIdentity(config, lookupAccount, { uid: process.getuid!(), gid: process.getgid!() }, hasSetpriv);
}

/** yargs gives both spellings (socket-mode and socketMode); hand config/load.ts only the camelCase flags given. */
export function pickInput(argv: ArgumentsCamelCase<StartArgs>): ConfigInput {
  const keys: (keyof ConfigInput)[] = [
    'app', 'config', 'workers', 'listen', 'socketMode', 'socketGroup', 'backlog', 'gracefulTimeout', 'bootTimeout', 'workerTimeout',
    'reloadSurge', 'name', 'control', 'controlGroup', 'logLevel', 'logFormat', 'maxHeaderBytes', 'maxBodyBytes', 'headerTimeout',
    'bodyTimeout', 'sendTimeout', 'strict', 'user', 'group', 'chdir', 'env', 'nodeArgs', 'statsInterval', 'metricsListen', 'requestTimeout', 'maxConnections',
    'maxRequests', 'maxRequestsJitter', 'maxMemory', 'maxLifetime', 'recycleSurge',
  ];
  const input: Record<string, unknown> = {};
  for (const key of keys) if (argv[key] !== undefined) input[key] = argv[key];
  return input as ConfigInput;
}

const FLUSH_AT_EXIT_MS = 2000;
const OUTPUT_CLOSE_WAIT_MS = 1000;

function lineSink(stream: NodeJS.WriteStream): LineSink {
  // EPIPE (a closed reader: `| head`, a stopped collector) must not kill the master; what it prints is lost then.
  stream.on('error', () => undefined);
  return {
    write: (text) => stream.write(text),
    onceDrain: (listener) => stream.once('drain', listener),
  };
}

/** Resolves when nothing is left queued on the streams, or after `timeoutMs`. */
function flushed(streams: NodeJS.WriteStream[], timeoutMs: number): Promise<void> {
  const pending = streams.filter((s) => s.writableLength > 0 && !s.destroyed);
  if (pending.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    let left = pending.length;
    for (const s of pending) {
      const done = () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      s.write('', done); // the callback runs once everything queued before it is written
    }
  });
}

function masterLog(log: Logger) {
  return {
    debug: (msg: string) => log.debug(msg),
    info: (msg: string) => log.info(msg),
    warn: (msg: string) => log.warn(msg),
    error: (obj: object | string, msg?: string) => (typeof obj === 'string' ? log.error(obj) : log.error(obj, msg)),
  };
}

/** `scgi-supervise` when run through the installed bin, else `node dist/src/cli/main.js` (e.g. `npm start`). */
function cliName(): string {
  const script = process.argv[1] ?? '';
  if (basename(script) === 'scgi-supervise' || script.includes('node_modules')) return 'scgi-supervise';
  const rel = relative(process.cwd(), script);
  return `node ${rel.startsWith('..') ? script : rel}`;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
