// Shared by the control unit tests: a FAKE ControlTarget (reload held open until released), a server on a temp
// path, a raw framed client, and bounded waits. The real Master is exercised in test/integration/control-*.test.ts.

import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../../src/control/server.js';
import { FrameDecoder, MAX_RESPONSE_FRAME_BYTES } from '../../../src/control/protocol.js';
import type { ControlTarget } from '../../../src/control/target.js';
import type { StatsSnapshot } from '../../../src/stats-contract.js';
import { SupervisorError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';

export const log = createLogger({ name: 'control-test', level: 'silent' });

export const SNAPSHOT: StatsSnapshot = {
  master: { pid: 1, version: '0.0.0', listen: '127.0.0.1:4000', generation: 1, uptime: 1, workers: 1, listenQueue: null, config: {}, totals: { requests: 0, timeouts: 0, recycles: 0, restarts: 0 } },
  workers: [
    { id: 0, pid: 2, state: 'ready', generation: 1, uptime: 1, requests: 5, inflight: 0, timeouts: 0, restarts: 0, recycles: 0, recentRestarts: 0, lastExit: null, cpu: 0, memory: 1 },
  ],
};

/** A fake target whose reload waits for `releaseReload()`, so tests can hold a request in progress. */
export function fakeTarget() {
  let release: () => void = () => {};
  const calls: string[] = [];
  const target: ControlTarget & { calls: string[]; releaseReload(): void } = {
    calls,
    releaseReload: () => release(),
    reload: () => {
      calls.push('reload');
      return new Promise((resolve) => (release = () => resolve({ generation: 2, durationMs: 10, workers: 1 })));
    },
    stats: async () => {
      calls.push('stats');
      return SNAPSHOT;
    },
    scale: async (workers) => {
      calls.push(`scale ${workers}`);
      if (workers === 13) throw new SupervisorError('ERR_STOPPING', 'the supervisor is stopping', { hint: 'wait' });
      if (workers === 14) throw new TypeError('boom');
      return { from: 1, to: workers };
    },
    stop: async () => {
      calls.push('stop');
    },
    metrics: async () => {
      calls.push('metrics');
      return '# HELP x y\n# TYPE x gauge\nx 1\n';
    },
  };
  return target;
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startServer(t: TestContext, options: Partial<ConstructorParameters<typeof ControlServer>[1]> = {}) {
  const dir = tempDir(t);
  const path = join(dir, 'run', 'ctl.sock');
  const target = fakeTarget();
  const server = new ControlServer(target, { path, log, ...options });
  await server.listen();
  t.after(() => server.close());
  return { dir, path, target, server };
}

/** A raw client: write any bytes, read decoded frames, see when the server closes. */
export function rawClient(path: string) {
  const socket: Socket = createConnection(path);
  const decoder = new FrameDecoder(MAX_RESPONSE_FRAME_BYTES);
  const frames: Array<Record<string, unknown>> = [];
  let waiter: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    for (const e of decoder.push(chunk)) if (e.type === 'frame') frames.push(e.value as Record<string, unknown>);
    waiter?.();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return {
    socket,
    frames,
    connected,
    closed,
    async waitFrames(n: number, timeoutMs = 3000): Promise<Array<Record<string, unknown>>> {
      const deadline = Date.now() + timeoutMs;
      while (frames.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} frames, got ${frames.length}: ${JSON.stringify(frames)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return frames;
    },
  };
}

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

