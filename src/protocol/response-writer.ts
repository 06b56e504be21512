// CGI-style response heads (docs/protocol.md D, cases 28-35): one `Status: NNN Reason` line, never `HTTP/1.x`;
// no Transfer-Encoding; hop-by-hop headers stripped; names must be tokens, values free of CR/LF/NUL;
// Content-Length at most one. No IO here: worker/ writes the result in one write (case 32), and decides
// body lengths, truncation and RST (cases 31, 33). Reading heads back is response-parser.ts.

import { ProtocolError } from './errors.js';

export type HeaderList = Array<[name: string, value: string]>;

export interface HeadOptions {
  /** 100-599; anything else throws ProtocolError ERR_SCGI_BAD_RESPONSE_HEADER. */
  status: number;
  /** Defaults to the standard reason; an empty or invalid reason is replaced by the standard one. */
  reason?: string;
  headers: HeaderList;
}

// RFC 7230 token: what nginx (502) and Apache (500) accept as a header name (case 32).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values as node:http accepts them (HTAB, SP, VCHAR, obs-text): excludes CR, LF, NUL (response splitting)
// and anything above 0xFF, which latin1 could not write.
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const DIGITS = /^[0-9]+$/;

/** The full head, `Status: ...\r\n` ... `\r\n\r\n`, as a latin1 string. Throws ProtocolError on invalid input. */
export function formatHead(options: HeadOptions): string {
  const status = options.status;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw badHeader(`invalid status code ${String(status)}`, 'use a 3-digit status between 100 and 599');
  }
  // Always a reason: nginx 1.22 relays `Status: 404` as `HTTP/1.1 404` with none (case 28).
  const reason = options.reason;
  const phrase = reason === undefined || reason === '' || BAD_VALUE.test(reason) ? reasonPhrase(status) : reason;
  let head = 'Status: ' + status + ' ' + phrase + '\r\n';
  let contentLength: string | undefined;
  const headers = options.headers;
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i]!;
    const name = header[0];
    const value = header[1];
    const kind = nameKind(name);
    if (kind === KIND_INVALID) {
      throw badHeader(`invalid response header name ${JSON.stringify(name)}`, 'header names must be RFC 7230 tokens');
    }
    if (BAD_VALUE.test(value)) {
      throw badHeader(`invalid characters in the value of response header ${name}`, 'remove CR, LF, NUL and control characters');
    }
    if (kind === KIND_DROP || (kind === KIND_UPGRADE && status !== 101)) continue;
    if (kind === KIND_CONTENT_LENGTH) {
      if (!DIGITS.test(value)) throw badHeader(`invalid Content-Length ${JSON.stringify(value)}`, 'Content-Length must be decimal digits');
      if (contentLength !== undefined) {
        // nginx >= 1.23 answers 502 to duplicates; identical copies are harmless, so keep one (case 31).
        if (Number(contentLength) !== Number(value)) throw badHeader('conflicting Content-Length headers', 'set Content-Length once');
        continue;
      }
      contentLength = value;
    }
    head += name + ': ' + value + '\r\n';
  }
  return head + '\r\n';
}

const KIND_INVALID = 0;
const KIND_PLAIN = 1;
const KIND_DROP = 2; // Status (ours is the only one: nginx keeps the first, the others the last) and hop-by-hop
const KIND_UPGRADE = 3;
const KIND_CONTENT_LENGTH = 4;
type NameKind = 0 | 1 | 2 | 3 | 4;

// Apps send the same few header names on every response: validating and lowercasing each name once and remembering
// the verdict took ~27% off formatHead for a typical Express head. Bounded, so odd names cannot grow it.
const NAME_KINDS = new Map<string, NameKind>();
const MAX_CACHED_NAMES = 1000;

function nameKind(name: string): NameKind {
  let kind = NAME_KINDS.get(name);
  if (kind !== undefined) return kind;
  if (!TOKEN.test(name)) return KIND_INVALID;
  const lower = name.toLowerCase();
  kind =
    lower === 'status' || (lower !== 'upgrade' && isHopByHop(lower, 200))
      ? KIND_DROP
      : lower === 'upgrade'
        ? KIND_UPGRADE
        : lower === 'content-length'
          ? KIND_CONTENT_LENGTH
          : KIND_PLAIN;
  if (NAME_KINDS.size < MAX_CACHED_NAMES) NAME_KINDS.set(name, kind);
  return kind;
}

/** Header names a worker must never emit (lowercase): hop-by-hop and Transfer-Encoding (case 30). */
export function isHopByHop(lowerName: string, status: number): boolean {
  switch (lowerName) {
    case 'connection':
    case 'keep-alive':
    case 'te':
    case 'trailer':
    case 'transfer-encoding': // nginx and Apache would chunk the already-chunked body again
      return true;
    case 'upgrade':
      return status !== 101;
    default:
      return lowerName.startsWith('proxy-');
  }
}

const REASONS: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  102: 'Processing',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  208: 'Already Reported',
  226: 'IM Used',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  418: "I'm a Teapot",
  421: 'Misdirected Request',
  422: 'Unprocessable Entity',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  509: 'Bandwidth Limit Exceeded',
  510: 'Not Extended',
  511: 'Network Authentication Required',
};

/** The standard reason phrase for a status code ('Unknown' when none). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

/** True for responses that carry no body: HEAD, 1xx, 204, 304 (case 35). */
export function isBodiless(method: string, status: number): boolean {
  return method === 'HEAD' || status < 200 || status === 204 || status === 304;
}

/** A small complete error response (head + text/plain body), e.g. for 400/408/413/431/500 (cases 2-19, 34). */
export function errorResponse(status: number, message?: string): Buffer {
  const body = Buffer.from((message ?? `${status} ${reasonPhrase(status)}`) + '\n', 'utf8');
  const head = formatHead({
    status,
    headers: [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.length)],
    ],
  });
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return out;
}

function badHeader(message: string, hint: string): ProtocolError {
  return new ProtocolError('ERR_SCGI_BAD_RESPONSE_HEADER', 500, message, { hint });
}
