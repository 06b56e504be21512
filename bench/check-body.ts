// The correctness gate before a backend is measured: one request through nginx with node:http, which must answer
// 200 with exactly the expected body (length and bytes). Not a conformance test (test/frontends/ does that).

import { request } from 'node:http';

export interface Expected {
  method: 'GET' | 'POST';
  body: Buffer; // the response body the backend must send
  requestBody?: Buffer;
}

/** Resolves with undefined when the answer is right, else with what was wrong. */
export function checkBody(port: number, expected: Expected, timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', method: expected.method, agent: false, timeout: timeoutMs, headers: expected.requestBody ? { 'content-type': 'application/octet-stream' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => resolve(`response error: ${e.message}`));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          if (res.statusCode !== 200) return resolve(`status ${res.statusCode}, body ${JSON.stringify(body.subarray(0, 200).toString())}`);
          if (!body.equals(expected.body)) {
            return resolve(`body of ${body.length} bytes ${JSON.stringify(body.subarray(0, 60).toString())}, expected ${expected.body.length} bytes ${JSON.stringify(expected.body.subarray(0, 60).toString())}`);
          }
          resolve(undefined);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve(`request failed: ${e.message}`));
    req.end(expected.requestBody);
  });
}
