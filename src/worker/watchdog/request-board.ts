// The memory the worker's main thread shares with its watchdog thread (watchdog-thread.ts): a heartbeat the main
// thread's timer stamps, and one slot per request in flight (start time, "METHOD uri"), written on each request's
// start and end with a few stores and no message. Not the thread (watchdog-thread.ts) nor starting it (watchdog.ts).
//
//   byte 0   f64 last heartbeat (Date.now() ms, written by the main thread's timer)
//   byte 8   f64 armed: 1 once the worker serves (a slow app load is the boot timeout's business, not ours)
//   byte 16  f64 drain acknowledged: 1 once the main thread took the watchdog's "master gone" (it is not blocked)
//   byte 24  SLOTS × SLOT_BYTES: f64 start (Date.now() ms; 0 = free) | i32 text length | text "METHOD uri" (utf8, cut)
//
// Plain (non-Atomics) stores: an aligned f64 store does not tear on the CPUs Node runs on, and the reader checks the
// start time again after copying the text, so a slot reused meanwhile is skipped rather than misreported.

export const SLOTS = 64;
const SLOT_BYTES = 256;
const HEADER_BYTES = 24;
const TEXT_OFFSET = 12;
const TEXT_BYTES = SLOT_BYTES - TEXT_OFFSET;
export const BOARD_BYTES = HEADER_BYTES + SLOTS * SLOT_BYTES;

/** A request in flight as the watchdog sees it. */
export interface BoardRequest {
  method: string;
  uri: string;
  /** Seconds since the request's header block was complete, to 0.1 s. */
  ageS: number;
}

/** The main thread's side: connection/ sees it as its RequestTracker (connection.ts). */
export class RequestBoard {
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;
  private readonly bytes: Buffer;
  /** Free slot numbers, used as a stack; a request beyond SLOTS in flight is not tracked (the age of the others shows). */
  private readonly free: number[] = [];

  constructor(readonly memory: SharedArrayBuffer) {
    this.f64 = new Float64Array(memory);
    this.i32 = new Int32Array(memory);
    this.bytes = Buffer.from(memory);
    for (let s = SLOTS - 1; s >= 0; s--) this.free.push(s);
  }

  beat(now: number): void {
    this.f64[0] = now;
  }

  arm(): void {
    this.f64[1] = 1;
  }

  acknowledgeMasterGone(): void {
    this.f64[2] = 1;
  }

  /** A request started: its slot number, or -1 when every slot is taken. One Date.now(), two stores, two short copies. */
  begin(method: string, uri: string): number {
    const s = this.free.pop();
    if (s === undefined) return -1;
    const base = HEADER_BYTES + s * SLOT_BYTES;
    const text = base + TEXT_OFFSET;
    const n = this.bytes.write(method, text, 16, 'latin1');
    this.bytes[text + n] = 0x20;
    const m = this.bytes.write(uri, text + n + 1, TEXT_BYTES - n - 1, 'utf8');
    this.i32[(base + 8) >> 2] = n + 1 + m;
    this.f64[base >> 3] = Date.now(); // last: the reader takes a slot as in use once this is non-zero
    return s;
  }

  end(slot: number): void {
    this.f64[(HEADER_BYTES + slot * SLOT_BYTES) >> 3] = 0;
    this.free.push(slot);
  }
}

/** The watchdog thread's side: the last heartbeat, and the requests in flight now (oldest first). */
export function readBoard(memory: SharedArrayBuffer, now: number): { lastBeat: number; armed: boolean; acknowledged: boolean; requests: BoardRequest[] } {
  const f64 = new Float64Array(memory);
  const i32 = new Int32Array(memory);
  const bytes = Buffer.from(memory);
  const found: { start: number; text: string }[] = [];
  for (let s = 0; s < SLOTS; s++) {
    const base = HEADER_BYTES + s * SLOT_BYTES;
    const start = f64[base >> 3]!;
    if (start === 0) continue;
    const len = Math.min(Math.max(i32[(base + 8) >> 2]!, 0), TEXT_BYTES);
    const text = bytes.toString('utf8', base + TEXT_OFFSET, base + TEXT_OFFSET + len);
    if (f64[base >> 3] !== start) continue; // ended or reused while we read it
    found.push({ start, text });
  }
  found.sort((a, b) => a.start - b.start);
  const requests = found.map(({ start, text }) => {
    const space = text.indexOf(' ');
    return { method: text.slice(0, space), uri: text.slice(space + 1), ageS: Math.round((now - start) / 100) / 10 };
  });
  return { lastBeat: f64[0]!, armed: f64[1] === 1, acknowledged: f64[2] === 1, requests };
}
