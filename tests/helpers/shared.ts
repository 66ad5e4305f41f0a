// Tests that read ../shared run whenever it is present (CI always has it); without it they skip
// and say why.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SHARED_DIR = process.env.LLAMA_SHARED_DIR ?? resolve(REPO_ROOT, '../shared');
export const HAVE_SHARED = existsSync(join(SHARED_DIR, 'data'));

/** Path inside ../shared/data. */
export function sharedData(...parts: string[]): string {
  return join(SHARED_DIR, 'data', ...parts);
}

/** Options for node:test: `test('x', needsShared('golden/llama1-tiny'), fn)` */
export function needsShared(...parts: string[]): { skip: string | false } {
  if (!HAVE_SHARED) return { skip: `../shared is absent (looked in ${SHARED_DIR}); set LLAMA_SHARED_DIR to run this test` };
  const p = sharedData(...parts);
  if (!existsSync(p)) return { skip: `${p} is absent` };
  return { skip: false };
}
