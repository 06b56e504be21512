// A node:test reporter that scripts/run-tests.mjs adds beside TAP: at the end of a run, one JSON object of test
// file → milliseconds, the sum of the file's top-level tests (its process start and imports not counted). Not the
// TAP output, and not a verdict: run-tests.mjs prints the slowest files, to keep its SERIAL list and the budget honest.

export default async function* fileTimes(source) {
  const ms = {};
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { file, nesting, details } = event.data;
    if (nesting !== 0 || !file) continue;
    ms[file] = (ms[file] ?? 0) + (details?.duration_ms ?? 0);
  }
  yield `${JSON.stringify(ms)}\n`;
}
