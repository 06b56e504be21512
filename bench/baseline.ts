// The bench's `--baseline REF`: the product at another commit, exported with `git archive` into a cache dir beside
// the OS temp dir and built there with this checkout's TypeScript, so bench/run.ts can run it as one more backend
// in the same interleaved rounds (before/after in one run, as the issues ask). Not the running (backends.ts).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Returns the root of a built checkout of `ref`; reuses an earlier build of the same commit. */
export function prepareBaseline(ref: string, root: string, log: (line: string) => void): string {
  const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
  let sha: string;
  try {
    sha = git('rev-parse', '--verify', `${ref}^{commit}`);
  } catch {
    throw new Error(`--baseline ${ref}: not a commit in ${root}`);
  }
  const dir = join(tmpdir(), `scgi-bench-baseline-${sha.slice(0, 12)}`);
  const built = join(dir, 'dist', 'src', 'cli', 'main.js');
  if (existsSync(built)) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`baseline: exporting ${ref} (${sha.slice(0, 12)}) into ${dir}`);
  execFileSync('sh', ['-c', `git -C "${root}" archive ${sha} | tar -x -C "${dir}"`], { stdio: 'inherit' });
  // Same dependencies: share this checkout's node_modules; a different lock file gets its own install.
  const sameLock = readFileSync(join(dir, 'package-lock.json'), 'utf8') === readFileSync(join(root, 'package-lock.json'), 'utf8');
  if (sameLock) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  else execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts=false'], { cwd: dir, stdio: 'inherit' });
  log(`baseline: building ${sha.slice(0, 12)}`);
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { stdio: 'inherit' });
  if (!existsSync(built)) throw new Error(`--baseline ${ref}: the build left no ${built}`);
  return dir;
}
