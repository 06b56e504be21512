// Exit codes a worker process reserves, so the master can tell a load failure from a crash (gunicorn's 3/4).
// Any other code, or a signal, is a crash.

export const EXIT_OK = 0; // drained and exited on request
export const EXIT_APP_LOAD_FAILED = 3; // the app threw, rejected or exported something unusable while loading
export const EXIT_LISTEN_FAILED = 4; // the inherited listening socket could not be used
export const EXIT_MASTER_GONE = 5; // the IPC channel closed: the master died, so the worker leaves too

export type WorkerExitCode =
  | typeof EXIT_OK
  | typeof EXIT_APP_LOAD_FAILED
  | typeof EXIT_LISTEN_FAILED
  | typeof EXIT_MASTER_GONE;
