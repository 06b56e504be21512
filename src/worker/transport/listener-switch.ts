// max-connections' stop and start of accepting (serve.ts's accept gate decides when): at the cap the worker closes
// its listening descriptor (the master's socket stays open and queues what comes), and below it again it listens on
// a copy of the socket the master sent over IPC. Copies are asked for ahead and a few kept in reserve, so a resume
// need not wait for a round trip to the master. Not when to pause (serve.ts), nor the IPC itself (main.ts).

import { isListeningCopy, type ListeningCopy, type StreamHandle } from '../../node-internals.js';
import { listenOnCopy } from './accept-handles.js';

/**
 * Copies of the listening socket held in reserve (each one descriptor). One IPC round trip to the master takes
 * longer than a small request: with one copy, hello world at a cap of 1 waited for it on every request.
 */
export const SPARE_COPIES = 4;

export interface ListenerSwitchOptions {
  /** listen(2)'s backlog for a copy (the master's, or systemd's). */
  backlog: number;
  /** Each connection accepted on a copy. */
  onHandle(handle: StreamHandle): void;
  acceptFailed(err: NodeJS.ErrnoException): void;
  /** Sends one `listener-wanted` to the master; it answers with a copy (copyArrived). */
  askMaster(): void;
  /** False once the worker drains or exits: it accepts nothing more and keeps no copy. */
  serving(): boolean;
  log: { warn(msg: string): void; error(obj: object, msg: string): void };
}

export class ListenerSwitch {
  /** The listener accepting now (the server on fd 4 at first, later a copy), or null while paused. */
  private accepting: { close(): void } | null;
  private readonly spares: ListeningCopy[] = [];
  /** Copies asked for and not yet arrived. */
  private asked = 0;
  /** Resumed with none in reserve: listen on the next copy that comes. */
  private wanted = false;

  constructor(
    first: { close(): void },
    private readonly o: ListenerSwitchOptions,
  ) {
    this.accepting = first;
  }

  /**
   * At the cap: close our listening descriptor, so queued connections wait in the kernel backlog for a worker with
   * room; ask for the copy the resume will listen on. Called inside the accept callback, which ends libuv's accept
   * loop there.
   */
  pause(): void {
    this.accepting?.close();
    this.accepting = null;
    this.wanted = false;
    this.askAhead();
  }

  resume(): void {
    if (!this.o.serving() || this.accepting !== null) return;
    const copy = this.spares.pop();
    if (copy === undefined) {
      this.wanted = true; // the copy asked for at the pause is still on its way: listen when it comes
      this.askAhead();
      return;
    }
    this.acceptOn(copy);
    this.askAhead();
  }

  /**
   * The master's answer to listener-wanted. Races: it may come after we paused again (kept in reserve), after a
   * drain began (closed: a draining worker accepts nothing), or when enough are held (closed).
   */
  copyArrived(handle: unknown): void {
    if (this.asked > 0) this.asked--;
    if (!isListeningCopy(handle)) {
      this.o.log.warn('the master sent a listener message without a socket; ignored');
      return;
    }
    if (!this.o.serving() || this.spares.length >= SPARE_COPIES) {
      handle.close();
      return;
    }
    if (this.wanted && this.accepting === null) {
      this.wanted = false;
      this.acceptOn(handle);
      this.askAhead();
      return;
    }
    this.spares.push(handle);
  }

  /** A drain: closes our descriptor and every copy held (the master's socket stays listening). */
  stop(): void {
    this.accepting?.close();
    this.accepting = null;
    for (const copy of this.spares.splice(0)) copy.close();
    this.wanted = false;
  }

  /** Asks until SPARE_COPIES are held or on their way: a resume then finds one, however soon it comes. */
  private askAhead(): void {
    while (this.spares.length + this.asked < SPARE_COPIES && this.o.serving()) {
      this.asked++;
      this.o.askMaster();
    }
  }

  private acceptOn(copy: ListeningCopy): void {
    const status = listenOnCopy(copy, this.o.backlog, (h) => this.o.onHandle(h), (err) => this.o.acceptFailed(err));
    if (status !== 0) {
      copy.close();
      this.o.log.error({ status }, 'cannot listen on the copy of the listening socket the master sent; asking for another');
      this.wanted = true;
      this.askAhead();
      return;
    }
    this.accepting = copy;
  }
}
