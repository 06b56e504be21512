// ProtocolError: what the parser reports when a request cannot be served, and how the worker must answer it.
// `status` null means "silent-close" (docs/protocol.md "How the worker answers a bad request"): close without writing a byte, log at debug.

import { SupervisorError, type ErrorCode, type SupervisorErrorOptions } from '../errors.js';

export type ProtocolStatus = 400 | 408 | 411 | 413 | 431 | 500 | null;

export class ProtocolError extends SupervisorError {
  readonly status: ProtocolStatus;
  constructor(code: ErrorCode, status: ProtocolStatus, message: string, options: SupervisorErrorOptions = {}) {
    super(code, message, options);
    this.status = status;
  }
}
