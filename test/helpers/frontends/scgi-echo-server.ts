// A tiny in-process SCGI server for testing the front-end runners without the supervisor: it reads the netstring
// header block (CONTENT_LENGTH must come first), reads exactly CONTENT_LENGTH body bytes, and answers a CGI-style
// JSON echo of the params and body size. Deliberately lax and small; the real parser is src/protocol/.

import { createServer, type Server, type Socket } from 'node:net';
import { createHash } from 'node:crypto';

export interface ScgiEcho {
  /** The params of one request, in arrival order (duplicates kept), and its body's length and sha256. */
  params: [string, string][];
  bodyLength: number;
  bodySha256: string;
}

export interface ScgiEchoServer {
  tcp: { host: string; port: number };
  unix?: string;
  close(): Promise<void>;
}

const MAX_HEADER = 1 << 16;

function handle(sock: Socket): void {
  let buf = Buffer.alloc(0);
  let headerEnd = -1;
  let params: [string, string][] = [];
  let bodyLength = 0;
  const hash = createHash('sha256');
  let seen = 0;
  const fail = (why: string): void => {
    sock.end(`Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n${why}\n`);
  };
  const respond = (): void => {
    const echo: ScgiEcho = { params, bodyLength: seen, bodySha256: hash.digest('hex') };
    const body = Buffer.from(JSON.stringify(echo));
    sock.end(Buffer.concat([Buffer.from(`Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
  };
  const takeBody = (chunk: Buffer): void => {
    const n = Math.min(chunk.length, bodyLength - seen);
    hash.update(chunk.subarray(0, n));
    seen += n;
    if (seen === bodyLength) respond();
  };
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: Buffer) => {
    if (headerEnd >= 0) {
      if (seen < bodyLength) takeBody(chunk);
      return;
    }
    buf = Buffer.concat([buf, chunk]);
    const colon = buf.indexOf(0x3a);
    if (colon < 0) {
      if (buf.length > 8) fail('no netstring length');
      return;
    }
    const len = Number(buf.subarray(0, colon).toString('latin1'));
    if (!Number.isInteger(len) || len > MAX_HEADER) return fail('bad netstring length');
    if (buf.length < colon + 1 + len + 1) return;
    if (buf[colon + 1 + len] !== 0x2c) return fail('no comma');
    const parts = buf.subarray(colon + 1, colon + 1 + len).toString('latin1').split('\0');
    parts.pop();
    params = [];
    for (let i = 0; i + 1 < parts.length; i += 2) params.push([parts[i], parts[i + 1]]);
    if (params[0]?.[0] !== 'CONTENT_LENGTH') return fail('CONTENT_LENGTH not first');
    bodyLength = Number(params[0][1]);
    headerEnd = colon + 1 + len + 1;
    const rest = buf.subarray(headerEnd);
    if (bodyLength === 0) respond();
    else if (rest.length > 0) takeBody(rest);
  });
}

function listen(server: Server, target: number | string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof target === 'number') server.listen(target, '127.0.0.1', () => resolve());
    else server.listen(target, () => resolve());
  });
}

/** Listens on 127.0.0.1:<ephemeral> and, when `unixPath` is given, on that socket (chmod 0666 like the supervisor). */
export async function startScgiEchoServer(unixPath?: string): Promise<ScgiEchoServer> {
  const tcpServer = createServer(handle);
  await listen(tcpServer, 0);
  const addr = tcpServer.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let unixServer: Server | undefined;
  if (unixPath) {
    unixServer = createServer(handle);
    await listen(unixServer, unixPath);
    const { chmod } = await import('node:fs/promises');
    await chmod(unixPath, 0o666); // front-end workers run as www-data
  }
  return {
    tcp: { host: '127.0.0.1', port },
    unix: unixPath,
    close: async () => {
      await Promise.all([tcpServer, unixServer].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
    },
  };
}
