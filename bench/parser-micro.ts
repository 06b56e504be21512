// Micro-benchmark of the request parser's hot path: one whole nginx-like request (docs/protocol.md "Front ends, in brief")
// pushed in one chunk, as the worker sees it. Not the end-to-end benchmark (that is bench/run.ts, issue 5).
// Run: npx tsc -p . && node dist/bench/parser-micro.js [iterations]
// Prints ns/request for RequestParser and, as a floor, for a bare loop that only finds the netstring (what the
// reference bare Node server does), plus the ratio.

import { RequestParser, type ParserSink, type RequestHead } from '../src/protocol/request-parser.js';
import { encodeRequest, nginxLikeParams } from '../src/protocol/request-encoder.js';

const request = encodeRequest(
  nginxLikeParams({
    method: 'GET',
    uri: '/path?x=1',
    headers: [
      ['Host', '127.0.0.1:18080'],
      ['User-Agent', 'curl/7.88.1'],
      ['Accept', '*/*'],
    ],
    remotePort: 43210,
    serverPort: 18080,
    documentRoot: '/tmp/scgi-lab/nginx/html',
  }),
);

let sinkChecksum = 0;
const sink: ParserSink = {
  onHead(head: RequestHead) {
    sinkChecksum += head.method.length + head.uri.length + head.contentLength;
  },
  onBody(chunk: Buffer) {
    sinkChecksum += chunk.length;
  },
  onEnd() {
    sinkChecksum++;
  },
  onError(error) {
    throw error;
  },
};

/** CPU time (user + system) per iteration, in ns: unlike wall time it is not inflated when other processes
 * compete for the cores (the test machines run benchmarks side by side). */
function cpuNs(run: () => void, iterations: number): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / iterations;
}

function runParser(iterations: number): number {
  return cpuNs(() => {
    for (let i = 0; i < iterations; i++) {
      const parser = new RequestParser(sink);
      parser.push(request);
    }
  }, iterations);
}

/** The bare server's work: read the length digits, skip to the comma; no params decoded. */
function runBare(iterations: number): number {
  return cpuNs(() => {
    for (let i = 0; i < iterations; i++) {
      const colon = request.indexOf(0x3a);
      let len = 0;
      for (let j = 0; j < colon; j++) len = len * 10 + (request[j]! - 0x30);
      if (request[colon + 1 + len] === 0x2c) sinkChecksum++;
    }
  }, iterations);
}

const iterations = Number(process.argv[2] ?? 1_000_000);
// Warm up both so the optimizing compiler has seen them, then take the best of 5 rounds.
runParser(200_000);
runBare(200_000);
let parserNs = Infinity;
let bareNs = Infinity;
for (let round = 0; round < 5; round++) {
  parserNs = Math.min(parserNs, runParser(iterations));
  bareNs = Math.min(bareNs, runBare(iterations));
}
const block = request.indexOf(0x2c) - request.indexOf(0x3a) - 1;
console.log(`request: ${request.length} bytes (block ${block} bytes), ${iterations} iterations, best of 5`);
console.log(`RequestParser: ${parserNs.toFixed(0)} ns/request (CPU time)`);
console.log(`bare netstring scan: ${bareNs.toFixed(0)} ns/request (CPU time)`);
console.log(`checksum ${sinkChecksum}`);
