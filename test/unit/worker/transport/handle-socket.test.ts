// HandleSocket (src/worker/transport/handle-socket.ts) on real loopback connections: a net.Server whose accepted handles are
// taken over (accept-handles.ts acceptHandles), a plain net client on the other end. Checks what node:http and
// apps rely on as they would with a net.Socket: reads reach the owner in order, writes and callbacks in order and
// always asynchronous, cork/uncork as one write, backpressure and 'drain', end → FIN and 'finish', destroy →
// 'close' (hadError), RST, 'timeout', the peer's address.

import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { HandleSocket } from '../../../../src/worker/transport/handle-socket.js';
import type { SocketOwner } from '../../../../src/worker/transport/connection-socket.js';
import { HandleStream } from '../../../../src/worker/transport/handle-stream.js';
import { acceptHandles } from '../../../../src/worker/transport/accept-handles.js';
import { loadStreamBindings, type StreamHandle } from '../../../../src/node-internals.js';

const loaded = loadStreamBindings();
if (typeof loaded === 'string') throw new Error(`stream bindings unusable here: ${loaded}`);
HandleStream.use(loaded);

class RecordingOwner implements SocketOwner {
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  private waiters: Array<() => void> = [];
  data(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.events.push('data');
    this.wake();
  }
  peerEnded(): void {
    this.events.push('peerEnded');
    this.wake();
  }
  socketError(err: Error): void {
    this.events.push(`error:${(err as NodeJS.ErrnoException).code}`);
  }
  socketClosed(): void {
    this.events.push('closed');
    this.wake();
  }
  received(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
  /** Resolves once `done()` holds, checked after every event (at most 5 s). */
  until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; events: ${this.events.join(',')}`)), 5000);
      const check = () => {
        if (!done()) return void this.waiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      check();
    });
  }
  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

interface Pair {
  socket: HandleSocket;
  owner: RecordingOwner;
  client: Socket;
  /** Everything the client received, and whether it saw FIN / an error. */
  clientSide: { bytes: Buffer[]; ended: boolean; error: string | null; closed: Promise<void> };
}

async function pair(t: TestContext): Promise<Pair> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const accepted = new Promise<StreamHandle>((resolve) => {
    assert.equal(acceptHandles(server, resolve, (err) => assert.fail(err)), true);
  });
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  t.after(() => client.destroy());
  const clientSide: Pair['clientSide'] = { bytes: [], ended: false, error: null, closed: Promise.resolve() };
  client.on('data', (b: Buffer) => clientSide.bytes.push(b));
  client.on('end', () => (clientSide.ended = true));
  client.on('error', (e: NodeJS.ErrnoException) => (clientSide.error = e.code ?? e.message));
  clientSide.closed = new Promise((resolve) => client.on('close', () => resolve()));
  const socket = new HandleSocket(await accepted);
  const owner = new RecordingOwner();
  socket.start(owner);
  t.after(() => socket.destroy());
  return { socket, owner, client, clientSide };
}

test('reads reach the owner in order; the peer address comes from getpeername', async (t) => {
  const { socket, owner, client } = await pair(t);
  client.write('hello ');
  await owner.until(() => owner.received() === 'hello ');
  client.write('world');
  await owner.until(() => owner.received() === 'hello world');
  assert.equal(socket.remoteAddress, '127.0.0.1');
  assert.equal(socket.remotePort, client.localPort);
  assert.equal(socket.remoteFamily, 'IPv4');
  assert.equal(socket.localPort, client.remotePort);
  assert.equal(socket.bytesRead, 11);
  client.end();
  await owner.until(() => owner.events.includes('peerEnded'));
  assert.equal(socket.readable, false);
});

test('pause stops reading and resume starts again; nothing is lost in between', async (t) => {
  const { socket, owner, client } = await pair(t);
  socket.pause();
  assert.equal(socket.isPaused(), true);
  client.write('abc');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(owner.received(), '', 'nothing read while paused');
  socket.resume();
  await owner.until(() => owner.received() === 'abc');
});

test('write callbacks run later, in order; end() sends FIN after the bytes and emits finish', async (t) => {
  const { socket, clientSide } = await pair(t);
  const order: string[] = [];
  socket.write('one,', 'latin1', () => order.push('cb1'));
  socket.write(Buffer.from('two,'), () => order.push('cb2'));
  socket.write('thrée', 'utf8', () => order.push('cb3'));
  order.push('sync');
  const finished = new Promise<void>((resolve) => socket.on('finish', () => resolve()));
  socket.end();
  await finished;
  await new Promise<void>((resolve) => {
    const poll = () => (clientSide.ended ? resolve() : setTimeout(poll, 10));
    poll();
  });
  assert.deepEqual(order, ['sync', 'cb1', 'cb2', 'cb3']);
  assert.equal(Buffer.concat(clientSide.bytes).toString('utf8'), 'one,two,thrée');
  assert.equal(socket.bytesWritten, Buffer.byteLength('one,two,thrée'));
  assert.equal(socket.writableFinished, true);
  assert.equal(socket.write('late', (err) => order.push(`late:${(err as NodeJS.ErrnoException).code}`)), false);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order.slice(-1), ['late:ERR_STREAM_WRITE_AFTER_END']);
});

test('corked writes leave as one, node:http style (corked forced to 1, then uncork); null callbacks are ignored', async (t) => {
  const { socket, clientSide } = await pair(t);
  const calls: string[] = [];
  socket.cork();
  socket.cork();
  socket.write('head;', 'latin1', null as never);
  socket.write(Buffer.from('body;'), () => calls.push('a'));
  socket.write('', 'latin1', () => calls.push('b'));
  assert.equal(socket.writableCorked, 2);
  assert.equal(socket.writableLength, 10);
  socket._writableState.corked = 1; // what OutgoingMessage#end does
  socket.uncork();
  assert.equal(socket.writableCorked, 0);
  socket.end();
  await clientSide.closed.catch(() => undefined);
  await new Promise<void>((resolve) => {
    const poll = () => (clientSide.ended ? resolve() : setTimeout(poll, 10));
    poll();
  });
  assert.equal(Buffer.concat(clientSide.bytes).toString(), 'head;body;');
  assert.deepEqual(calls, ['a', 'b']);
});

test("a write past the high-water mark returns false and 'drain' follows once the peer reads", async (t) => {
  const { socket, client } = await pair(t);
  client.pause(); // the peer does not read: the kernel buffers fill, libuv queues
  const chunk = Buffer.alloc(1 << 20, 'x');
  let ok = true;
  let writes = 0;
  while (ok && writes < 64) {
    ok = socket.write(chunk);
    writes++;
  }
  assert.equal(ok, false, 'backpressure within 64 MiB');
  assert.equal(socket.writableNeedDrain, true);
  assert.ok(socket.writableLength > 0);
  const drained = new Promise<void>((resolve) => socket.once('drain', () => resolve()));
  client.resume();
  await drained;
  assert.equal(socket.writableLength, 0);
});

test("destroy(err): the owner hears the error and the close, then 'error' (when listened to) and 'close' with hadError", async (t) => {
  const { socket, owner, clientSide } = await pair(t);
  const seen: string[] = [];
  socket.on('error', (e) => seen.push(`error:${e.message}`));
  socket.on('close', (hadError) => seen.push(`close:${hadError}`));
  socket.destroy(Object.assign(new Error('boom'), { code: 'EBOOM' }));
  assert.equal(socket.destroyed, true);
  assert.equal(socket._hadError, true);
  await owner.until(() => owner.events.includes('closed'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(owner.events, ['error:EBOOM', 'closed']);
  assert.deepEqual(seen, ['error:boom', 'close:true']);
  await clientSide.closed;
  assert.equal(clientSide.ended, true, 'a plain close is a FIN');
});

test('destroy() without listeners emits no unhandled error; close(false)', async (t) => {
  const { socket, owner } = await pair(t);
  let hadError: boolean | null = null;
  socket.on('close', (h) => (hadError = h));
  socket.destroy();
  await owner.until(() => owner.events.includes('closed'));
  await new Promise((r) => setImmediate(r));
  assert.equal(hadError, false);
});

test('resetAndDestroy sends RST: the peer sees ECONNRESET', async (t) => {
  const { socket, client, clientSide } = await pair(t);
  client.write('unread'); // unread input would turn a plain close into RST too; read it first
  await new Promise((r) => setTimeout(r, 50));
  socket.write('partial');
  await new Promise((r) => setTimeout(r, 50));
  socket.resetAndDestroy();
  await clientSide.closed;
  assert.equal(clientSide.error, 'ECONNRESET');
});

test("setTimeout: 'timeout' after the idle time, pushed back by activity; 0 turns it off", async (t) => {
  const { socket, client } = await pair(t);
  const started = Date.now();
  const fired = new Promise<number>((resolve) => socket.setTimeout(150, () => resolve(Date.now() - started)));
  setTimeout(() => client.write('x'), 100); // activity at ~100 ms pushes the timeout to ~250 ms
  const after = await fired;
  assert.ok(after >= 220, `timeout at ${after} ms`);
  let again = false;
  socket.setTimeout(50, () => (again = true));
  socket.setTimeout(0);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(again, false);
});
