// The shipped chat model (models/default-chat) and how it is made: `llama chat` without -m uses it,
// it loads with a chat template of its own that renders like the llama-2 format it was tuned on,
// and `llama export --chat-template` / `--merge-lora` write (and keep) tokenizer.chat_template.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { openModel } from '../src/api/index.js';
import { readChatTemplateSource, builtinChatTemplate } from '../src/chat/index.js';
import { loadModel } from '../src/model/load.js';
import { writeLoraGguf } from '../src/model/lora-io.js';
import type { LoraAdapter } from '../src/model/lora.js';

const CHAT_MODEL = join(REPO_ROOT, 'models/default-chat/model.gguf');
const BASE = join(REPO_ROOT, 'models/default/model.gguf');
const haveChat = { skip: existsSync(CHAT_MODEL) ? false : `${CHAT_MODEL} is absent` };
const haveBase = { skip: existsSync(BASE) ? false : `${BASE} is absent` };

test('llama chat without -m uses the shipped chat model (piped stdin: a prompt in, a reply out, exit 0)', haveChat, () => {
  const r = runCli(['chat', '--temp', '0', '-n', '24'], { input: 'Write a story about a dog named Max that uses the words "ball" and "park".\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^chat: .*models[\\/]default-chat[\\/]model\.gguf \(gguf, .*llama-2 template\)/m);
  assert.ok(r.stdout.trim().length > 0, 'a reply on stdout');
  assert.equal(r.stdout.split('\n').filter((l) => l.length > 0).length >= 1, true);
});

test('the chat model loads, carries a chat template that renders like llama-2, fits the base tokenizer and the size limit', haveChat, async () => {
  const source = readChatTemplateSource(CHAT_MODEL);
  assert.ok(source !== undefined && source.includes('[INST]'), 'tokenizer.chat_template is in the GGUF');
  assert.ok(statSync(CHAT_MODEL).size <= 25e6, 'at most 25 MB');
  const m = await openModel(CHAT_MODEL, { backend: 'js' });
  try {
    assert.equal(m.chatTemplate.name, 'llama-2');
    const text = m.detokenize(m.chatTemplate.encode([{ role: 'user', content: 'Hi' }], true), { renderSpecial: true });
    assert.match(text, /^<s>\s?\[INST\] Hi \[\/INST\]$/);
    if (existsSync(BASE)) {
      const base = await loadModel(BASE);
      try {
        assert.equal(m.config.vocabSize, base.config.vocabSize, 'the chat model keeps the base vocabulary');
        assert.equal(m.config.dim, base.config.dim);
      } finally {
        base.close();
      }
    }
  } finally {
    await m.dispose();
  }
});

function zeroAdapter(c: { nLayers: number; dim: number; nHeads: number; headDim: number }): LoraAdapter {
  const q = c.nHeads * c.headDim;
  const pairs = [];
  for (let l = 0; l < c.nLayers; l++) pairs.push({ layer: l, key: 'wq' as const, rank: 2, rows: q, cols: c.dim, a: new Float32Array(2 * c.dim).fill(0.1), b: new Float32Array(q * 2) });
  return { source: 'zero', alpha: 2, pairs };
}

test('llama export --merge-lora --chat-template writes tokenizer.chat_template; merging again keeps it; unknown names are refused', haveBase, async () => {
  const dir = tempDir('chat-export-');
  const loaded = await loadModel(BASE);
  const adapter = zeroAdapter(loaded.config);
  loaded.close();
  const a = join(dir, 'a.gguf');
  writeLoraGguf(a, adapter);
  assert.equal(readChatTemplateSource(BASE), undefined, 'the base model has no template of its own');
  const withTpl = join(dir, 'with-template.gguf');
  let r = runCli(['export', BASE, '--merge-lora', a, '--chat-template', 'llama-2', '-o', withTpl]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readChatTemplateSource(withTpl), builtinChatTemplate('llama-2').source);
  const again = join(dir, 'again.gguf');
  r = runCli(['export', withTpl, '--merge-lora', a, '-o', again]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readChatTemplateSource(again), builtinChatTemplate('llama-2').source, 'a merge keeps the base model template');
  const plain = join(dir, 'plain.gguf');
  r = runCli(['export', BASE, '--merge-lora', a, '-o', plain]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readChatTemplateSource(plain), undefined, 'no template is invented');
  r = runCli(['export', BASE, '--merge-lora', a, '--chat-template', 'no-such-format', '-o', join(dir, 'x.gguf')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /no-such-format/);
  assert.equal(existsSync(join(dir, 'x.gguf')), false);
});

test('llama export MODEL.gguf --chat-template (no adapter) re-exports the model: same logits at F32, the template added', haveBase, async () => {
  const dir = tempDir('chat-reexport-');
  const out = join(dir, 'chat.gguf');
  const r = runCli(['export', BASE, '--chat-template', 'chatml', '--type', 'f32', '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /with a chat template/);
  assert.equal(readChatTemplateSource(out), builtinChatTemplate('chatml').source);
  const ids = [1, 100, 200, 300];
  const logits = async (p: string) => {
    const m = await openModel(p, { backend: 'js' });
    try {
      const seq = m.createSequence({ ctxSize: 8 });
      return Float32Array.from(await seq.evaluate(ids));
    } finally {
      await m.dispose();
    }
  };
  assert.deepEqual(await logits(out), await logits(BASE));
});
