// A reload with the config file read again, all or nothing: loadConfig with the same flags and environment (which
// still win over the file), then either a ControlError ERR_RELOAD_REFUSED naming the keys (the file is invalid, or
// changes what only a restart applies: the socket, the control path, the master's log format) or the Master's
// rolling reload with the new Config. Not the rollout (master/lifecycle.ts) nor the option list (config/schema.ts).

import type { Config } from '../config/config.js';
import { ControlError, SupervisorError } from '../errors.js';
import type { ReloadResult, ScaleResult } from '../stats-contract.js';

/** Config fields → option names that a running supervisor cannot change: they need a new socket or a new master. */
const RESTART_ONLY: ReadonlyArray<[keyof Config, string]> = [
  ['listen', 'listen'],
  ['socketMode', 'socket-mode'],
  ['socketGroup', 'socket-group'],
  ['backlog', 'backlog'],
  ['name', 'name'],
  ['control', 'control'],
  ['controlGroup', 'control-group'],
  ['metricsListen', 'metrics-listen'],
  ['logFormat', 'log-format'],
];

export interface ReloadTarget {
  reload(config?: Config): Promise<ReloadResult>;
  scale(workers: number): Promise<ScaleResult>;
  /** Told of a reload refused here, before the master saw it (systemd still gets RELOADING=1 then READY=1). */
  reloadRefused?(): void;
}

export interface ConfigReloaderOptions {
  /** The config `start` began with. */
  initial: Config;
  /** Reads the file again with the start's flags and environment; throws a ConfigError. */
  load(): Config;
  target: ReloadTarget;
  /** Told the config the next generation starts with, before the reload begins (worker launch options). */
  willApply(next: Config): void;
  /** Told the reload failed after willApply: the previous config serves again. */
  reverted(previous: Config): void;
  warn(msg: string): void;
}

/** The option names whose values differ between two configs, of those only a restart can change. */
export function restartOnlyChanges(from: Config, to: Config): string[] {
  const changed: string[] = [];
  for (const [field, option] of RESTART_ONLY) {
    const a = shown(from[field]);
    const b = shown(to[field]);
    if (a !== b) changed.push(option);
  }
  return changed;
}

/** Addresses are objects: compare what they say. */
function shown(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : value;
}

export class ConfigReloader {
  /** What the last applied read of the file (and flags, environment) said, workers included. */
  private lastRead: Config;
  /** What the master runs with now (its workers: what the config said, not a later runtime scale). */
  private inEffect: Config;
  /** One at a time: a second reload must not swap the launch options under the first. */
  private running = false;

  constructor(private readonly o: ConfigReloaderOptions) {
    this.lastRead = o.initial;
    this.inEffect = o.initial;
  }

  async reload(): Promise<ReloadResult> {
    if (this.running) {
      this.o.target.reloadRefused?.();
      throw new ControlError('ERR_RELOAD_IN_PROGRESS', 'a reload is already running', { hint: 'wait for it to finish; reloads are never interleaved' });
    }
    this.running = true;
    try {
      return await this.reloadOnce();
    } finally {
      this.running = false;
    }
  }

  private async reloadOnce(): Promise<ReloadResult> {
    let read: Config;
    try {
      read = this.o.load();
    } catch (err) {
      const key = (err as { key?: string }).key;
      throw this.refuse(
        `the config is invalid${key ? ` (${key})` : ''}: ${err instanceof Error ? err.message : String(err)}`,
        err instanceof SupervisorError && err.hint ? err.hint : 'fix the file, then reload again',
        err,
      );
    }
    const keys = restartOnlyChanges(this.inEffect, read);
    if (keys.length > 0) {
      throw this.refuse(
        `the config changes ${keys.join(', ')}, which only a restart applies`,
        `restart the supervisor to apply ${keys.join(', ')}, or put the old value${keys.length > 1 ? 's' : ''} back and reload`,
      );
    }
    // `workers:` applies only when the config's own value changed since it was last read: a runtime `scale`
    // (or TTIN/TTOU) stands otherwise. Flags and environment win over the file, so a flag's value never "changes".
    const scaleTo = read.workers !== this.lastRead.workers ? read.workers : null;
    const next: Config = Object.freeze({ ...read, workers: scaleTo ?? this.inEffect.workers });
    const previous = this.inEffect;
    this.o.willApply(next);
    let result: ReloadResult;
    try {
      result = await this.o.target.reload(next);
    } catch (err) {
      this.o.reverted(previous);
      throw err;
    }
    this.lastRead = read;
    this.inEffect = next;
    if (scaleTo === null) return result;
    const scaled = await this.o.target.scale(scaleTo);
    return { ...result, workers: scaled.to };
  }

  private refuse(message: string, hint: string, cause?: unknown): ControlError {
    const err = new ControlError('ERR_RELOAD_REFUSED', message, { hint: `${hint}; the running generation keeps serving`, cause });
    this.o.warn(`reload refused: ${err.message}; the running generation keeps serving`); // stable line: tests grep it
    this.o.target.reloadRefused?.();
    return err;
  }
}
