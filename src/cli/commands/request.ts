// `scgi-supervise request [path]`: send one SCGI request the way nginx would and print the answer, curl-style, so the
// app can be tried and health-checked with no web server. Exit codes (format.ts): 0 status < 400, 1 status ≥ 400,
// 2 no response (refused, reset, timeout, malformed); test/integration/request-cli.test.ts relies on them.
// The wire work is cli/scgi-client.ts.

import { readFileSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ConfigError } from '../../errors.js';
import { parseListenAddress } from '../../config/listen-address.js';
import { EXIT_FAILURE, EXIT_NO_RESPONSE, EXIT_OK, EXIT_USAGE, printError } from '../format.js';
import { scgiRequest, type HeaderList, type ScgiResponse } from '../scgi-client.js';

interface RequestArgs {
  path?: string;
  listen: string;
  method?: string;
  header?: string | string[];
  data?: string;
  include?: boolean;
  timeout: number;
}

export const command: CommandModule<object, RequestArgs> = {
  command: 'request [path]',
  describe: 'Send one SCGI request (as nginx would) and print the response body; exit 0 below 400, 1 from 400, 2 on no response',
  builder: (y: Argv) =>
    y
      .positional('path', { type: 'string', default: '/', describe: 'Request target, e.g. /health or /search?q=x' })
      .option('listen', {
        alias: 'l',
        type: 'string',
        default: process.env.SCGI_SUPERVISE_LISTEN || '127.0.0.1:4000',
        defaultDescription: '$SCGI_SUPERVISE_LISTEN or 127.0.0.1:4000',
        describe: 'Where the supervisor listens: HOST:PORT, [IPv6]:PORT or unix:PATH',
      })
      .option('method', { alias: 'X', type: 'string', describe: 'Request method (default GET, or POST with --data)' })
      // nargs 1, not array: an array option would swallow a path written after it (`-H 'A: b' /path`).
      .option('header', { alias: 'H', type: 'string', nargs: 1, describe: "A request header 'Name: value' (repeatable)" })
      .option('data', { alias: 'd', type: 'string', describe: 'Request body, sent as is; @file reads a file, @- reads stdin' })
      .option('include', { alias: 'i', type: 'boolean', default: false, describe: 'Print the status line and headers before the body' })
      .option('timeout', { type: 'number', default: 10, describe: 'Seconds to wait for the whole response' })
      .example('$0 request /', 'GET / from 127.0.0.1:4000 and print the body')
      .example('$0 request -i -l unix:/run/app.sock /health', 'show status and headers too, over a unix socket')
      .example(
        `$0 request -X POST -H 'Content-Type: application/json' -d '{"name":"ada"}' /api/users`,
        'POST JSON (the body is sent exactly as given)',
      )
      .example('$0 request -d @payload.json -H "Content-Type: application/json" /api/import', 'the body from a file')
      .example(
        'if ! scgi-supervise request --timeout 2 /health > /dev/null; then echo unhealthy; fi',
        'a health check in a shell script: non-zero for an error status (1) or no answer (2)',
      ) as unknown as Argv<RequestArgs>,
  handler: async (argv: ArgumentsCamelCase<RequestArgs>) => {
    let res: ScgiResponse;
    try {
      const options = await prepare(argv);
      res = await scgiRequest(options);
    } catch (err) {
      printError(err);
      // Bad arguments are usage errors; everything else means no (usable) response came.
      process.exitCode = err instanceof ConfigError ? EXIT_USAGE : EXIT_NO_RESPONSE;
      return;
    }
    if (argv.include) process.stdout.write(Buffer.from(formatHead(res), 'latin1')); // header bytes as received
    process.stdout.write(res.body);
    process.exitCode = res.status < 400 ? EXIT_OK : EXIT_FAILURE;
  },
};

async function prepare(argv: ArgumentsCamelCase<RequestArgs>) {
  const address = parseListenAddress(argv.listen);
  if (address.kind === 'fd') {
    throw new ConfigError('listen', `--listen ${argv.listen}: an inherited descriptor cannot be connected to`, {
      hint: 'pass the address the socket is bound to, e.g. -l 127.0.0.1:4000 or -l unix:/run/app.sock',
    });
  }
  const timeout = argv.timeout;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new ConfigError('timeout', `--timeout ${String(timeout)} is not a positive number of seconds`, { hint: 'e.g. --timeout 10' });
  }
  const body = argv.data === undefined ? undefined : await readData(argv.data);
  const method = (argv.method ?? (body === undefined ? 'GET' : 'POST')).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) {
    throw new ConfigError('method', `--method ${JSON.stringify(method)} is not a valid method`, { hint: 'e.g. -X POST' });
  }
  const path = argv.path ?? '/';
  return {
    address,
    method,
    // A bare `health` means `/health`; absolute-form URLs and `*` go as given (front ends may send those too).
    path: path.startsWith('/') || path === '*' || /^[a-z][a-z0-9+.-]*:\/\//i.test(path) ? path : '/' + path,
    headers: ([] as string[]).concat(argv.header ?? []).map(parseHeader),
    body,
    timeoutMs: Math.round(timeout * 1000),
  };
}

function parseHeader(line: string): [string, string] {
  const colon = line.indexOf(':');
  const name = colon === -1 ? '' : line.slice(0, colon).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new ConfigError('header', `-H ${JSON.stringify(line)} is not 'Name: value'`, { hint: "e.g. -H 'Accept: application/json'" });
  }
  const value = line.slice(colon + 1).trim();
  if (/[\r\n\0]/.test(value)) {
    throw new ConfigError('header', `-H ${JSON.stringify(name)} has a line break or NUL in its value`, { hint: 'one header per -H' });
  }
  // nginx (underscores_in_headers off) drops such headers; say so instead of dropping silently.
  if (name.includes('_')) process.stderr.write(`scgi-supervise: note: nginx drops header ${name} (underscore in the name); not sent\n`);
  return [name, value];
}

async function readData(data: string): Promise<Buffer> {
  if (!data.startsWith('@')) return Buffer.from(data, 'utf8');
  const file = data.slice(1);
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError('data', `cannot read the body from ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'check the path after @ (or use @- for stdin)',
      cause: err,
    });
  }
}

/** `Status: 200 OK` then the headers as received, then a blank line: the CGI head the front end would see. */
function formatHead(res: ScgiResponse): string {
  let out = `Status: ${res.status}${res.reason ? ' ' + res.reason : ''}\r\n`;
  for (const [name, value] of res.headers as HeaderList) {
    if (name.toLowerCase() === 'status') continue;
    out += `${name}: ${value}\r\n`;
  }
  return out + '\r\n';
}
