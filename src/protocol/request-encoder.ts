// Builds SCGI request bytes the way nginx does (CONTENT_LENGTH first, then the params in order, then the body),
// for the built-in client (`scgi-supervise request`), tests and benchmarks. Not a parser: request-parser.ts reads these.
// nginxLikeParams() reproduces what nginx 1.22 with Debian's stock scgi_params sends (docs/protocol.md "Front ends,
// in brief"; the captured block is test/fixtures/scgi/valid/001-nginx-get-334).

import { ProtocolError } from './errors.js';

export type ParamList = Array<[name: string, value: string]>;

export interface EncodeOptions {
  /** Add `SCGI=1` (right after CONTENT_LENGTH) when the params lack it. Default true; false mimics nginx without scgi_params. */
  addScgi?: boolean;
}

/**
 * `<len>:CONTENT_LENGTH\0<body length>\0<name>\0<value>\0...,<body>`. A CONTENT_LENGTH in `params` is dropped: the
 * length always comes from `body`. Names and values are written as latin1 (one byte per char, like node:http headers).
 * Throws ProtocolError ERR_SCGI_BAD_HEADER for an empty name or a NUL inside a name or value (unencodable).
 */
export function encodeRequest(params: ParamList, body: Buffer = EMPTY, options: EncodeOptions = {}): Buffer {
  let block = '';
  let hasScgi = false;
  for (const [name, value] of params) {
    if (name === 'CONTENT_LENGTH') continue;
    if (name === '' || name.includes('\0') || value.includes('\0')) {
      throw new ProtocolError('ERR_SCGI_BAD_HEADER', 400, `cannot encode SCGI param ${JSON.stringify(name)}`, {
        hint: 'names must be non-empty and names and values must not contain NUL bytes',
      });
    }
    if (name === 'SCGI') hasScgi = true;
    block += name + '\0' + value + '\0';
  }
  if (!hasScgi && options.addScgi !== false) block = 'SCGI\x001\0' + block;
  block = 'CONTENT_LENGTH\0' + body.length + '\0' + block; // "The first header must have the name CONTENT_LENGTH"
  const blockBytes = Buffer.byteLength(block, 'latin1');
  const prefix = blockBytes + ':';
  const out = Buffer.allocUnsafe(prefix.length + blockBytes + 1 + body.length);
  let pos = out.write(prefix, 0, 'latin1');
  pos += out.write(block, pos, 'latin1');
  out[pos++] = 0x2c; // ','
  body.copy(out, pos);
  return out;
}

export interface NginxLikeRequest {
  method: string;
  /** The raw request target as the client sent it, e.g. `/path?x=1` (REQUEST_URI is never decoded). */
  uri: string;
  /** Client headers in arrival order; repeated names stay repeated, as nginx < 1.23 sends them (docs/protocol.md case 20). */
  headers?: ParamList;
  remoteAddr?: string;
  remotePort?: number;
  serverPort?: number;
  /** `$server_name`: empty for a catch-all server block (what the lab saw). */
  serverName?: string;
  scheme?: 'http' | 'https';
  serverProtocol?: string;
  documentRoot?: string;
}

/**
 * The params nginx 1.22.1 sends with `include scgi_params` (Debian's file, which adds `HTTP_HOST $host`), in its order:
 * REQUEST_METHOD REQUEST_URI QUERY_STRING CONTENT_TYPE DOCUMENT_URI DOCUMENT_ROOT SCGI SERVER_PROTOCOL REQUEST_SCHEME
 * [HTTPS] REMOTE_ADDR REMOTE_PORT SERVER_PORT SERVER_NAME HTTP_HOST, then every client header as HTTP_<NAME>
 * (uppercased, `-` → `_`), except Host (overridden by the scgi_param) and names with `_` or other non-token
 * characters, which nginx drops by default (`underscores_in_headers off`). CONTENT_LENGTH is added by encodeRequest().
 */
export function nginxLikeParams(request: NginxLikeRequest): ParamList {
  const headers = request.headers ?? [];
  const q = request.uri.indexOf('?');
  const path = q === -1 ? request.uri : request.uri.slice(0, q);
  let contentType = '';
  let hostHeader: string | undefined;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-type' && contentType === '') contentType = value;
    else if (lower === 'host' && hostHeader === undefined) hostHeader = value;
  }
  const serverName = request.serverName ?? '';
  // $host: the Host header without its port, lowercased; else the server name.
  const host = hostHeader !== undefined ? stripPort(hostHeader).toLowerCase() : serverName;
  const scheme = request.scheme ?? 'http';
  const params: ParamList = [
    ['REQUEST_METHOD', request.method],
    ['REQUEST_URI', request.uri],
    ['QUERY_STRING', q === -1 ? '' : request.uri.slice(q + 1)],
    ['CONTENT_TYPE', contentType],
    ['DOCUMENT_URI', path],
    ['DOCUMENT_ROOT', request.documentRoot ?? '/var/www/html'],
    ['SCGI', '1'],
    ['SERVER_PROTOCOL', request.serverProtocol ?? 'HTTP/1.1'],
    ['REQUEST_SCHEME', scheme],
  ];
  if (scheme === 'https') params.push(['HTTPS', 'on']); // `$https if_not_empty`
  params.push(
    ['REMOTE_ADDR', request.remoteAddr ?? '127.0.0.1'],
    ['REMOTE_PORT', String(request.remotePort ?? 0)],
    ['SERVER_PORT', String(request.serverPort ?? 80)],
    ['SERVER_NAME', serverName],
    ['HTTP_HOST', host],
  );
  for (const [name, value] of headers) {
    if (!NGINX_HEADER_NAME.test(name)) continue;
    const cgiName = 'HTTP_' + name.toUpperCase().replace(/-/g, '_');
    if (cgiName === 'HTTP_HOST') continue;
    params.push([cgiName, value]);
  }
  return params;
}

const EMPTY = Buffer.alloc(0);
// What nginx accepts as a header name with underscores_in_headers off: letters, digits and '-'.
const NGINX_HEADER_NAME = /^[A-Za-z0-9-]+$/;

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close === -1 ? host : host.slice(0, close + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
