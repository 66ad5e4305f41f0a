// A process that fine-tunes over an F32 base read in place from the mapped model file must exit
// cleanly. At environment teardown node runs every remaining finalizer in its own order: the
// mapping's ArrayBuffer finalizer ran before those of the weights pinning it, freed the mapping's
// record, and each weight's unpin then wrote into freed heap: SIGSEGV in node's exit-time cleanup
// (node::Environment::RunAndClearNativeImmediates), after the work was done. A crash at exit can
// only be seen from outside, so the reproduction runs in a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { writeGguf } from '../src/formats/gguf-write.js';
import { canUnmap } from '../src/formats/mmap.js';
import { tempDir } from './helpers/tmp.js';
import { tinyLlama } from './helpers/tiny-gguf.js';

const mod = (p: string): string => JSON.stringify(new URL(p, import.meta.url).href);

test('a LoRA fine-tune over an F32 base mapped in place exits with code 0, no signal', async (t) => {
  if (!canUnmap()) return t.skip('the native addon (which maps files) is not built here');
  const dir = tempDir('mmap-exit-');
  const path = join(dir, 'f32.gguf');
  // every tensor is at least 1 MiB, so each is read as a file mapping (src/formats/source.ts)
  writeGguf(path, tinyLlama({ dim: 512, nLayers: 1, nHeads: 8, ffnDim: 1408, vocab: 512 }));
  const child = `
    import { readFileSync } from 'node:fs';
    const { loadModel } = await import(${mod('../src/model/load.js')});
    const { selectTrainingBackend } = await import(${mod('../src/backend/select.js')});
    const { createLoraTrainingModel, LORA_TRAIN_DEFAULTS } = await import(${mod('../src/finetune/lora-train.js')});
    const { lossAndGrad } = await import(${mod('../src/train/model.js')});
    const loaded = await loadModel(${JSON.stringify(path)});
    const backend = await selectTrainingBackend('native', 1);
    const tm = createLoraTrainingModel(loaded.config, loaded.weights, backend, { ...LORA_TRAIN_DEFAULTS, dropout: 0 });
    const session = tm.model.newSession({ ctxSize: 8 });
    const loss = lossAndGrad(tm, session, [1, 2, 3, 4], [2, 3, 4, 5], 1 / 4, new Map());
    let mapped = null;
    try { mapped = readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(path)}); } catch {}
    process.stdout.write(JSON.stringify({ backend: backend.name, loss, mapped }) + '\\n');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', timeout: 120_000 });
  const report = JSON.parse(r.stdout.trim().split('\n').pop() || 'null') as { backend: string; loss: unknown; mapped: boolean | null } | null;
  assert.ok(report, `the child reported nothing (${r.signal ?? r.status}): ${r.stderr}`);
  assert.match(report.backend, /native/);
  assert.notEqual(report.mapped, false, 'the model file was not mapped: the test would not exercise the teardown');
  assert.equal(r.signal, null, `the child died of ${r.signal} at exit: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
});
