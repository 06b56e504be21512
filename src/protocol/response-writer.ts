// CONTRACT STUB: the protocol helper replaces the body of this file; the exported names and signatures are fixed.
//
// CGI-style response heads (SCGI.md §5 D, cases 28-35): one `Status: NNN Reason` line, never `HTTP/1.x`;
// no Transfer-Encoding; hop-by-hop headers stripped; names must be tokens, values free of CR/LF/NUL;
// Content-Length at most one. No IO here: worker/ writes the result in one write.

export type HeaderList = Array<[name: string, value: string]>;

export interface HeadOptions {
  /** 100-599; anything else throws ProtocolError ERR_SCGI_BAD_RESPONSE_HEADER. */
  status: number;
  /** Defaults to the standard reason; an empty or invalid reason is replaced by the standard one. */
  reason?: string;
  headers: HeaderList;
}

/** The full head, `Status: ...\r\n` ... `\r\n\r\n`, as a latin1 string. Throws ProtocolError on invalid input. */
export function formatHead(_options: HeadOptions): string {
  throw new Error('not implemented');
}

/** Header names a worker must never emit (lowercase): hop-by-hop and Transfer-Encoding (case 30). */
export function isHopByHop(_lowerName: string, _status: number): boolean {
  throw new Error('not implemented');
}

/** The standard reason phrase for a status code ('Unknown' when none). */
export function reasonPhrase(_status: number): string {
  throw new Error('not implemented');
}

/** True for responses that carry no body: HEAD, 1xx, 204, 304 (case 35). */
export function isBodiless(_method: string, _status: number): boolean {
  throw new Error('not implemented');
}

/** A small complete error response (head + text/plain body), e.g. for 400/408/413/431/500 (cases 2-19, 34). */
export function errorResponse(_status: number, _message?: string): Buffer {
  throw new Error('not implemented');
}
