// The inside of the SCGI header netstring: `name NUL value NUL ...` → a params object with nothing inherited, enforcing the
// block-level rules of docs/protocol.md B (cases 8, 9, 15, 16, 20) and maxHeaderCount. Also the decimal reader for
// CONTENT_LENGTH (cases 17-18). Not the framing (length, comma, body: request-parser.ts) nor the meaning of the
// values (SCGI, REQUEST_METHOD, 413: request-parser.ts).

import { ProtocolError } from './errors.js';

// Node's Buffer has this fast, unchecked latin1 decoder (toString('latin1', a, b) wraps it); @types/node omits it.
interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
}

/** Significant digits of a CONTENT_LENGTH that still fit a safe integer without care (case 18). */
const MAX_BODY_DIGITS = 15;

/**
 * Decodes buf[start, stop) (names and values as latin1, byte-exact: case 22) into params in arrival order, or returns
 * the ProtocolError to report. Duplicate HTTP_* names are merged (HTTP_COOKIE with "; ", others with ", "),
 * other duplicates are refused, and in strict mode every duplicate is (case 20). CONTENT_LENGTH must be present and
 * first (cases 15-16); its value is checked by the caller.
 */
/**
 * The params object: nothing inherited (its prototype is an empty null-prototype object, so `__proto__`,
 * `constructor` or `toString` from a front end are plain own keys), yet created by a constructor, so V8 keeps it
 * in fast mode; an `Object.create(null)` object is a slow dictionary, measured ~5 k instructions more per request
 * in parsing and in every `for…in` over it (docs/benchmarks.md).
 */
const Params = function Params(this: Record<string, string>) {} as unknown as new () => Record<string, string>;
Params.prototype = Object.create(null) as Record<string, string>;

/**
 * The names of the last block accepted, in order. A front end sends the same names in the same order on every
 * request, so each name is first compared in place with the last block's name at that position: no new string, and
 * the key is one V8 has already internalized, so the property stores skip the string-table lookup a fresh slice
 * needs (bench/instructions.ts). A block that differs is cut as usual and becomes the new reference.
 */
let lastNames: string[] = [];
/** lastNames has no name twice (Object.keys of a block whose names were all distinct). */
let lastNamesDistinct = true;
const MAX_REMEMBERED_NAMES = 128;

export function parseHeaderBlock(
  buf: Buffer,
  start: number,
  stop: number,
  maxHeaderCount: number,
  strict: boolean,
): Record<string, string> | ProtocolError {
  if (buf[stop - 1] !== 0) return bad('ERR_SCGI_BAD_HEADER', 'header block does not end with a NUL byte');
  // One C++ call decodes the whole block; the pairs are then cut with string indexOf/slice, which stay inside the
  // JS engine: measured ~2x cheaper than a Buffer#indexOf and a latin1Slice per string (bench/parser-micro.ts).
  const text = (buf as Latin1Buffer).latin1Slice(start, stop);
  const len = text.length;
  const params = new Params();
  const expected = lastNames;
  let names: string[] | null = null; // this block's names, once it differs from the last one's
  let pos = 0;
  let count = 0;
  let clFirst = false;
  while (pos < len) {
    let name = expected[count];
    let nameEnd: number;
    if (name !== undefined && text.startsWith(name, pos) && text.charCodeAt(pos + name.length) === 0) {
      nameEnd = pos + name.length; // the same name as the last block's at this place
    } else {
      nameEnd = text.indexOf('\0', pos);
      // "name ::= notnull+" (case 9)
      if (nameEnd === pos) return bad('ERR_SCGI_BAD_HEADER', `empty parameter name at byte ${pos} of the header block`);
      name = text.slice(pos, nameEnd);
      if (names === null) names = expected.slice(0, count);
    }
    if (names !== null && count < MAX_REMEMBERED_NAMES) names.push(name);
    const valueStart = nameEnd + 1;
    // The block ends in NUL, so a name that ends the block has no value: an odd number of strings (case 8).
    if (valueStart === len) return bad('ERR_SCGI_BAD_HEADER', 'header block has a name without a value');
    const valueEnd = text.indexOf('\0', valueStart);
    const value = text.slice(valueStart, valueEnd);
    pos = valueEnd + 1;
    if (count === 0) clFirst = name === 'CONTENT_LENGTH';
    if (++count > maxHeaderCount) {
      return new ProtocolError('ERR_SCGI_TOO_MANY_HEADERS', 431, `header block has more than ${maxHeaderCount} parameters`, {
        hint: 'raise maxHeaderCount if the front end legitimately sends that many',
      });
    }
    // While every name so far is the last block's name at its place, and that block had no repeated name, this name
    // cannot repeat an earlier one: the lookup is only needed once the block differs.
    const previous = names === null && lastNamesDistinct ? undefined : params[name];
    if (previous === undefined) {
      params[name] = value;
    } else if (!strict && name.startsWith('HTTP_')) {
      // "Duplicate names are not allowed", but nginx < 1.23 and lighttpd < 1.4.83 send them (case 20).
      params[name] = previous + (name === 'HTTP_COOKIE' ? '; ' : ', ') + value;
    } else {
      // A repeated CONTENT_LENGTH, REQUEST_METHOD, SCGI...: a framing or smuggling attempt.
      return bad('ERR_SCGI_DUPLICATE_HEADER', `duplicate parameter ${name}`);
    }
  }
  if (params.CONTENT_LENGTH === undefined) {
    return new ProtocolError('ERR_SCGI_MISSING_CONTENT_LENGTH', 400, 'CONTENT_LENGTH is missing', {
      hint: 'the SCGI spec requires it, even when 0',
    });
  }
  // "The first header must have the name CONTENT_LENGTH" (case 16): every tested front end complies.
  if (!clFirst) return bad('ERR_SCGI_CONTENT_LENGTH_NOT_FIRST', 'CONTENT_LENGTH is not the first parameter');
  if (names !== null) {
    const keys = Object.keys(params); // the engine's own internalized copies, when no duplicate was merged
    lastNamesDistinct = keys.length === names.length;
    lastNames = lastNamesDistinct ? keys : names;
  } else if (count < expected.length) lastNames = expected.slice(0, count); // a shorter block: its prefix matched
  return params;
}

/**
 * "a nonempty sequence of ASCII digits ... in decimal": -1 when not that (`""`, `12a`, `-1`, `+5`, ` 5`, `0x10`, `1e3`,
 * non-ASCII digits), -2 when too large for a safe integer. Leading zeros are decimal (`010` is 10, never octal), and
 * the digit count is guarded before any arithmetic (cases 17-18).
 */
export function parseDecimal(text: string): number {
  const len = text.length;
  if (len === 0) return -1;
  let value = 0;
  let significant = 0;
  for (let i = 0; i < len; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    if (significant > 0 || d !== 0) {
      if (++significant > MAX_BODY_DIGITS) {
        // Keep scanning: a non-digit later still makes it a 400, not a 413.
        for (let j = i + 1; j < len; j++) {
          const e = text.charCodeAt(j) - 0x30;
          if (e < 0 || e > 9) return -1;
        }
        return -2;
      }
      value = value * 10 + d;
    }
  }
  return value;
}

function bad(code: 'ERR_SCGI_BAD_HEADER' | 'ERR_SCGI_DUPLICATE_HEADER' | 'ERR_SCGI_CONTENT_LENGTH_NOT_FIRST', message: string): ProtocolError {
  return new ProtocolError(code, 400, message);
}
