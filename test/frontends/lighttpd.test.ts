// Differential test: diff-express.cjs behind the real lighttpd (Debian) → scgi-supervise, over TCP and a Unix socket,
// must answer every case of cases.ts exactly as node:http does (normalisation: compare.ts). Harness: differential.ts.

import { test } from 'node:test';
import { startLighttpd } from '../helpers/frontends/lighttpd.js';
import { runDifferential } from './differential.js';

test('lighttpd in front of scgi-supervise answers like node:http', async (t) => {
  await runDifferential(t, 'lighttpd', startLighttpd);
});
