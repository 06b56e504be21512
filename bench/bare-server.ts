// The reference floor for bench/run.ts: a bare Node SCGI server, `cluster` + `net`, calling no app. It reads the
// netstring length up to ':', takes CONTENT_LENGTH from the first header, waits for the whole block and body, writes
// one fixed CGI response and closes. Not the product (src/worker/ serves real apps); the scheduling policy comes from
// NODE_CLUSTER_SCHED_POLICY (none = shared listening handle, rr = round-robin through the master), set by the caller.
// Usage: node dist/bench/bare-server.js PORT WORKERS [BODY_BYTES]   (logs `ready: <N> workers on 127.0.0.1:<PORT>`)

import cluster from 'node:cluster';
import net from 'node:net';

const port = Number(process.argv[2]);
const workers = Number(process.argv[3] ?? 2);
const bodyBytes = process.argv[4] === undefined ? -1 : Number(process.argv[4]);

if (cluster.isPrimary) {
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === workers) {
      const policy = cluster.schedulingPolicy === cluster.SCHED_NONE ? 'none' : 'rr';
      process.stderr.write(`ready: ${workers} workers on 127.0.0.1:${port} policy=${policy}\n`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) process.stderr.write(`bare worker ${worker.process.pid} exited (${code ?? signal})\n`);
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Wait for the workers (they exit on SIGTERM, writing --cpu-prof profiles first), at most 5 s.
    setTimeout(() => process.exit(0), 5000).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  // Exit normally on SIGTERM so `--cpu-prof` (bench/profile.ts) can write its profile.
  process.on('SIGTERM', () => process.exit(0));
  serve();
}

function serve(): void {
  const body = bodyBytes < 0 ? Buffer.from('Hello, world!\n') : Buffer.alloc(bodyBytes, 'x');
  const type = bodyBytes < 0 ? 'text/plain' : 'application/octet-stream';
  const head = `Status: 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`;
  const RESPONSE = Buffer.concat([Buffer.from(head, 'latin1'), body]); // one write per response
  const CL_NAME = 15; // 'CONTENT_LENGTH\0'.length: the spec makes it the first header

  const server = net.createServer((socket) => {
    let head: Buffer | null = null; // bytes until the length of the whole request is known
    let received = 0;
    let need = -1;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (need < 0) {
        head = head === null ? chunk : Buffer.concat([head, chunk]);
        const colon = head.indexOf(58); // ':'
        if (colon < 0) return;
        const blockLength = parseInt(head.toString('latin1', 0, colon), 10);
        const valueStart = colon + 1 + CL_NAME;
        const valueEnd = head.indexOf(0, valueStart);
        if (valueEnd < 0) return;
        need = colon + 1 + blockLength + 1 + parseInt(head.toString('latin1', valueStart, valueEnd), 10);
        head = null;
      }
      if (received >= need) {
        need = Infinity; // bytes after the body are ignored
        socket.end(RESPONSE);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(port, '127.0.0.1');
}
