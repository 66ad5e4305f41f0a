// Helpers for corrupted-input tests: temp dirs, and "this call throws a LlamaError with one of these
// codes" (never a RangeError, a crash or a hang).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaError, type ErrorCode } from '../../src/errors.js';

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `llama-ts-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs fn and asserts it throws a LlamaError whose code is in `codes`; returns the error. */
export function expectCode(fn: () => unknown, codes: ErrorCode | ErrorCode[], context = ''): LlamaError {
  const allowed = Array.isArray(codes) ? codes : [codes];
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LlamaError, `${context}: expected a LlamaError, got ${(e as Error)?.stack ?? String(e)}`);
    assert.ok(allowed.includes(e.code), `${context}: expected ${allowed.join('|')}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`${context}: expected an error ${allowed.join('|')}, but it succeeded`);
}

export async function expectCodeAsync(fn: () => Promise<unknown>, codes: ErrorCode | ErrorCode[], context = ''): Promise<LlamaError> {
  const allowed = Array.isArray(codes) ? codes : [codes];
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof LlamaError, `${context}: expected a LlamaError, got ${(e as Error)?.stack ?? String(e)}`);
    assert.ok(allowed.includes(e.code), `${context}: expected ${allowed.join('|')}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`${context}: expected an error ${allowed.join('|')}, but it succeeded`);
}

/** ~n truncation points spread over [0, size), always including the small ones. */
export function truncationPoints(size: number, n = 40): number[] {
  const pts = new Set<number>([0, 1, 4, 7, 8, 9, 16, 27, 28, 29, 64, size - 1]);
  for (let i = 0; i < n; i++) pts.add(Math.floor((size * i) / n));
  return [...pts].filter((p) => p >= 0 && p < size).sort((a, b) => a - b);
}
