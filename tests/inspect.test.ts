// `llama inspect` run as a user runs it, on every GGUF in ../shared/data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openGguf } from '../src/formats/gguf.js';
import { dtypeName } from '../src/tensor/dtype.js';
import { runCli } from './helpers/cli.js';
import { HAVE_SHARED, needsShared, sharedData } from './helpers/shared.js';

function findFiles(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...findFiles(p, ext));
    else if (e.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

const ggufFiles = HAVE_SHARED ? findFiles(sharedData(), '.gguf') : [];

test('there are GGUF files to inspect in ../shared/data', needsShared(), () => {
  assert.ok(ggufFiles.length >= 8, `found ${ggufFiles.length}`);
});

for (const file of ggufFiles) {
  test(`llama inspect --json ${relative(sharedData(), file)}`, () => {
    const r = runCli(['inspect', file, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      format: string;
      version: number;
      metadata: Record<string, unknown>;
      metadata_types: Record<string, string>;
      tensors: { name: string; type: string; shape: number[]; bytes: number; offset: number }[];
    };
    const g = openGguf(file);
    try {
      assert.equal(j.format, 'gguf');
      assert.equal(j.version, g.version);
      assert.deepEqual(Object.keys(j.metadata), [...g.metadata.keys()]);
      assert.equal(j.tensors.length, g.tensors.length);
      g.tensors.forEach((t, i) => {
        assert.deepEqual(j.tensors[i], { name: t.name, type: dtypeName(t.type), shape: t.shape, bytes: t.nBytes, offset: t.fileOffset });
      });
      if (g.has('tokenizer.ggml.tokens')) {
        // long arrays are summarised in JSON unless --full
        assert.deepEqual(j.metadata['tokenizer.ggml.tokens'], { array: 'string', length: 32000, head: ['<unk>', '<s>', '</s>', '<0x00>', '<0x01>', '<0x02>'] });
        assert.equal(j.metadata_types['tokenizer.ggml.tokens'], 'array<string>');
      }
    } finally {
      g.close();
    }
  });
}

test('llama inspect (text): summarised arrays and a tensor table', needsShared('golden/quant/tiny-Q4_0.gguf'), () => {
  const r = runCli(['inspect', sharedData('golden/quant/tiny-Q4_0.gguf')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /format: +gguf v3/);
  assert.match(r.stdout, /tokenizer\.ggml\.tokens +array<string> +\[32000 strings: "<unk>", "<s>", "<\/s>", "<0x00>", "<0x01>", "<0x02>", \.\.\.\]/);
  assert.match(r.stdout, /llama\.attention\.layer_norm_rms_epsilon +f32 +0\.00001\n/);
  assert.match(r.stdout, /tensors \(20, /);
  assert.match(r.stdout, /\n {2}token_embd\.weight +Q6_K +\[32000, 256\] +6720000\n/);
  assert.match(r.stdout, /\n {2}blk\.0\.ffn_down\.weight +Q4_0 +\[256, 768\] +110592\n/);
  assert.equal(r.stderr, '');
});

test('llama inspect --full prints whole arrays', needsShared('tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf'), () => {
  const r = runCli(['inspect', '--json', '--full', sharedData('tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf')]);
  assert.equal(r.status, 0, r.stderr);
  const tokens = (JSON.parse(r.stdout) as { metadata: Record<string, string[]> }).metadata['tokenizer.ggml.tokens']!;
  assert.equal(tokens.length, 32000);
  assert.equal(tokens[30143], '\uFEFF');
});

test('llama inspect: unknown format, missing file, usage', needsShared('golden/llama1-tiny/params.json'), () => {
  const unknown = runCli(['inspect', sharedData('golden/llama1-tiny/params.json')]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /error \[FORMAT_UNKNOWN\]: .*params\.json/);
  assert.match(unknown.stderr, /hint: supported formats: GGUF/);
  assert.equal(unknown.stdout, '');
  const missing = runCli(['inspect', '/nonexistent/model.gguf']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /FILE_NOT_FOUND/);
  assert.equal(runCli(['inspect']).status, 2);
  const help = runCli(['inspect', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: llama inspect FILE/);
});

test('llama inspect on a truncated GGUF: typed error, exit 1', needsShared('golden/llama1-tiny/model-f32.gguf'), async () => {
  const { mkdtempSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-inspect-'));
  try {
    const p = join(dir, 'cut.gguf');
    writeFileSync(p, readFileSync(sharedData('golden/llama1-tiny/model-f32.gguf')).subarray(0, 1000));
    const r = runCli(['inspect', p]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /error \[FORMAT_(TRUNCATED|LIMIT)\]: .*cut\.gguf/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
