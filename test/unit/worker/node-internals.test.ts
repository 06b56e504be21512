// Pins every private Node API the product uses: the node:http fields worker/adapters/ relies on (LIBRARIES.md §7:
// approach C uses private API), net.Socket's, the libuv stream bindings worker/transport/ serves on, and
// net._createServerHandle (master/listener.ts), each as src/node-internals.ts probes it. If a Node major renames
// one, this fails first, with the name, instead of a mysterious hang.
import assert from 'node:assert/strict';
import { IncomingMessage, OutgoingMessage, ServerResponse } from 'node:http';
import { createServer, Socket } from 'node:net';
import { test } from 'node:test';
import {
  chooseIoPath,
  createServerHandle,
  httpInternals,
  loadStreamBindings,
  netSocketInternals,
  STREAM_METHODS,
  TCP_METHODS,
} from '../../../src/node-internals.js';
import { acceptHandles } from '../../../src/worker/transport/accept-handles.js';

test('OutgoingMessage keeps kOutHeaders and kNeedDrain as own symbols and has _storeHeader/_send', () => {
  const out = new OutgoingMessage();
  const symbols = Object.getOwnPropertySymbols(out).map((s) => s.description);
  assert.ok(symbols.includes('kOutHeaders'), symbols.join());
  assert.ok(symbols.includes('kNeedDrain'), symbols.join());
  const proto = OutgoingMessage.prototype as unknown as Record<string, unknown>;
  assert.equal(typeof proto._storeHeader, 'function');
  assert.equal(typeof proto._send, 'function');
  assert.equal(proto._send instanceof Function && (proto._send as (...a: unknown[]) => unknown).length >= 3, true);
});

test('ServerResponse has the fields and methods the adapter sets or calls', () => {
  const req = new IncomingMessage(new Socket());
  req.method = 'HEAD';
  const res = new ServerResponse(req) as unknown as Record<string, unknown>;
  for (const field of ['useChunkedEncodingByDefault', 'shouldKeepAlive', 'sendDate', 'chunkedEncoding', '_hasBody', '_last', '_removedContLen', '_closed', '_headerSent']) {
    assert.ok(field in res, field);
  }
  assert.equal(res._header, null);
  assert.equal(res._hasBody, false, 'HEAD: node:http itself drops the body');
  assert.equal(res._contentLength, null);
  for (const method of ['writeContinue', 'writeProcessing', 'writeEarlyHints', '_implicitHeader', '_finish']) {
    assert.equal(typeof res[method], 'function', method);
  }
  // response-fast-paths.ts: end(body) sends only when nothing is queued, and setHeader fills kOutHeaders lazily.
  assert.ok(Array.isArray(res.outputData), 'outputData');
  const kOutHeaders = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kOutHeaders')!;
  assert.equal(res[kOutHeaders as unknown as string], null, 'kOutHeaders starts null');
  (res as unknown as ServerResponse).setHeader('X-A', '1');
  assert.deepEqual({ ...(res[kOutHeaders as unknown as string] as object) }, { 'x-a': ['X-A', '1'] }, 'kOutHeaders holds [name, value]');
});

test('IncomingMessage builds req.headers and headersDistinct lazily from rawHeaders and kHeadersCount', () => {
  const req = new IncomingMessage(new Socket());
  const kHeadersCount = Object.getOwnPropertySymbols(req).find((s) => s.description === 'kHeadersCount');
  assert.ok(kHeadersCount !== undefined, 'kHeadersCount');
  req.rawHeaders = ['host', 'a.test', 'x-a', '1', 'x-a', '2', 'cookie', 'c=1', 'cookie', 'd=2', 'host', 'b.test'];
  (req as unknown as Record<symbol, number>)[kHeadersCount] = req.rawHeaders.length;
  assert.deepEqual({ ...req.headers }, { host: 'a.test', 'x-a': '1, 2', cookie: 'c=1; d=2' });
  assert.deepEqual({ ...req.headersDistinct }, { host: ['a.test', 'b.test'], 'x-a': ['1', '2'], cookie: ['c=1', 'd=2'] });
});

test('IncomingMessage has _dump, _consuming and a settable headers object', () => {
  const req = new IncomingMessage(new Socket()) as unknown as Record<string, unknown> & IncomingMessage;
  assert.equal(typeof req._dump, 'function');
  assert.equal(req._consuming, false);
  assert.equal((req as unknown as { _readableState: { resumeScheduled: boolean } })._readableState.resumeScheduled, false);
  req.headers = { host: 'x' };
  assert.deepEqual(req.headers, { host: 'x' });
  assert.equal(typeof new Socket().resetAndDestroy, 'function');
});

test("net.Socket's remoteAddress/remotePort/remoteFamily read the cached _peername (describePeer fills it)", () => {
  const socket = new Socket() as Socket & { _peername?: unknown; _getpeername?: unknown };
  assert.equal(typeof socket._getpeername, 'function');
  socket._peername = { address: '10.1.2.3', family: 'IPv4', port: 40000 };
  assert.equal(socket.remoteAddress, '10.1.2.3');
  assert.equal(socket.remotePort, 40000);
  assert.equal(socket.remoteFamily, 'IPv4');
});

test('net.Socket has _write and _writev, and a Writable looks its _writev up per flush (the adapter sets its own)', () => {
  const proto = Socket.prototype as unknown as Record<string, unknown>;
  assert.equal(typeof proto._write, 'function');
  assert.equal(typeof proto._writev, 'function');
});

