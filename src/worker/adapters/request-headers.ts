// SCGI params → HTTP request headers, the way node:http would have shown them to the app (lowercase names).
// Shared by node-http-adapter.ts (req.headers/rawHeaders) and fetch-adapter.ts (Headers). Not the parsing of
// the SCGI block itself (protocol/request-parser.ts) nor anything about the response.

import type { RequestHead } from '../../protocol/request-parser.js';

export interface RequestHeaders {
  /** node:http's req.headers: lowercase name → value (duplicates already merged by the parser). */
  headers: Record<string, string>;
  /** node:http's req.rawHeaders: [name, value, name, value, ...] in arrival order, names lowercase. */
  rawHeaders: string[];
}

// HTTP_* names never shown to the app:
// - TRANSFER_ENCODING: nginx forwards it although the body was already de-chunked (case 21);
// - CONTENT_LENGTH: replaced by the truth, CONTENT_LENGTH (case 21);
// - EXPECT: the front end already answered 100 Continue; a second one from the app would corrupt the response (case 22).
const DROPPED = new Set(['HTTP_TRANSFER_ENCODING', 'HTTP_CONTENT_LENGTH', 'HTTP_EXPECT']);

// Name conversion is the same few dozen names on every request: remember them instead of re-lowercasing.
const NAME_CACHE = new Map<string, string>();
const NAME_CACHE_MAX = 512;

function headerName(param: string): string {
  let name = NAME_CACHE.get(param);
  if (name === undefined) {
    name = param.slice(5).toLowerCase().replaceAll('_', '-');
    if (NAME_CACHE.size < NAME_CACHE_MAX) NAME_CACHE.set(param, name);
  }
  return name;
}

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * node:http's req.rawHeaders: `HTTP_*` as lowercase dashed names, content-type from CONTENT_TYPE and content-length
 * from CONTENT_LENGTH (the truth): present when > 0, when the client sent one (HTTP_CONTENT_LENGTH), or for
 * POST/PUT/PATCH. In arrival order, `[name, value, name, value, ...]`.
 */
export function rawRequestHeaders(head: RequestHead): string[] {
  const params = head.params;
  const raw: string[] = [];
  for (const param in params) {
    let name: string;
    if (param.startsWith('HTTP_')) {
      if (DROPPED.has(param)) continue;
      name = headerName(param);
      // CONTENT_TYPE is the truth when both come (nginx sends both for a POST).
      if (name === 'content-type' && params.CONTENT_TYPE) continue;
    } else if (param === 'CONTENT_TYPE') {
      // nginx sends CONTENT_TYPE="" on every GET: no header then, as node:http would show.
      if (params.CONTENT_TYPE === '') continue;
      name = 'content-type';
    } else if (param === 'CONTENT_LENGTH') {
      const cl = head.contentLength;
      if (cl === 0 && params.HTTP_CONTENT_LENGTH === undefined && !METHODS_WITH_BODY.has(head.method)) continue;
      raw.push('content-length', String(cl));
      continue;
    } else {
      continue;
    }
    raw.push(name, params[param]!);
  }
  return raw;
}

/**
 * req.headers from rawHeaders: a name that comes twice (HTTP_X_A and HTTP_X-A) is merged the way node:http merges
 * repeated headers (cookie with '; ', others with ', '). The node adapter lets node:http build this lazily instead;
 * this is for the fetch adapter and for a Node without that laziness.
 */
export function headersObject(raw: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const previous = headers[name];
    // (typeof: 'constructor' is the only lowercase name the object prototype has, and it is a function.)
    headers[name] = typeof previous === 'string' ? previous + (name === 'cookie' ? '; ' : ', ') + value : value;
  }
  return headers;
}

/** Both forms at once (the fetch adapter, tests). */
export function requestHeaders(head: RequestHead): RequestHeaders {
  const rawHeaders = rawRequestHeaders(head);
  return { headers: headersObject(rawHeaders), rawHeaders };
}

/** "https" when the front end says the client used TLS (HTTPS=on from nginx/lighttpd/Apache, or REQUEST_SCHEME). */
export function isHttps(params: Record<string, string>): boolean {
  const https = params.HTTPS;
  return (https !== undefined && https.toLowerCase() === 'on') || params.REQUEST_SCHEME === 'https';
}

/** HTTP/x.y from SERVER_PROTOCOL; 1.1 when absent or odd. */
export function httpVersion(params: Record<string, string>): [major: number, minor: number] {
  const p = params.SERVER_PROTOCOL;
  if (p !== undefined && p.length === 8 && p.startsWith('HTTP/') && p.charCodeAt(6) === 0x2e) {
    const major = p.charCodeAt(5) - 0x30;
    const minor = p.charCodeAt(7) - 0x30;
    if (major >= 0 && major <= 9 && minor >= 0 && minor <= 9) return [major, minor];
  }
  if (p === 'HTTP/2' || p === 'HTTP/2.0') return [2, 0];
  if (p === 'HTTP/3' || p === 'HTTP/3.0') return [3, 0];
  return [1, 1];
}
