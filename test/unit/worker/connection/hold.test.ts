// The hold of queued connections (serve.ts ConnectionSet backlogged, connection.ts hold; docs/protocol.md "Client
// aborts"), with fake sockets and no processes: a connection of the first accept burst after a start or resume is
// parsed two loop turns after its first bytes, or never if the FIN came meanwhile; later ones are not held; a resume
// between a burst and its clearing keeps the next burst held. The end-to-end tests are
// test/integration/worker-queued-abort.test.ts and test/frontends/queued-abort.test.ts.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { ConnectionSet } from '../../../../src/worker/connection/serve.js';
import type { Exchange, ExchangeHost } from '../../../../src/worker/connection/exchange.js';
import type { Logger } from '../../../../src/log.js';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../../../../src/protocol/limits.js';
import { encodeRequest } from '../../../../src/protocol/request-encoder.js';
import type { RequestHead } from '../../../../src/protocol/request-parser.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function request(uri: string): Buffer {
  return encodeRequest([
    ['REQUEST_METHOD', 'GET'],
    ['REQUEST_URI', uri],
  ]);
}

/** Just what a Connection and net-socket-events.ts call on a net.Socket; 'close' follows destroy() asynchronously. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  bytesWritten = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  private paused = false;
  write(): boolean {
    return true;
  }
  end(): this {
    return this;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  isPaused(): boolean {
    return this.paused;
  }
  setNoDelay(): this {
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      process.nextTick(() => this.emit('close', false));
    }
    return this;
  }
  resetAndDestroy(): this {
    return this.destroy();
  }
}

function silentLog(lines: string[]): Logger {
  const fn = (a: unknown, b?: string): void => {
    lines.push(typeof a === 'string' ? a : (b ?? ''));
  };
  const log: Logger = { level: 'debug', trace: fn, debug: fn, info: fn, warn: fn, error: fn, fatal: fn, child: () => log, isLevelEnabled: () => true };
  return log;
}

/** A ConnectionSet whose app records each request it is handed and never answers. */
function setUp(maxConnections = 0): { set: ConnectionSet; ran: string[]; logs: string[]; control: { pauses: number; resumes: number } } {
  const ran: string[] = [];
  const logs: string[] = [];
  const exchange = (head: RequestHead): Exchange => ({
    dispatch: () => ran.push(head.uri),
    body: () => true,
    end: () => {},
    abort: () => {},
    expire: () => {},
    socketClosed: () => {},
    dump: () => {},
    headWritten: () => false,
    responseEnded: () => false,
    status: () => 200,
  });
  const set = new ConnectionSet({
    startExchange: (_host: ExchangeHost, head: RequestHead) => exchange(head),
    limits: DEFAULT_LIMITS,
    timeouts: DEFAULT_TIMEOUTS,
    log: silentLog(logs),
    maxConnections,
  });
  const control = { pauses: 0, resumes: 0 };
  set.gate({ pause: () => control.pauses++, resume: () => control.resumes++ });
  return { set, ran, logs, control };
}

function accept(set: ConnectionSet): FakeSocket {
  const socket = new FakeSocket();
  set.accept(socket as unknown as Socket);
  return socket;
}

test('a connection of the first burst: request then FIN before its second turn → never run, counted aborted', async (t) => {
  const { set, ran, logs } = setUp();
  t.after(() => set.stop());
  const s = accept(set);
  s.emit('data', request('/gone'));
  s.emit('end');
  await turn();
  await turn();
  assert.deepEqual(ran, []);
  assert.equal(s.destroyed, true);
  assert.equal(set.requests, 1);
  assert.equal(set.inflight, 0);
  assert.equal(set.counts.codes[0], 1); // aborted: no response
  assert.ok(logs.some((l) => l.startsWith('request not run: the front end closed the connection')), logs.join('\n'));
});

test('a held request without FIN runs after two turns, not one; a connection accepted after the burst is not held', async (t) => {
  const { set, ran } = setUp();
  t.after(() => set.stop());
  const s = accept(set);
  s.emit('data', request('/held'));
  assert.deepEqual(ran, []);
  await turn();
  assert.deepEqual(ran, []); // one turn is not enough: libuv reads the FIN on the next poll
  await turn();
  assert.deepEqual(ran, ['/held']);
  const later = accept(set);
  later.emit('data', request('/later'));
  assert.deepEqual(ran, ['/held', '/later']); // at once
});

test('a second read within the hold releases at once (a request longer than one read keeps its backpressure)', async (t) => {
  const { set, ran } = setUp();
  t.after(() => set.stop());
  const s = accept(set);
  const bytes = request('/two-reads');
  s.emit('data', bytes.subarray(0, 5));
  assert.deepEqual(ran, []);
  s.emit('data', bytes.subarray(5));
  assert.deepEqual(ran, ['/two-reads']);
});

test('max-connections: a resume between a burst and its clearing keeps the next burst held', async (t) => {
  const { set, ran, control } = setUp(1);
  t.after(() => set.stop());
  const first = accept(set); // the start's burst: held, and at the cap → pause
  assert.equal(control.pauses, 1);
  first.destroy(); // closes before its header: the gate reopens, still before the burst's clearing ran
  await new Promise((r) => process.nextTick(r));
  assert.equal(control.resumes, 1);
  await turn(); // the clearing scheduled by the first burst
  const next = accept(set);
  next.emit('data', request('/queued'));
  assert.deepEqual(ran, [], 'the resumed burst was not held');
  next.emit('end');
  await turn();
  await turn();
  assert.deepEqual(ran, []);
  assert.equal(set.counts.codes[0], 1);
});
