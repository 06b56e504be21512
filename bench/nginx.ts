// The one nginx every backend is measured behind: `worker_processes 1`, one server block per backend (its own
// loopback port) doing `scgi_pass` with Debian's stock scgi_params (docs/protocol.md "Front ends, in brief"), config and temp files in a temp dir,
// run in the foreground and stopped by pid. Not the load generator (wrk.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessGroup } from './process-group.js';

export const NGINX = '/usr/sbin/nginx';

export interface Route {
  listenPort: number; // where wrk connects
  backendPort: number; // where the backend's SCGI socket is
}

export function renderNginxConfig(dir: string, routes: Route[]): string {
  const servers = routes
    .map(
      (r) => `    server {
        listen 127.0.0.1:${r.listenPort};
        location / {
            include /etc/nginx/scgi_params;
            scgi_pass 127.0.0.1:${r.backendPort};
        }
    }`,
    )
    .join('\n');
  return `# rendered by bench/nginx.ts
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path ${dir}/client_body;
    scgi_temp_path ${dir}/scgi;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    # The 64 KiB POST stays in memory (no temp file); a 1 MiB response is relayed through buffers, not a temp file.
    client_max_body_size 4m;
    client_body_buffer_size 128k;
    scgi_buffers 16 64k;
    scgi_max_temp_file_size 0;
${servers}
}
`;
}

export async function startNginx(dir: string, routes: Route[]): Promise<ProcessGroup> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, renderNginxConfig(dir, routes));
  const group = new ProcessGroup('nginx', NGINX, ['-c', conf, '-p', dir]);
  // Ready when every listen port accepts (nginx logs nothing on start with error_log at warn).
  const { connect } = await import('node:net');
  const deadline = performance.now() + 10_000;
  for (const route of routes) {
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(route.listenPort, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) break;
      if (!group.alive || performance.now() > deadline) {
        await group.stop();
        throw new Error(`nginx did not listen on 127.0.0.1:${route.listenPort}\n${group.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return group;
}
