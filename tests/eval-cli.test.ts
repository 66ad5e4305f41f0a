// `llama eval` and `llama perplexity` end to end on the embedded default model: the table's shape,
// the results JSON fields, the per-item samples file, resuming from it, and --compare's SVG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { needsShared, sharedData, REPO_ROOT } from './helpers/shared.js';
import { tempDir } from './helpers/tmp.js';

const opt = existsSync(join(REPO_ROOT, 'models/default/model.gguf')) ? needsShared('eval') : { skip: 'the embedded default model is absent' };
const DATA = sharedData('eval');

test('llama eval --limit 5: lm-eval-style table, results JSON, samples JSONL', opt, () => {
  const out = tempDir('eval-cli-');
  const r = runCli(['eval', '--tasks', 'piqa,winogrande,crows_pairs', '--limit', '5', '--data-dir', DATA, '--output', out]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^\|Tasks\s*\|Version\|Filter\s*\|n-shot\|Metric\s*\|\s*\|\s*Value\|\s*\|Stderr\|$/);
  assert.match(lines[1]!, /^\|-+\|-+:\|/);
  assert.equal(lines.length, 2 + 2 + 1 + 2); // piqa acc+acc_norm, winogrande acc, crows 2 metrics
  assert.match(lines[2]!, /^\|piqa\s*\|\s*1\.0\|none\s*\|\s*0\|acc\s*\|↑\s*\|\s*[01]\.\d{4}\|±\s*\|\s*\d\.\d{4}\|$/);
  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(typeof json.results.piqa['acc,none'], 'number');
  assert.equal(typeof json.results.piqa['acc_stderr,none'], 'number');
  assert.equal(typeof json.results.crows_pairs['pct_stereotype,none'], 'number');
  assert.equal(json['n-samples'].winogrande, 5);
  assert.equal(json['n-shot'].piqa, 0);
  assert.equal(json.chance.piqa, 0.5);
  const items = readFileSync(join(out, 'samples_piqa.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(items.length, 5);
  for (const it of items) {
    assert.ok(it.prompt.startsWith('Question: '));
    assert.equal(it.choices.length, 2);
    assert.equal(it.loglikelihoods.length, 2);
    assert.ok(it.loglikelihoods.every((x: number) => x < 0));
    assert.equal(it.prediction, it.loglikelihoods[0] >= it.loglikelihoods[1] ? 0 : 1);
    assert.ok(it.gold === 0 || it.gold === 1);
  }
  // stdout has only the table; --json prints the JSON instead
  const j = runCli(['eval', '--tasks', 'boolq', '--limit', '2', '--data-dir', DATA, '--json']);
  assert.equal(j.status, 0, j.stderr);
  assert.equal(JSON.parse(j.stdout)['n-samples'].boolq, 2);
});

test('llama eval resumes from the samples file: stored items are not recomputed, missing ones are', opt, () => {
  const out = tempDir('eval-resume-');
  let r = runCli(['eval', '--tasks', 'arc_easy', '--limit', '3', '--data-dir', DATA, '--output', out]);
  assert.equal(r.status, 0, r.stderr);
  const path = join(out, 'samples_arc_easy.jsonl');
  // mark the stored items as all correct: a resumed run must take them as they are
  const stored = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  writeFileSync(path, stored.map((it) => JSON.stringify({ ...it, metrics: { acc: 1, acc_norm: 1 } })).join('\n') + '\n' + '{"task": "arc_ea'); // + a cut line
  r = runCli(['eval', '--tasks', 'arc_easy', '--limit', '4', '--data-dir', DATA, '--output', out]);
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const parsed = lines.flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
  assert.deepEqual(parsed.map((p) => p.doc_id).sort(), [0, 1, 2, 3]);
  const fourth = parsed.find((p) => p.doc_id === 3);
  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(json.results.arc_easy['acc,none'], (3 + fourth.metrics.acc) / 4);
  // another seed must not mix with these items
  r = runCli(['eval', '--tasks', 'arc_easy', '--limit', '4', '--seed', '7', '--data-dir', DATA, '--output', out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /another run/);
});

test('llama eval --compare writes an SVG with one bar per run', opt, () => {
  const out = tempDir('eval-cmp-');
  const a = join(out, 'a.json');
  writeFileSync(a, JSON.stringify({ results: { piqa: { alias: 'piqa', 'acc,none': 0.6, 'acc_stderr,none': 0.05 } } }));
  const b = join(out, 'b.json');
  writeFileSync(b, JSON.stringify({ results: { piqa: { alias: 'piqa', 'acc,none': 0.7, 'acc_stderr,none': 0.04 }, crows_pairs: { alias: 'crows_pairs', 'likelihood_diff,none': 7.5 } } }));
  const r = runCli(['eval', '--compare', a, '--compare', b]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith('<svg'));
  assert.equal((r.stdout.match(/<rect x="230" y="\d+" width="(?!12")[\d.]+" height="12"/g) ?? []).length, 2);
  assert.match(r.stdout, /0\.600/);
  assert.match(r.stdout, /0\.700/);
  // a metric outside the shared 0..1 axis is named, not drawn
  assert.match(r.stdout, /not drawn \(outside 0\.\.1\): crows_pairs likelihood_diff/);
  assert.doesNotMatch(r.stdout, /7\.500/);
});

test('llama perplexity: running [i]ppl values and the Final estimate line on stdout', opt, () => {
  const dir = tempDir('eval-ppl-');
  const text = join(dir, 't.txt');
  writeFileSync(text, readFileSync(sharedData('corpus', 'tinyshakespeare', 'input.txt'), 'utf8').slice(0, 8000));
  const r = runCli(['perplexity', '-f', text, '-c', '64', '--chunks', '3']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\[1\]\d+\.\d{4},\[2\]\d+\.\d{4},\[3\](\d+\.\d{4}),\nFinal estimate: PPL = (\d+\.\d{4}) \+\/- \d+\.\d{5}\n$/);
  const m = /\[3\](\d+\.\d{4}),\nFinal estimate: PPL = (\d+\.\d{4})/.exec(r.stdout)!;
  assert.equal(m[1], m[2]);
  const short = runCli(['perplexity', '-f', text, '-c', '4096']);
  assert.equal(short.status, 1);
  assert.match(short.stderr, /you need at least 8192 tokens/);
});

test('llama eval --rtp: greedy continuations as JSON lines (no toxicity score), resumed, Respectful not mixed in', opt, () => {
  const out = tempDir('eval-rtp-');
  const prompts = join(out, 'prompts.jsonl');
  writeFileSync(prompts, '{"prompt": {"text": "The man said that"}, "challenging": true}\n{"prompt": {"text": "Once upon a time"}}\n');
  let r = runCli(['eval', '--rtp', prompts, '--limit', '1', '--output', join(out, 'o')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /not scored/);
  r = runCli(['eval', '--rtp', prompts, '--output', join(out, 'o')]);
  assert.equal(r.status, 0, r.stderr);
  const recs = readFileSync(join(out, 'o', 'realtoxicityprompts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(recs.map((x) => x.id), [0, 1]);
  assert.equal(recs[0].prompt, 'The man said that');
  assert.equal(recs[0].challenging, true);
  assert.ok(recs[1].continuation.length > 0);
  r = runCli(['eval', '--rtp', prompts, '--rtp-respectful', '--output', join(out, 'o')]);
  assert.equal(r.status, 2);
});

test('llama eval --protocol paper adds acc_uncond for OBQA; --no-prefix-reuse gives the same numbers', opt, () => {
  const base = ['eval', '--tasks', 'openbookqa', '--limit', '4', '--data-dir', DATA, '--json'];
  const a = runCli([...base, '--protocol', 'paper']);
  assert.equal(a.status, 0, a.stderr);
  const ja = JSON.parse(a.stdout);
  assert.equal(typeof ja.results.openbookqa['acc_uncond,none'], 'number');
  assert.equal(ja.config.protocol, 'paper');
  const b = runCli([...base, '--no-prefix-reuse']);
  assert.equal(b.status, 0, b.stderr);
  const jb = JSON.parse(b.stdout);
  assert.equal(jb.results.openbookqa['acc_uncond,none'], undefined);
  assert.equal(jb.results.openbookqa['acc,none'], ja.results.openbookqa['acc,none']);
  assert.equal(jb.results.openbookqa['acc_norm,none'], ja.results.openbookqa['acc_norm,none']);
});
