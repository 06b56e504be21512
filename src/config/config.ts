// The frozen configuration every other module reads. Built by config/load.ts from defaults, YAML, environment
// and flags (in that order of precedence, flags last); nothing outside config/ parses user input into it.

import type { ProtocolLimits, ProtocolTimeouts } from '../protocol/limits.js';

export type ListenAddress =
  | { kind: 'tcp'; host: string; port: number } // host is a literal IPv4/IPv6 address or a name; IPv6 without brackets
  | { kind: 'unix'; path: string } // absolute path
  | { kind: 'fd'; fd: number }; // an inherited, already bound socket (systemd LISTEN_FDS)

export type LogFormat = 'text' | 'json';

export interface RecyclePolicy {
  /** Requests a worker serves before it is replaced (0: no limit), plus a per-worker draw in [0, maxRequestsJitter]. */
  maxRequests: number;
  maxRequestsJitter: number;
  /** Resident set size in bytes (from --max-memory MiB); 0: no limit. Twice it: killed at that sample. */
  maxMemoryBytes: number;
  /** Age of a worker process (0: no limit). */
  maxLifetimeMs: number;
  /** Slots recycled at once (each replacement becomes ready before its old worker drains). */
  surge: number;
}

export interface Config {
  /** Absolute path of the app module. */
  app: string;
  workers: number;
  listen: ListenAddress;
  /** Unix sockets only: file mode (default 0o666, the reach of the loopback TCP default) and optional group. */
  socketMode: number;
  socketGroup: string | null;
  backlog: number;
  gracefulTimeoutMs: number;
  bootTimeoutMs: number;
  /** A ready worker whose event loop is blocked this long is killed and replaced (0 = off; src/worker/watchdog/). */
  workerTimeoutMs: number;
  /** Reload: how many new workers may start before old ones drain (1 = one slot at a time). */
  reloadSurge: number;
  /** Restart backoff for a slot that keeps crashing: min doubles up to max; reset after a worker stays up. */
  restartBackoffMinMs: number;
  restartBackoffMaxMs: number;
  statsIntervalMs: number;
  /** Where GET /metrics is served (control/metrics-server.ts), or null: off. */
  metricsListen: ListenAddress | null;
  /** Optional instance name: keys the default control socket path (control/paths.ts). */
  name: string | null;
  /** Explicit control socket path, or null for the derived default. */
  control: string | null;
  /** --control-group: a group name or gid whose members may use the control socket (0660); null = owner only (0600). */
  controlGroup: string | null;
  limits: ProtocolLimits;
  /** timeouts.requestTimeoutMs is the request timeout (0: none). */
  timeouts: ProtocolTimeouts;
  /** Requests one worker handles at once before it stops accepting (0: no cap); worker/main.ts AcceptGate. */
  maxConnections: number;
  /** Recycling limits (master/recycle.ts); 0 turns each off. */
  recycle: RecyclePolicy;
  logLevel: string;
  logFormat: LogFormat;
  /** Workers' identity (the master keeps its own): a user name or uid, a group name or gid; null = unchanged. */
  user: string | null;
  group: string | null;
  /** Absolute folder the workers start in, or null for the master's. */
  chdir: string | null;
  /** Added to the workers' environment (over the master's). */
  env: Readonly<Record<string, string>>;
  /** Node flags for the workers, replacing the master's execArgv; null = inherit the master's. */
  nodeArgs: readonly string[] | null;
}
