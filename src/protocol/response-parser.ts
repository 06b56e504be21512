// Reads a CGI-style response head back from bytes, as nginx and lighttpd do (docs/protocol.md "Front ends, in brief"): for the built-in
// client (`scgi-supervise request`), tests and benchmarks. Not used on the worker's request path; the worker only
// writes heads (response-writer.ts).
// Call parseResponseHead() again on the grown buffer until it returns a head: O(head²) at worst, heads are small.

import { ProtocolError } from './errors.js';
import { reasonPhrase } from './response-writer.js';

export interface ResponseHead {
  status: number;
  reason: string;
  /** Every header but Status, in order, names as sent, values trimmed of surrounding spaces and tabs. */
  headers: Array<[name: string, value: string]>;
  /** Index in the given bytes of the first body byte (just after the blank line). */
  bodyOffset: number;
}

/** lighttpd's limit; nginx allows only 4-8 KiB (scgi_buffer_size). */
export const DEFAULT_MAX_HEAD_BYTES = 64 * 1024;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/;
const STATUS_VALUE = /^(\d{3})(?:[ \t]+(.*))?$/;

/**
 * The head at the start of `bytes` once its blank line has arrived (LF or CRLF line ends), null while more bytes
 * are needed. The first line may be `HTTP/1.x NNN reason` (nginx and lighttpd accept it; Apache does not); else
 * `Status: NNN reason` anywhere (the first one wins, as in nginx), else 302 with a Location, else 200.
 * Throws ProtocolError ERR_SCGI_BAD_RESPONSE_HEADER on a line that is not a header, a bad Status, or a head over
 * `maxHeadBytes` — as soon as the bytes show it, without waiting for the blank line.
 */
export function parseResponseHead(bytes: Buffer, maxHeadBytes = DEFAULT_MAX_HEAD_BYTES): ResponseHead | null {
  let status = 0;
  let reason = '';
  const headers: Array<[string, string]> = [];
  let pos = 0;
  for (let lineNo = 0; ; lineNo++) {
    const lf = bytes.indexOf(0x0a, pos);
    if (lf === -1 || lf >= maxHeadBytes) {
      if (lf !== -1 || bytes.length > maxHeadBytes) throw bad(`response head is larger than ${maxHeadBytes} bytes`);
      return null;
    }
    const lineEnd = lf > pos && bytes[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = bytes.toString('latin1', pos, lineEnd);
    pos = lf + 1;
    if (line === '') break; // the blank line: the body follows
    if (lineNo === 0 && line.startsWith('HTTP/')) {
      const m = STATUS_LINE.exec(line);
      if (m === null) throw bad(`invalid status line ${JSON.stringify(line.slice(0, 80))}`);
      status = checkStatus(Number(m[1]), line);
      reason = m[2] ?? '';
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!TOKEN.test(name)) throw bad(`not a header line: ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (name.toLowerCase() === 'status') {
      const m = STATUS_VALUE.exec(value);
      if (m === null) throw bad(`invalid Status ${JSON.stringify(value.slice(0, 80))}`);
      if (status === 0) {
        status = checkStatus(Number(m[1]), value);
        reason = m[2] ?? '';
      }
      continue;
    }
    headers.push([name, value]);
  }
  if (status === 0) {
    // nginx and lighttpd: a Location without Status is a redirect.
    status = headers.some(([n]) => n.toLowerCase() === 'location') ? 302 : 200;
  }
  return { status, reason: reason === '' ? reasonPhrase(status) : reason, headers, bodyOffset: pos };
}

function checkStatus(status: number, text: string): number {
  if (status < 100 || status > 599) throw bad(`status out of range in ${JSON.stringify(text.slice(0, 80))}`);
  return status;
}

function bad(message: string): ProtocolError {
  return new ProtocolError('ERR_SCGI_BAD_RESPONSE_HEADER', null, message, {
    hint: 'the server must answer with CGI headers (`Status: 200 OK`, `Name: value` lines, a blank line, the body)',
  });
}
