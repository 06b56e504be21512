// Test harness for RequestParser: feeds bytes in given chunks, records every event, and checks the sink contract
// on the way (order, at most one terminal event, body chunks are views of pushed memory). Used by the fixture and
// robustness tests; not a test itself.

import { RequestParser, type ParserWarning } from '../../../src/protocol/request-parser.js';
import type { ProtocolLimits } from '../../../src/protocol/limits.js';
import type { ProtocolError } from '../../../src/protocol/errors.js';

export interface Outcome {
  head: { params: Array<[string, string]>; contentLength: number; method: string; uri: string; nullProto: boolean } | null;
  body: string;
  ended: boolean;
  error: { code: string; status: number | null } | null;
  warnings: ParserWarning[];
  extraBytes: number;
  bytesReceived: number;
  /** Bytes pushed (including the chunk being pushed) when onEnd/onError came; -1 when it came from end(). */
  terminalAt: number | null;
  /** Contract violations seen while feeding (empty when all is well). */
  violations: string[];
}

/** Cut `bytes` at the given offsets (ascending, inside the buffer) into views, never copies. */
export function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(prev, cut));
    prev = cut;
  }
  chunks.push(bytes.subarray(prev));
  return chunks;
}

export function feed(chunks: Buffer[], limits?: Partial<ProtocolLimits>, callEnd = true): Outcome {
  const out: Outcome = {
    head: null,
    body: '',
    ended: false,
    error: null,
    warnings: [],
    extraBytes: 0,
    bytesReceived: 0,
    terminalAt: null,
    violations: [],
  };
  let pushed = 0;
  let inEnd = false;
  let current: Buffer | null = null;
  const terminal = (what: string) => {
    if (out.ended || out.error) out.violations.push(`${what} after a terminal event`);
    out.terminalAt = inEnd ? -1 : pushed;
  };
  const parser = new RequestParser(
    {
      onHead(head) {
        if (out.head) out.violations.push('onHead twice');
        if (out.ended || out.error) out.violations.push('onHead after a terminal event');
        out.head = {
          params: Object.entries(head.params),
          contentLength: head.contentLength,
          method: head.method,
          uri: head.uri,
          nullProto: inheritsNothing(head.params),
        };
      },
      onBody(chunk) {
        if (!out.head) out.violations.push('onBody before onHead');
        if (out.ended || out.error) out.violations.push('onBody after a terminal event');
        if (chunk.length === 0) out.violations.push('empty onBody');
        if (current === null || chunk.buffer !== current.buffer) out.violations.push('onBody chunk is not a view of the pushed chunk');
        out.body += chunk.toString('latin1');
      },
      onEnd() {
        if (!out.head) out.violations.push('onEnd before onHead');
        terminal('onEnd');
        out.ended = true;
      },
      onError(error: ProtocolError) {
        terminal('onError');
        out.error = { code: error.code, status: error.status };
      },
      onWarning(warning) {
        out.warnings.push(warning);
      },
    },
    limits,
  );
  for (const chunk of chunks) {
    pushed += chunk.length;
    current = chunk;
    parser.push(chunk);
  }
  current = null;
  if (callEnd) {
    inEnd = true;
    parser.end();
  }
  out.extraBytes = parser.extraBytes;
  out.bytesReceived = parser.bytesReceived;
  return out;
}

/** Deterministic PRNG (mulberry32) so a failing split can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** True when no key is inherited: the prototype chain holds only empty objects and ends in null. */
function inheritsNothing(value: object): boolean {
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if (Reflect.ownKeys(proto).length > 0) return false;
  }
  return true;
}
