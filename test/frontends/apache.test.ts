// Differential test: diff-express.cjs behind the real apache (Debian) → scgi-supervise, over TCP and a Unix socket,
// must answer every case of cases.ts exactly as node:http does (normalisation: compare.ts). Harness: differential.ts.

import { test } from 'node:test';
import { startApache } from '../helpers/frontends/apache.js';
import { runDifferential } from './differential.js';

test('apache in front of scgi-supervise answers like node:http', async (t) => {
  await runDifferential(t, 'apache', startApache);
});
