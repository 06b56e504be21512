// Differential test: diff-express.cjs behind the real nginx (Debian) → scgi-supervise, over TCP and a Unix socket,
// must answer every case of cases.ts exactly as node:http does (normalisation: compare.ts). Harness: differential.ts.

import { test } from 'node:test';
import { startNginx } from '../helpers/frontends/nginx.js';
import { runDifferential } from './differential.js';

test('nginx in front of scgi-supervise answers like node:http', async (t) => {
  await runDifferential(t, 'nginx', startNginx);
});
