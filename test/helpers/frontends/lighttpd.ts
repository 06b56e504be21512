// Runs the real Debian lighttpd in the foreground (-D) in front of SCGI backends: mod_scgi with
// "check-local" => "disable" (else lighttpd 404s paths that are not files, docs/protocol.md "Front ends, in brief"), as www-data when we are
// root, one listening port per transport ($SERVER["socket"] overrides scgi.server for the Unix-socket port).

import { chown, mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { execFileSync } from 'node:child_process';
import { runFrontEnd, isRoot, RUN_AS, type Backends, type FrontEnd, type FrontEndOptions, type Transport } from './front-end.js';

export const LIGHTTPD_BIN = '/usr/sbin/lighttpd';

export function startLighttpd(options: FrontEndOptions): Promise<FrontEnd> {
  return runFrontEnd(
    {
      name: 'lighttpd',
      binary: LIGHTTPD_BIN,
      debianPackage: 'lighttpd',
      version: '1.4.69 (Debian 12)',
      render: async (dir, ports, backends) => {
        await mkdir(`${dir}/htdocs`); // server.document-root must exist
        await mkdir(`${dir}/uploads`); // request bodies over 64 KiB are buffered to files here
        // lighttpd opens its error log after dropping to server.username: create it for that user.
        await writeFile(`${dir}/error.log`, '');
        if (isRoot()) for (const p of ['uploads', 'error.log']) await chownTo(`${dir}/${p}`, RUN_AS);
        return { files: { 'lighttpd.conf': lighttpdConf(dir, ports, backends) }, args: ['-D', '-f', `${dir}/lighttpd.conf`], errorLogFile: 'error.log' };
      },
    },
    options,
  );
}

async function chownTo(path: string, user: string): Promise<void> {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  if (uid !== userInfo().uid) await chown(path, uid, gid);
}

export function lighttpdConf(dir: string, ports: Partial<Record<Transport, number>>, backends: Backends): string {
  const scgi = (host: string): string => `scgi.server = ( "/" => (( ${host}, "check-local" => "disable" )) )`;
  // The first port is server.port (global scgi.server); each other one gets a $SERVER["socket"] block.
  const targets: [number, string][] = [];
  if (ports.tcp !== undefined && backends.tcp) targets.push([ports.tcp, `"host" => "${backends.tcp.host}", "port" => ${backends.tcp.port}`]);
  if (ports.tcp6 !== undefined && backends.tcp6) targets.push([ports.tcp6, `"host" => "${backends.tcp6.host}", "port" => ${backends.tcp6.port}`]);
  if (ports.unix !== undefined && backends.unix) targets.push([ports.unix, `"socket" => "${backends.unix}"`]);
  const [first, ...others] = targets;
  const lines = [
    '# rendered by test/helpers/frontends/lighttpd.ts',
    'server.modules += ( "mod_scgi" )',
    `server.document-root = "${dir}/htdocs"`,
    `server.errorlog = "${dir}/error.log"`,
    `server.upload-dirs = ( "${dir}/uploads" )`,
    'server.bind = "127.0.0.1"',
    `server.port = ${first[0]}`,
    ...(isRoot() ? [`server.username = "${RUN_AS}"`, `server.groupname = "${RUN_AS}"`] : []),
    scgi(first[1]),
  ];
  for (const [port, target] of others) lines.push(`$SERVER["socket"] == "127.0.0.1:${port}" {`, `    ${scgi(target)}`, '}');
  return lines.join('\n') + '\n';
}
