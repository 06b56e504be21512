// GET /metrics over HTTP for Prometheus, on --metrics-listen (TCP or a unix socket): a plain node:http server in the
// master process that answers from ControlTarget.metrics() (the master's last sample, so a scrape samples nothing).
// Not the text format (master/metrics-text.ts) and not the control socket (server.ts).

import { createServer, type Server } from 'node:http';
import { unlinkSync } from 'node:fs';
import { ListenError, isErrnoException } from '../errors.js';
import type { Logger } from '../log.js';
import type { ControlTarget } from './target.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricsAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface MetricsServer {
  /** `127.0.0.1:9464` (the real port when 0 was asked for) or `unix:/path`. */
  readonly address: string;
  close(): Promise<void>;
}

export async function startMetricsServer(
  target: Pick<ControlTarget, 'metrics'>,
  at: MetricsAddress,
  log: Pick<Logger, 'warn'>,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    target.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.warn({ err }, 'metrics: could not format the metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  server.keepAliveTimeout = 65_000; // Prometheus keeps its connection between scrapes
  const shown = at.kind === 'tcp' ? `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}` : `unix:${at.path}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      const code = isErrnoException(err) ? err.code : undefined;
      reject(
        new ListenError(code === 'EADDRINUSE' ? 'ERR_LISTEN_IN_USE' : 'ERR_LISTEN_FAILED', shown, `cannot serve metrics on ${shown}: ${err.message}`, {
          hint: code === 'EADDRINUSE' ? 'another process listens there; pick another --metrics-listen' : 'check --metrics-listen',
          cause: err,
        }),
      );
    });
    if (at.kind === 'tcp') server.listen({ host: at.host, port: at.port }, resolve);
    else server.listen({ path: at.path }, resolve);
  });
  server.unref(); // the master's life is its workers', never this server's
  const bound = server.address();
  const address = typeof bound === 'object' && bound !== null ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : shown;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        if (at.kind === 'unix') {
          try {
            unlinkSync(at.path);
          } catch {
            // already gone
          }
        }
      }),
  };
}
