// One HTTP/1.1 request per connection (agent: false) with a bounded timeout, returning status, reason, headers and
// the whole body as bytes. Used by the front-end tests to talk to the front ends and to the direct node:http server.
// Paths are sent as given: pass a latin1 "binary" string to put raw UTF-8 bytes on the wire.

import { request, type IncomingHttpHeaders } from 'node:http';

export interface HttpResponse {
  status: number;
  statusMessage: string;
  /** Lower-cased names; Set-Cookie as an array, others as node:http joins them. */
  headers: IncomingHttpHeaders;
  /** Name/value pairs as received (names lower-cased), repeated headers kept. */
  headerList: [string, string][];
  body: Buffer;
  /** Milliseconds from the request to the first response byte and to the end. */
  timings: { firstByteMs: number; totalMs: number };
}

export interface HttpRequestOptions {
  port: number;
  host?: string;
  method?: string;
  path: string;
  /** An object, or a flat [name, value, name, value…] list to send repeated lines as they are (node:http would
   * join an array-valued Cookie into one line). */
  headers?: Record<string, string | string[]> | string[];
  body?: Buffer | string;
  /** Default 30 s for the whole exchange. */
  timeoutMs?: number;
}

export function httpRequest(o: HttpRequestOptions): Promise<HttpResponse> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const headers: string[] = [];
    if (Array.isArray(o.headers)) headers.push(...o.headers);
    else for (const [k, v] of Object.entries(o.headers ?? {})) for (const one of [v].flat()) headers.push(k, one);
    const names = headers.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    // With a list, node:http adds no Host header itself.
    if (!names.includes('host')) headers.unshift('Host', `${o.host ?? '127.0.0.1'}:${o.port}`);
    if (o.body !== undefined && !names.includes('content-length') && !names.includes('transfer-encoding')) headers.push('content-length', String(Buffer.byteLength(o.body)));
    const req = request({ host: o.host ?? '127.0.0.1', port: o.port, method: o.method ?? 'GET', path: o.path, headers, agent: false }, (res) => {
      const firstByteMs = Date.now() - started;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error(`${o.method ?? 'GET'} ${o.path}: response aborted`)));
      res.on('end', () => {
        clearTimeout(timer);
        const headerList: [string, string][] = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headerList.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          headers: res.headers,
          headerList,
          body: Buffer.concat(chunks),
          timings: { firstByteMs, totalMs: Date.now() - started },
        });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`${o.method ?? 'GET'} ${o.path}: no complete response within ${o.timeoutMs ?? 30_000}ms`)), o.timeoutMs ?? 30_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(o.body);
  });
}
