// karpathy's stories260K (a trained llama2.c model) through generate(): every run in
// reference_outputs.json, made with llama2.c's run.c, is reproduced character for character —
// the greedy ones, and the sampled one too (same xorshift64* stream, top-p keeping the crossing
// token, multinomial over the probability-sorted nucleus).
//
// llama2.c's `-n` counts positions including BOS and the prompt: it runs `steps` forward passes
// (clamped to seq_len) and samples from the ones at or after the last prompt position, so it
// generates steps - promptTokens + 1 tokens, and it stops early when it samples BOS (id 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { needsShared, sharedData } from './helpers/shared.js';
import { loadModel } from '../src/model/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { generate } from '../src/generate/generate.js';
import { loadTokenizer } from '../src/tokenizer/load.js';

interface RefRun {
  argv: string[];
  stdout_without_final_newline: string;
}

export function llama2cArgs(argv: readonly string[]): { prompt: string; steps: number; temperature: number; topP: number; seed: number } {
  const opt = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return { prompt: opt('-i') ?? '', steps: Number(opt('-n') ?? 256), temperature: Number(opt('-t') ?? 1), topP: Number(opt('-p') ?? 0.9), seed: Number(opt('-s') ?? 0) };
}

test('stories260K: every llama2.c reference run reproduced by generate()', needsShared('models', 'stories260K', 'reference_outputs.json'), async () => {
  const dir = sharedData('models', 'stories260K');
  const model = await LlamaModel.create(await loadModel(`${dir}/stories260K.bin`), new JsBackend());
  const tok = loadTokenizer(`${dir}/tok512.bin`);
  const refs = JSON.parse(readFileSync(`${dir}/reference_outputs.json`, 'utf8')) as RefRun[];
  assert.ok(refs.length >= 5);
  for (const r of refs) {
    const a = llama2cArgs(r.argv);
    const ids = tok.encode(a.prompt);
    const steps = Math.min(a.steps, model.config.contextLength);
    const gen = generate(model, tok, ids, {
      maxTokens: steps - ids.length + 1,
      temperature: a.temperature, topK: 0, minP: 0, topP: a.topP, seed: a.seed,
      stopTokens: [tok.bosId!],
    });
    const out = gen.promptText + (await gen.text());
    assert.equal(out, r.stdout_without_final_newline, `run ${r.argv.join(' ')}`);
  }
});
