// The error base every area extends, and the catalogue of stable codes.
// Leaf module: imports nothing from src/. `cli/format.ts` is the only place that renders these for people.

export type ErrorCode =
  // protocol (src/protocol/errors.ts adds the HTTP status)
  | 'ERR_SCGI_BAD_NETSTRING'
  | 'ERR_SCGI_HEADER_TOO_LARGE'
  | 'ERR_SCGI_BAD_HEADER'
  | 'ERR_SCGI_DUPLICATE_HEADER'
  | 'ERR_SCGI_MISSING_CONTENT_LENGTH'
  | 'ERR_SCGI_BAD_CONTENT_LENGTH'
  | 'ERR_SCGI_BODY_TOO_LARGE'
  | 'ERR_SCGI_MISSING_SCGI'
  | 'ERR_SCGI_HEADER_TIMEOUT'
  | 'ERR_SCGI_BODY_TIMEOUT'
  | 'ERR_SCGI_TRUNCATED_BODY'
  | 'ERR_SCGI_BAD_RESPONSE_HEADER'
  | 'ERR_SCGI_EMPTY_REQUEST' // EOF before any byte (health checks, Apache's chunked → 411): silent-close
  | 'ERR_SCGI_TRUNCATED_HEADER' // EOF inside the netstring: silent-close
  | 'ERR_SCGI_TOO_MANY_HEADERS'
  | 'ERR_SCGI_CONTENT_LENGTH_NOT_FIRST'
  | 'ERR_SCGI_MISSING_REQUEST_VARS' // no REQUEST_METHOD/REQUEST_URI: the front end lacks `include scgi_params` (500)
  // listening socket
  | 'ERR_LISTEN_IN_USE'
  | 'ERR_LISTEN_BAD_ADDRESS'
  | 'ERR_LISTEN_PERMISSION'
  | 'ERR_LISTEN_SOCKET_ALIVE'
  | 'ERR_LISTEN_FAILED'
  // the user's app
  | 'ERR_APP_NOT_FOUND'
  | 'ERR_APP_LOAD_FAILED'
  | 'ERR_APP_BAD_EXPORT'
  | 'ERR_APP_BOOT_TIMEOUT'
  // configuration and command line
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_FILE'
  | 'ERR_CONFIG_PID_FILE' // --pid-file names a live process, or cannot be written
  | 'ERR_CONFIG_PRIVILEGE' // --user/--group asked of a master that is not root
  | 'ERR_CONFIG_CONFLICT' // two sources that cannot both hold: listen set while systemd passed sockets (LISTEN_FDS)
  // control socket and its commands
  | 'ERR_CONTROL_NOT_RUNNING'
  | 'ERR_CONTROL_BAD_FRAME'
  | 'ERR_CONTROL_FRAME_TOO_LARGE'
  | 'ERR_CONTROL_UNKNOWN_COMMAND'
  | 'ERR_CONTROL_BAD_ARGS'
  | 'ERR_CONTROL_BUSY'
  | 'ERR_CONTROL_TIMEOUT'
  | 'ERR_CONTROL_PERMISSION'
  | 'ERR_RELOAD_IN_PROGRESS'
  | 'ERR_RELOAD_FAILED'
  | 'ERR_RELOAD_REFUSED' // the re-read config file is invalid or changes a key only a restart applies (listen…)
  | 'ERR_STOPPING'
  // the built-in SCGI client
  | 'ERR_REQUEST_FAILED'
  | 'ERR_REQUEST_TIMEOUT'
  // a broken invariant inside the supervisor: a bug, report it
  | 'ERR_INTERNAL';

export interface SupervisorErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class SupervisorError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: SupervisorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }

  /** Plain data for IPC and the control socket, where Error objects do not survive. */
  toJSON(): { code: ErrorCode; message: string; hint?: string } {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

export class ListenError extends SupervisorError {
  readonly address: string;
  constructor(code: ErrorCode, address: string, message: string, options: SupervisorErrorOptions = {}) {
    super(code, message, options);
    this.address = address;
  }
}

export class AppLoadError extends SupervisorError {
  readonly file: string;
  constructor(code: ErrorCode, file: string, message: string, options: SupervisorErrorOptions = {}) {
    super(code, message, options);
    this.file = file;
  }
}

export class ConfigError extends SupervisorError {
  readonly key: string;
  /** `code` is ERR_CONFIG_INVALID unless given (ERR_CONFIG_FILE: the YAML file is missing, unreadable or not YAML). */
  constructor(key: string, message: string, options: SupervisorErrorOptions & { code?: ErrorCode } = {}) {
    super(options.code ?? 'ERR_CONFIG_INVALID', message, options);
    this.key = key;
  }
}

export class ControlError extends SupervisorError {}

export class InternalError extends SupervisorError {
  constructor(message: string, options: SupervisorErrorOptions = {}) {
    super('ERR_INTERNAL', message, { hint: 'this is a bug in scgi-supervise; please report it with the log', ...options });
  }
}

export function isErrnoException(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}
