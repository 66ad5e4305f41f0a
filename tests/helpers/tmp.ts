// Temporary directories for tests, removed when the test file finishes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const made: string[] = [];
let hooked = false;

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  if (!hooked) {
    hooked = true;
    after(() => {
      for (const p of made) rmSync(p, { recursive: true, force: true });
    });
  }
  return d;
}
