// Bytes from one worker stream (its stdout, stderr or log pipe) in, whole lines out: the remainder of a chunk waits
// for the next one, and a line longer than `maxLineBytes` comes out in parts cut on a UTF-8 boundary. No I/O here:
// worker-output.ts reads the pipes and formats what this emits.

/** `part` counts from 1 for a line cut into parts (0: a whole line); `more` is true on every part but the last. */
export type LineListener = (line: string, part: number, more: boolean) => void;

/** The documented limit: docs/configuration.md "Logs" (a longer line is split into marked parts). */
export const MAX_LINE_BYTES = 64 * 1024;

const NL = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private pending: Buffer | null = null;
  /** Parts of the current line already emitted (it was longer than the limit). */
  private parts = 0;

  constructor(
    private readonly emit: LineListener,
    private readonly maxLineBytes: number = MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NL, start);
      if (nl === -1) break;
      if (nl - start > this.maxLineBytes) {
        start = this.cut(buf, start);
        continue;
      }
      this.line(buf, start, nl, false);
      start = nl + 1;
    }
    while (buf.length - start > this.maxLineBytes) start = this.cut(buf, start);
    if (start < buf.length) this.pending = buf.subarray(start);
  }

  /** The stream ended: a last line without its newline still comes out. */
  end(): void {
    const rest = this.pending;
    this.pending = null;
    if (rest !== null && rest.length > 0) this.line(rest, 0, rest.length, false);
    else if (this.parts > 0) this.emit('', this.parts + 1, false); // close a split line whose tail never came
    this.parts = 0;
  }

  private line(buf: Buffer, start: number, end: number, more: boolean): void {
    let stop = end;
    if (!more && stop > start && buf[stop - 1] === CR) stop--; // CRLF from an app written for Windows
    const part = more || this.parts > 0 ? ++this.parts : 0;
    this.emit(buf.toString('utf8', start, stop), part, more);
    if (!more) this.parts = 0;
  }

  /** Emits maxLineBytes (less a split UTF-8 sequence) from `start` as one part; returns where the rest begins. */
  private cut(buf: Buffer, start: number): number {
    let end = start + this.maxLineBytes;
    // Step back over continuation bytes (10xxxxxx) so a character is never cut in two.
    let back = 0;
    while (back < 3 && end - back > start && (buf[end - back]! & 0xc0) === 0x80) back++;
    if ((back < 3 || (buf[end - back]! & 0xc0) !== 0x80) && end - back > start) end -= back; // else not UTF-8: cut anyway
    this.line(buf, start, end, true);
    return end;
  }
}
