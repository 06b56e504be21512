// Rate limit for warnings that hostile or broken peers can trigger at will (protocol errors, truncated
// responses): at most `burst` lines per window, then one summary line of how many were dropped.
// Not a general logger: serve.ts decides what to log; this only decides whether to.

import type { Logger } from '../../log.js';

export class WarnLimiter {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly burst = 20,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) {
        this.log.warn({ suppressed: this.suppressed }, `suppressed ${this.suppressed} similar warnings`);
      }
      this.windowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged < this.burst) {
      this.logged++;
      this.log.warn(fields, msg);
    } else {
      this.suppressed++;
    }
  }
}

/** Printable ASCII as is, everything else `\xNN`: the first bytes of a bad request, safe for a log line. */
export function hexEscape(bytes: Uint8Array, max = 64): string {
  let out = '';
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}