test("accept-handles.ts: process.binding('stream_wrap') gives WriteWrap, ShutdownWrap and the shared state the worker serves on", () => {
  const loaded = loadStreamBindings();
  assert.equal(typeof loaded, 'object', `bindings unusable: ${String(loaded)}`);
  const b = loaded as Exclude<typeof loaded, string>;
  assert.equal(b.state.length >= 4, true);
  assert.deepEqual(
    new Set([b.kReadBytesOrError, b.kArrayBufferOffset, b.kBytesWritten, b.kLastWriteWasAsync]).size,
    4,
    'four distinct slots',
  );
});

test('TCP and Pipe handles have the StreamBase methods a HandleSocket calls; only TCP has reset, setNoDelay, getpeername', () => {
  const binding = (process as unknown as { binding(name: string): Record<string, { prototype: object }> }).binding;
  const tcp = binding.call(process, 'tcp_wrap').TCP!.prototype as Record<string, unknown>;
  const pipe = binding.call(process, 'pipe_wrap').Pipe!.prototype as Record<string, unknown>;
  for (const proto of [tcp, pipe]) {
    for (const m of ['readStart', 'readStop', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writev', 'shutdown', 'close', 'ref', 'unref']) {
      assert.equal(typeof proto[m], 'function', m);
    }
    assert.ok('onread' in proto, 'onread accessor');
  }
  for (const m of ['reset', 'setNoDelay', 'setKeepAlive', 'getpeername', 'getsockname']) assert.equal(typeof tcp[m], 'function', m);
  assert.equal(typeof pipe.reset, 'undefined');
});

test("a listening net.Server's handle takes an onconnection callback (acceptHandles replaces it)", async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const handle = (server as unknown as { _handle: Record<string, unknown> })._handle;
    assert.equal(typeof handle.onconnection, 'function');
    assert.equal(acceptHandles(server, () => undefined, () => undefined), true);
  } finally {
    server.close();
  }
});

test('node-internals.ts httpInternals: finds the symbols and methods, and nothing the adapter relies on is missing', () => {
  const http = httpInternals();
  assert.deepEqual(http.missing, []);
  assert.equal(http.kOutHeaders?.description, 'kOutHeaders');
  assert.equal(http.kNeedDrain?.description, 'kNeedDrain');
  assert.equal(http.kHeadersCount?.description, 'kHeadersCount');
  const proto = OutgoingMessage.prototype as unknown as Record<string, unknown>;
  for (const [name, method] of Object.entries(http.outgoing)) assert.equal(method, proto[name], name);
  assert.ok(Object.getOwnPropertySymbols(new OutgoingMessage()).includes(http.kOutHeaders!), 'the same symbol node uses');
  assert.equal(httpInternals(), http, 'probed once');
});

test('node-internals.ts netSocketInternals: _writev is found and the _peername cache works', () => {
  const probed = netSocketInternals();
  assert.equal(probed.writev, (Socket.prototype as unknown as Record<string, unknown>)._writev);
  assert.equal(probed.peernameCache, true);
  assert.deepEqual(probed.missing, []);
});

test('node-internals.ts chooseIoPath: handles on a listening server, net.Socket with the reason otherwise', async (t) => {
  const server = createServer();
  t.after(() => server.close());
  const before = chooseIoPath(server);
  assert.deepEqual(before, { kind: 'net-socket', reason: 'the server has no handle to take over' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const path = chooseIoPath(server);
  assert.equal(path.kind, 'handles', path.kind === 'net-socket' ? path.reason : '');
  assert.equal(path.kind === 'handles' && path.listening, (server as unknown as { _handle: unknown })._handle);
  const saved = process.env.SCGI_SUPERVISE_NET_SOCKETS;
  process.env.SCGI_SUPERVISE_NET_SOCKETS = '1';
  try {
    assert.deepEqual(chooseIoPath(server), { kind: 'net-socket', reason: 'SCGI_SUPERVISE_NET_SOCKETS=1' });
  } finally {
    if (saved === undefined) delete process.env.SCGI_SUPERVISE_NET_SOCKETS;
    else process.env.SCGI_SUPERVISE_NET_SOCKETS = saved;
  }
});

test('node-internals.ts probes the same handle methods this file pins', () => {
  assert.deepEqual([...STREAM_METHODS].sort(), ['close', 'readStart', 'readStop', 'ref', 'shutdown', 'unref', 'writeBuffer', 'writeLatin1String', 'writeUtf8String', 'writev']);
  assert.deepEqual([...TCP_METHODS].sort(), ['getpeername', 'getsockname', 'reset', 'setKeepAlive', 'setNoDelay']);
});

test('node-internals.ts createServerHandle: net._createServerHandle binds a TCP handle with an fd (master/listener.ts)', () => {
  assert.notEqual(createServerHandle, null, 'net._createServerHandle is missing');
  const handle = createServerHandle!('127.0.0.1', 0, 4, undefined, 0);
  assert.equal(typeof handle, 'object', `bind failed: ${String(handle)}`);
  const h = handle as Exclude<typeof handle, number>;
  try {
    assert.equal(typeof h.fd, 'number');
    assert.ok(h.fd >= 0);
    const out: { port?: number } = {};
    assert.equal(h.getsockname?.(out), 0);
    assert.ok((out.port ?? 0) > 0, 'bound to a port');
  } finally {
    h.close();
  }
});
