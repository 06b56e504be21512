// sd_notify(3) for `Type=notify` units: turns the master's milestones (master.ts MasterMilestone, after every step)
// into READY=1, STATUS=, RELOADING=1 + MONOTONIC_USEC=, STOPPING=1 and WATCHDOG=1 datagrams on NOTIFY_SOCKET, sent
// from the master's own pid (systemd's default NotifyAccess=main) by the small N-API addon native/sd_notify.c.
// Not the socket code (the addon), nor when milestones happen (master.ts, lifecycle.ts). docs/systemd.md: the why.

import { addonPath, loadAddonFunction } from './native-addon.js';
import type { MasterMilestone } from './master.js';

export type SendDatagram = (path: string, message: string) => void;

export interface NotifyLog {
  warn(msg: string): void;
  debug(msg: string): void;
}

/** build/sd_notify.node, built at install time by scripts/build-native.mjs. */
export const ADDON_PATH = addonPath('sd_notify');

/** The addon's send(), or the reason it cannot load (not built: no compiler at install time; or a foreign build). */
export function loadSender(path: string = ADDON_PATH): { send: SendDatagram } | { error: string } {
  const loaded = loadAddonFunction<SendDatagram>(path, 'send');
  return 'error' in loaded ? loaded : { send: loaded.fn };
}

export interface SdNotifierOptions {
  env: NodeJS.ProcessEnv;
  pid: number;
  log: NotifyLog;
  /** Injected for tests; default: the addon (loaded only when NOTIFY_SOCKET is set, so others pay nothing). */
  load?: () => { send: SendDatagram } | { error: string };
  /** CLOCK_MONOTONIC in microseconds (libuv's hrtime reads CLOCK_MONOTONIC, the clock systemd compares). */
  monotonicUsec?: () => bigint;
}

/**
 * Null when there is nothing to notify (no NOTIFY_SOCKET), or when the addon cannot load (one warning: the unit
 * then times out in `systemctl start`, so say how to fix it). The master runs normally either way.
 */
export function createSdNotifier(o: SdNotifierOptions): SdNotifier | null {
  const socket = o.env.NOTIFY_SOCKET;
  if (!socket) return null;
  const started = process.hrtime.bigint();
  const loaded = (o.load ?? loadSender)();
  if ('error' in loaded) {
    // tests/integration/sd-notify.test.ts relies on this line.
    o.log.warn(`NOTIFY_SOCKET is set but sd_notify is unavailable (${loaded.error}); systemd will not hear READY=1: reinstall with a C compiler (apt-get install gcc) or use Type=simple`);
    return null;
  }
  o.log.debug(`sd_notify addon loaded in ${Number(process.hrtime.bigint() - started) / 1e6} ms`);
  // WATCHDOG_PID, when set, names the process that must ping; systemd sets it to the main pid.
  const watchdogPid = o.env.WATCHDOG_PID;
  const watchdogUsec = watchdogPid && watchdogPid !== String(o.pid) ? NaN : Number(o.env.WATCHDOG_USEC);
  return new SdNotifier({
    send: (message) => loaded.send(socket, message),
    log: o.log,
    watchdogMs: Number.isFinite(watchdogUsec) && watchdogUsec > 0 ? watchdogUsec / 2000 : null,
    monotonicUsec: o.monotonicUsec ?? (() => process.hrtime.bigint() / 1000n),
  });
}

interface NotifierParts {
  send(message: string): void;
  log: NotifyLog;
  /** Half of WATCHDOG_USEC, in ms (sd_watchdog_enabled(3) advises pinging at half the interval); null: off. */
  watchdogMs: number | null;
  monotonicUsec(): bigint;
}

export class SdNotifier {
  private last: MasterMilestone | null = null;
  private readySent = false;
  private stoppingSent = false;
  /** A RELOADING=1 was sent and its READY=1 is owed. */
  private reloadOpen = false;
  private lastStatus = '';
  private timer: NodeJS.Timeout | null = null;
  private failed = false;

  constructor(private readonly p: NotifierParts) {}

  /** Called by the master after every step (MasterOptions.observe). */
  observe = (m: MasterMilestone): void => {
    const prev = this.last;
    this.last = m;
    const lines: string[] = [];
    if (m.phase === 'stopping' || m.phase === 'stopped') {
      if (!this.stoppingSent) lines.push('STOPPING=1');
      this.stoppingSent = true;
      this.stopWatchdog();
    } else if (this.readySent) {
      const requested = prev !== null && m.reloadRequests > prev.reloadRequests;
      if (m.reloading !== null && !this.reloadOpen) {
        lines.push('RELOADING=1', `MONOTONIC_USEC=${this.p.monotonicUsec()}`);
        this.reloadOpen = true;
      } else if (requested && m.reloading === null && !this.reloadOpen) {
        // Refused (or over within one step): systemd still waits for READY=1 after the RELOADING=1 it sees from
        // `systemctl reload`, so answer the pair at once; the refusal itself is in the log.
        this.send(['RELOADING=1', `MONOTONIC_USEC=${this.p.monotonicUsec()}`]);
        lines.push('READY=1');
      }
      if (m.reloading === null && this.reloadOpen) {
        lines.push('READY=1'); // completed or failed: either way the old or the new generation serves
        this.reloadOpen = false;
      }
    } else if (m.phase === 'running') {
      lines.push('READY=1');
      this.readySent = true;
      this.startWatchdog();
    }
    const status = statusLine(m);
    if (status !== this.lastStatus) lines.push(`STATUS=${status}`);
    this.lastStatus = status;
    if (lines.length > 0) this.send(lines);
  };

  close(): void {
    this.stopWatchdog();
  }

  private send(lines: string[]): void {
    try {
      this.p.send(lines.join('\n'));
      this.p.log.debug(`sd_notify: ${lines.join(' ')}`);
    } catch (err) {
      // Once: a vanished NOTIFY_SOCKET would otherwise log on every step.
      if (!this.failed) this.p.log.warn(`sd_notify failed: ${err instanceof Error ? err.message : String(err)}`);
      this.failed = true;
    }
  }

  /**
   * WATCHDOG=1 at half of WATCHDOG_USEC while the pool is healthy: the timer firing shows the master's event loop
   * runs, and at least one ready worker shows something serves. With none ready (all crashed, or a start that
   * never finishes) the pings stop and systemd restarts the unit at WatchdogSec=.
   */
  private startWatchdog(): void {
    if (this.p.watchdogMs === null || this.timer) return;
    this.timer = setInterval(() => {
      const m = this.last;
      if (m && m.ready >= 1 && (m.phase === 'running' || m.phase === 'starting')) this.send(['WATCHDOG=1']);
    }, this.p.watchdogMs);
    this.timer.unref();
  }

  private stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** "8/8 workers ready, generation 3", "7/8 workers ready, generation 3, 2 restarts", "reloading to generation 4". */
export function statusLine(m: MasterMilestone): string {
  if (m.phase === 'stopping' || m.phase === 'stopped') return 'stopping';
  let s = `${m.ready}/${m.target} workers ready, generation ${m.generation}`;
  if (m.reloading !== null) s += `, reloading to generation ${m.reloading}`;
  if (m.restarts > 0) s += `, ${m.restarts} restart${m.restarts === 1 ? '' : 's'}`;
  return s;
}
