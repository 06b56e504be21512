// Where the control socket lives: a pure rule from (--control, --name, --listen) to one path, so `start` and every
// verb given the same options meet at the same socket. Not the directory checks (control/server.ts does those).
// The rule is documented for users in docs/operations.md; keep the two in step.

import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { ListenAddress } from '../config/config.js';
import { ConfigError } from '../errors.js';

export interface ControlPathOptions {
  /** `--control PATH`: wins over everything else. */
  control?: string | null | undefined;
  /** `--name NAME`: names the socket file inside the default directory. */
  name?: string | null | undefined;
  /** The SCGI listen address; keys the file name when there is no --name. */
  listen: ListenAddress;
}

/** What the rule reads from the environment; injectable for tests. */
export interface ControlPathWorld {
  env: NodeJS.ProcessEnv;
  uid: number;
  tmpdir: string;
}

function currentWorld(): ControlPathWorld {
  return { env: process.env, uid: typeof process.getuid === 'function' ? process.getuid() : -1, tmpdir: tmpdir() };
}

// sun_path is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The directory for derived control sockets:
 * root → /run/scgi-supervise (also when a root shell has XDG_RUNTIME_DIR, so a verb typed in that shell reaches a
 * supervisor started by systemd, which has none); otherwise $XDG_RUNTIME_DIR/scgi-supervise when set and absolute;
 * otherwise <tmpdir>/scgi-supervise-<uid> (server.ts refuses it if another user created it first).
 */
export function defaultControlDir(world: ControlPathWorld = currentWorld()): string {
  if (world.uid === 0) return '/run/scgi-supervise';
  const xdg = world.env.XDG_RUNTIME_DIR;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'scgi-supervise');
  return join(world.tmpdir, `scgi-supervise-${world.uid}`);
}

/** `127.0.0.1_4000.sock`, `[::1]_4000.sock`, `unix-<16 hex of sha256(path)>.sock`, `fd-3.sock`. */
export function socketFileName(listen: ListenAddress): string {
  switch (listen.kind) {
    case 'tcp': {
      // A host never contains '/', the only byte besides NUL a file name cannot hold; keep it readable.
      const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host.toLowerCase();
      return `${host}_${listen.port}.sock`;
    }
    case 'unix':
      // Hashed: the path may be long, and sun_path is short. Resolved first so ./app.sock and /abs/app.sock agree.
      return `unix-${createHash('sha256').update(resolve(listen.path)).digest('hex').slice(0, 16)}.sock`;
    case 'fd':
      // Two systemd units both receive fd 3: they need --name to be told apart (docs/operations.md says so).
      return `fd-${listen.fd}.sock`;
    default: {
      const never: never = listen;
      throw new Error(`unknown listen kind ${JSON.stringify(never)}`);
    }
  }
}

export function resolveControlPath(options: ControlPathOptions, world: ControlPathWorld = currentWorld()): string {
  let path: string;
  if (options.control) {
    path = resolve(options.control);
  } else if (options.name) {
    if (!NAME_RE.test(options.name)) {
      throw new ConfigError('name', `--name ${JSON.stringify(options.name)} is not a valid instance name`, {
        hint: 'use letters, digits, ".", "_" and "-" (at most 64, not starting with "." or "-")',
      });
    }
    path = join(defaultControlDir(world), `${options.name}.sock`);
  } else {
    path = join(defaultControlDir(world), socketFileName(options.listen));
  }
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new ConfigError('control', `control socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes`, {
      hint: 'pass a shorter --control PATH or --name',
    });
  }
  return path;
}
