// The one documented place where a response is normalised before the differential comparison. Only headers that
// legitimately differ between node:http and a front end are dropped; everything else (status, reason, all other
// headers, every body byte) must be equal. Per-case, per-front-end exceptions live next to the case (cases.ts).

import { createHash } from 'node:crypto';
import type { HttpResponse } from '../helpers/frontends/http-client.js';
import type { FrontEndName } from '../helpers/frontends/front-end.js';

/**
 * Dropped from both sides, always:
 * - date, server: each server stamps its own.
 * - connection, keep-alive: per-hop; node:http says keep-alive, front ends decide for themselves.
 * - transfer-encoding, content-length: framing. A front end may re-frame (lighttpd buffers a stream and sends a
 *   Content-Length; nginx and Apache chunk it; Apache drops the backend's Content-Length since 2.4.59,
 *   docs/protocol.md "Front ends, in brief"). The body bytes are compared exactly instead, and `framingProblems` checks any Content-Length present.
 */
export const ALWAYS_DROPPED = ['date', 'server', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'];

/** lighttpd adds `Accept-Ranges: bytes` to backend responses (docs/protocol.md "Front ends, in brief"); dropped only when the app did not set it. */
const ADDED_BY: Partial<Record<FrontEndName, string[]>> = { lighttpd: ['accept-ranges'] };

export interface Comparable {
  status: number;
  statusMessage: string;
  headers: Record<string, string | string[]>;
  /** Small bodies as text (when UTF-8 round-trips) or base64; bodies over 4 KiB as length + sha256. */
  body: { length: number; text?: string; base64?: string; sha256?: string };
}

export function bodyOf(buf: Buffer): Comparable['body'] {
  if (buf.length > 4096) return { length: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
  const text = buf.toString('utf8');
  return Buffer.from(text, 'utf8').equals(buf) ? { length: buf.length, text } : { length: buf.length, base64: buf.toString('base64') };
}

/** `direct` is needed to tell a header the front end added from one the app sent. */
export function comparable(res: HttpResponse, via: FrontEndName | 'direct', direct?: HttpResponse): Comparable {
  const added = via === 'direct' ? [] : (ADDED_BY[via] ?? []).filter((h) => direct?.headers[h] === undefined);
  const headers: Record<string, string | string[]> = {};
  for (const name of Object.keys(res.headers).sort()) {
    if (ALWAYS_DROPPED.includes(name) || added.includes(name)) continue;
    const v = res.headers[name];
    if (v !== undefined) headers[name] = v;
  }
  return { status: res.status, statusMessage: res.statusMessage, headers, body: bodyOf(res.body) };
}

/**
 * Content-Length, where present, must be right: equal on both sides when both have one (unless a documented
 * front-end difference changed the expected body: `bodyEdited`), and equal to the body received.
 */
export function framingProblems(method: string, direct: HttpResponse, proxied: HttpResponse, bodyEdited = false): string[] {
  const problems: string[] = [];
  const d = direct.headers['content-length'];
  const p = proxied.headers['content-length'];
  if (!bodyEdited && d !== undefined && p !== undefined && d !== p) problems.push(`Content-Length ${p} behind the front end, ${d} direct`);
  if (p !== undefined && method !== 'HEAD' && Number(p) !== proxied.body.length) {
    problems.push(`Content-Length ${p} but ${proxied.body.length} body bytes`);
  }
  if (p !== undefined && proxied.headers['transfer-encoding'] !== undefined) problems.push('both Content-Length and Transfer-Encoding');
  return problems;
}
