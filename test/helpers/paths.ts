// Where things are, seen from the compiled test files under dist/test/**.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url)); // <root>/dist/test/helpers
export const ROOT = join(here, '..', '..', '..');
/** The built CLI, as package.json's bin names it. */
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const APPS = join(FIXTURES, 'apps');
