// Parses and prints listen addresses: `HOST:PORT`, `[IPv6]:PORT`, `:PORT`/`PORT` (127.0.0.1), `unix:PATH`, `fd:N`.
// Pure text → ListenAddress (config/config.ts); binding the socket is master/listener.ts, connecting is cli/scgi-client.ts.

import { isIP, isIPv4, isIPv6 } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { ListenAddress } from './config.js';

export type { ListenAddress };

const DEFAULT_HOST = '127.0.0.1'; // loopback by default: nothing is exposed unless asked for
const EXAMPLES = 'use HOST:PORT (127.0.0.1:4000), [IPv6]:PORT ([::1]:4000), unix:/run/app.sock or fd:3';
// Linux sun_path is 108 bytes including the terminating NUL.
const MAX_UNIX_PATH_BYTES = 107;
// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** `key` names the option in errors (`listen` unless a caller parses another option with this grammar). */
export function parseListenAddress(s: string, cwd: string = process.cwd(), key = 'listen'): ListenAddress {
  const text = s.trim();
  const fail = (what: string, hint: string): never => {
    throw new ConfigError(key, `invalid listen address ${JSON.stringify(s)}: ${what}`, { hint });
  };
  if (text === '') fail('it is empty', EXAMPLES);

  if (text.startsWith('unix:')) {
    const raw = text.slice('unix:'.length);
    if (raw === '') fail('the socket path is empty', 'write unix:/run/app.sock');
    if (raw.includes('\0')) fail('the socket path contains a NUL byte', 'write unix:/run/app.sock');
    const path = isAbsolute(raw) ? resolve(raw) : resolve(cwd, raw);
    if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
      fail(
        `the socket path is ${Buffer.byteLength(path)} bytes, more than the ${MAX_UNIX_PATH_BYTES} a unix socket allows`,
        'pick a shorter path, e.g. under /run or /tmp',
      );
    }
    return { kind: 'unix', path };
  }

  if (text.startsWith('fd:')) {
    const raw = text.slice('fd:'.length);
    if (!/^\d{1,9}$/.test(raw)) fail('the descriptor is not a number', 'write fd:3 (systemd passes sockets from fd 3)');
    const fd = Number(raw);
    // 0-2 are stdio; systemd's SD_LISTEN_FDS_START is 3.
    if (fd < 3) fail(`fd ${fd} is standard input/output/error`, 'systemd passes listening sockets from fd 3: write fd:3');
    return { kind: 'fd', fd };
  }

  if (text.startsWith('/') || text.startsWith('./') || text.startsWith('../')) {
    fail('a path needs the unix: prefix', `write unix:${text}`);
  }

  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) fail('the "[" of an IPv6 address is not closed', 'write [::1]:4000');
    host = text.slice(1, close);
    if (!isIPv6(host)) fail(`${JSON.stringify(host)} is not an IPv6 address`, 'write [::1]:4000; brackets are for IPv6 only');
    if (text[close + 1] !== ':') fail('the port is missing after the IPv6 address', 'write [::1]:4000');
    portText = text.slice(close + 2);
  } else if (/^\d+$/.test(text)) {
    host = DEFAULT_HOST;
    portText = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1) fail('the port is missing', `write ${text}:4000 (${EXAMPLES})`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === '') host = DEFAULT_HOST;
    else if (host.includes(':')) {
      fail('an IPv6 address needs brackets', isIPv6(host) ? `write [${host}]:${portText}` : 'write [::1]:4000');
    } else if (!isIPv4(host) && (/^[\d.]+$/.test(host) || !HOSTNAME.test(host))) {
      fail(`${JSON.stringify(host)} is neither an IPv4 address nor a host name`, EXAMPLES);
    }
  }
  return { kind: 'tcp', host, port: parsePort(portText, s, fail) };
}

function parsePort(text: string, original: string, fail: (what: string, hint: string) => never): number {
  if (!/^\d{1,5}$/.test(text)) {
    return fail(text === '' ? 'the port is missing' : `port ${JSON.stringify(text)} is not a number`, 'ports are 1-65535, e.g. 4000');
  }
  const port = Number(text);
  if (port < 1 || port > 65535) return fail(`port ${port} is outside 1-65535`, `e.g. ${original.replace(/\d+$/, '4000')}`);
  return port;
}

/** `127.0.0.1:4000`, `[::1]:4000`, `unix:/abs/path`, `fd:3`: the form log lines and errors use. */
export function formatListenAddress(a: ListenAddress): string {
  switch (a.kind) {
    case 'tcp':
      return isIP(a.host) === 6 || a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
    case 'unix':
      return `unix:${a.path}`;
    case 'fd':
      return `fd:${a.fd}`;
    default: {
      const never: never = a;
      return String(never);
    }
  }
}
