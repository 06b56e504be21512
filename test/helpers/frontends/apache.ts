// Runs the real Debian Apache httpd in the foreground (-DFOREGROUND) in front of SCGI backends: a minimal conf with
// mpm_event, authz_core, proxy and proxy_scgi loaded by path, User/Group www-data, and PidFile/ErrorLog/Mutex/
// DefaultRuntimeDir under the temp dir; one VirtualHost per transport, each `ProxyPass "/"` (docs/protocol.md "Front ends, in brief").

import { mkdir } from 'node:fs/promises';
import { runFrontEnd, isRoot, RUN_AS, type Backends, type FrontEnd, type FrontEndOptions, type Transport } from './front-end.js';

export const APACHE_BIN = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

export function startApache(options: FrontEndOptions): Promise<FrontEnd> {
  return runFrontEnd(
    {
      name: 'apache',
      binary: APACHE_BIN,
      debianPackage: 'apache2',
      version: '2.4.71 (Debian 12)',
      render: async (dir, ports, backends) => {
        await mkdir(`${dir}/htdocs`);
        return { files: { 'httpd.conf': apacheConf(dir, ports, backends) }, args: ['-d', dir, '-f', `${dir}/httpd.conf`, '-DFOREGROUND'], errorLogFile: 'error.log' };
      },
    },
    options,
  );
}

export function apacheConf(dir: string, ports: Partial<Record<Transport, number>>, backends: Backends): string {
  const vhost = (port: number, target: string): string => `
Listen 127.0.0.1:${port}
<VirtualHost 127.0.0.1:${port}>
    ProxyPass "/" "${target}"
</VirtualHost>`;
  const vhosts: string[] = [];
  if (ports.tcp !== undefined && backends.tcp) vhosts.push(vhost(ports.tcp, `scgi://${backends.tcp.host}:${backends.tcp.port}/`));
  if (ports.tcp6 !== undefined && backends.tcp6) vhosts.push(vhost(ports.tcp6, `scgi://[${backends.tcp6.host}]:${backends.tcp6.port}/`));
  // The unix:…|scgi:// form (docs/protocol.md "Front ends, in brief"); "localhost" is only a placeholder for the URL parser.
  if (ports.unix !== undefined && backends.unix) vhosts.push(vhost(ports.unix, `unix:${backends.unix}|scgi://localhost/`));
  return `# rendered by test/helpers/frontends/apache.ts
ServerRoot "${dir}"
ServerName 127.0.0.1
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule proxy_module ${MODULES}/mod_proxy.so
LoadModule proxy_scgi_module ${MODULES}/mod_proxy_scgi.so
${isRoot() ? `User ${RUN_AS}\nGroup ${RUN_AS}` : ''}
PidFile "${dir}/apache2.pid"
ErrorLog "${dir}/error.log"
LogLevel warn
Mutex file:${dir} default
DefaultRuntimeDir "${dir}"
DocumentRoot "${dir}/htdocs"
StartServers 1
ServerLimit 1
# One child with more threads than the tests ever have requests open at once: the differential's concurrent step
# sends 52 (13 cases × 4); with 32 threads, a slow moment on a busy machine had all 32 busy and Apache logged AH00484
# (MaxRequestWorkers reached) at level error. 64 is ThreadLimit's default.
ThreadsPerChild 64
MaxRequestWorkers 64
# The defaults (75/250) exceed one child and make mpm_event log AH10159 at level error.
MinSpareThreads 4
MaxSpareThreads 64
${vhosts.join('\n')}
`;
}
