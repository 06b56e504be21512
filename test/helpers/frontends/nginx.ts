// Runs the real Debian nginx in the foreground in front of SCGI backends: master + 1 worker (as www-data when we
// are root, so Unix socket permissions are exercised), pid, error log and every *_temp_path inside the temp dir.
// One `server` per transport, both serving `/`. Config follows the front-end notes of docs/protocol.md.

import { runFrontEnd, isRoot, RUN_AS, type Backends, type FrontEnd, type FrontEndOptions, type Transport } from './front-end.js';

export const NGINX_BIN = '/usr/sbin/nginx';

export function startNginx(options: FrontEndOptions): Promise<FrontEnd> {
  return runFrontEnd(
    {
      name: 'nginx',
      binary: NGINX_BIN,
      debianPackage: 'nginx',
      version: '1.22.1 (Debian 12)',
      render: async (dir, ports, backends) => ({
        files: { 'nginx.conf': nginxConf(dir, ports, backends) },
        // -e: nginx >= 1.19.5 opens the error log before reading the config; keep it out of /var/log.
        args: ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`],
        errorLogFile: 'error.log',
      }),
    },
    options,
  );
}

export function nginxConf(dir: string, ports: Partial<Record<Transport, number>>, backends: Backends): string {
  const server = (port: number, pass: string): string => `
    server {
        listen 127.0.0.1:${port};
        location / {
            include /etc/nginx/scgi_params;  # without it: no SCGI, REQUEST_METHOD, REQUEST_URI (docs/protocol.md "Front ends, in brief")
            scgi_pass ${pass};
        }
        location /nobuf/ {                   # streaming variant (nginx < 1.29.6 CONTENT_LENGTH bug)
            include /etc/nginx/scgi_params;
            scgi_request_buffering off;
            scgi_buffering off;
            scgi_pass ${pass};
        }
    }`;
  const servers: string[] = [];
  if (ports.tcp !== undefined && backends.tcp) servers.push(server(ports.tcp, `${backends.tcp.host}:${backends.tcp.port}`));
  if (ports.tcp6 !== undefined && backends.tcp6) servers.push(server(ports.tcp6, `[${backends.tcp6.host}]:${backends.tcp6.port}`));
  if (ports.unix !== undefined && backends.unix) servers.push(server(ports.unix, `unix:${backends.unix}`));
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${dir}/${k}_temp;`);
  return `# rendered by test/helpers/frontends/nginx.ts
daemon off;
master_process on;
worker_processes 1;
${isRoot() ? `user ${RUN_AS};` : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_max_body_size 64m;
${temps.join('\n')}
${servers.join('\n')}
}
`;
}
