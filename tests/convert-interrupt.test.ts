// D12: Ctrl-C during `llama convert` removes its temporary file, says so, and exits 130.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeGguf } from '../src/formats/gguf-write.js';
import { REPO_ROOT } from './helpers/shared.js';
import { tempDir } from './helpers/tmp.js';
import { tinyLlama } from './helpers/tiny-gguf.js';

test('D12: SIGINT during llama convert leaves no temp file and no output, exit 130', { timeout: 120_000 }, async () => {
  const dir = tempDir('llama-int-');
  const src = join(dir, 'big.gguf');
  // ~110 MB of F32: quantizing it to Q4_K in JS takes seconds, time enough to interrupt
  writeGguf(src, tinyLlama({ dim: 512, nHeads: 8, nLayers: 6, ffnDim: 1408, vocab: 8000 }));
  const out = join(dir, 'out.gguf');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/llama.js'), 'convert', src, out, '--type', 'q4_k'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // wait until the temp file exists (the writer is past the header), then Ctrl-C
  let sawTemp = false;
  for (let i = 0; i < 600 && !sawTemp; i++) {
    await new Promise((r) => setTimeout(r, 50));
    sawTemp = readdirSync(dir).some((f) => f.startsWith('out.gguf.tmp-'));
    if (child.exitCode !== null) break;
  }
  assert.ok(sawTemp, `no temp file appeared (visible, beside the output); stderr: ${stderr}`);
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /convert: interrupted; .*out\.gguf was not written/);
  assert.deepEqual(readdirSync(dir).sort(), ['big.gguf'], 'neither the output nor a temp file remains');
});
