// The child `scgi-supervise check` runs to load the app the way a worker does (worker/adapters/load-app.ts), in the
// workers' folder, environment and node flags, then exit: 0 with what the app is, or 1 with the AppLoadError as
// one JSON line on stdout. Not a worker: it binds nothing and serves nothing.
//   node dist/src/cli/check-app.js <app>

import { loadApp } from '../worker/adapters/load-app.js';
import { SupervisorError } from '../errors.js';

const app = process.argv[2] ?? '';
try {
  const loaded = await loadApp(app);
  process.stdout.write(JSON.stringify({ ok: true, description: loaded.description }) + '\n');
  process.exitCode = 0;
} catch (err) {
  const e = err instanceof SupervisorError ? { code: err.code, message: err.message, hint: err.hint } : { code: 'ERR_APP_LOAD_FAILED', message: String(err) };
  process.stdout.write(JSON.stringify({ ok: false, error: e }) + '\n');
  process.exitCode = 1;
}
// An app may keep timers or sockets open (a database pool): loading is all we wanted.
setImmediate(() => process.exit());
