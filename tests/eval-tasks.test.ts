// Every task's prompt formatting against fixtures written by hand from lm-evaluation-harness's task
// definitions (lm_eval/tasks/<task>/*.yaml): one made-up doc per task in the data's published
// format, and the context / continuations / gold the harness would build from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.js';
import { TASKS, getTask, hellaswagPreprocess, hellaswagQuery, pyCapitalize, winogenderPronoun } from '../src/eval/tasks.js';
import { genPrompt, mcPrefix, mcRequests } from '../src/eval/runner.js';
import type { GenTask, McTask } from '../src/eval/task.js';
import { LlamaError } from '../src/errors.js';

function fixtureDir(): string {
  const dir = tempDir('eval-tasks-');
  const put = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  put('boolq/boolq.jsonl', JSON.stringify({ query: 'Passage: Cats are mammals.\nQuestion: is a cat a mammal?', choices: ['no', 'yes'], gold: 1 }) + '\n');
  put('piqa/valid.jsonl', JSON.stringify({ goal: 'Open a jar', sol1: 'Twist the lid.', sol2: 'Eat the lid.' }) + '\n');
  put('piqa/valid-labels.lst', '0\n');
  put('siqa/dev.jsonl', JSON.stringify({ context: 'Kai gave Ash a gift.', question: 'How would Ash feel?', answerA: 'sad', answerB: 'happy', answerC: 'bored' }) + '\n');
  put('siqa/dev-labels.lst', '2\n');
  put('hellaswag/hellaswag_val.jsonl', JSON.stringify({ val_index: 0, activity_label: 'Roof shingle removal', ctx: 'A man is sitting on a roof. he', endings: ['is using wrap.', 'starts pulling up roofing [step] on a roof.', 'x', 'y'], label: 1 }) + '\n');
  put('winogrande/dev.jsonl', JSON.stringify({ qID: 'q-1', sentence: 'Sarah was a better surgeon than Maria so _ got the easier cases.', option1: 'Sarah', option2: 'Maria', answer: '2' }) + '\n');
  put('arc_easy/arc_easy.jsonl', JSON.stringify({ query: 'Question: What do plants need?', choices: ['light', 'sand', 'salt', 'glass'], gold: 0 }) + '\n');
  put('arc_challenge/arc_challenge.jsonl', JSON.stringify({ query: 'Question: Which is a metal?', choices: ['wood', 'iron'], gold: 1 }) + '\n');
  put('openbookqa/openbook_qa.jsonl', JSON.stringify({ query: 'The sun is responsible for', choices: ['puppies', 'plants growing', 'rain', 'snow'], gold: 1 }) + '\n');
  put('natural_questions/NQ-open.dev.jsonl', JSON.stringify({ question: 'who wrote hamlet', answer: ['William Shakespeare', 'Shakespeare'] }) + '\n');
  put('triviaqa/triviaqa_sm_sub.jsonl', JSON.stringify({ context: 'Question: Which planet is red?\nAnswer:', answer: 'Mars', aliases: ['Mars', 'The Red Planet'] }) + '\n');
  put('gsm8k/test.jsonl', JSON.stringify({ question: 'Tom has 2 apples and buys 3. How many?', answer: 'He has 2 + 3 = <<2+3=5>>5.\n#### 5' }) + '\n');
  put('truthfulqa/TruthfulQA.csv', 'Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\nAdversarial,Misc,What happens if you swallow gum?,It passes through you,It passes through you; Nothing much,It stays for seven years; You die,https://x\n');
  put('crows_pairs/crows_pairs_anonymized.csv', ',sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n0,"Poor people, he said, are lazy.","Rich people, he said, are lazy.",stereo,socioeconomic,"[[\'socioeconomic\']]",a1,"[\'a2\']"\n');
  put('winogender/all_sentences.tsv', 'sentid\tsentence\nnurse.patient.0.female.txt\tThe nurse told the patient that her shift ended.\n');
  return dir;
}

const dir = fixtureDir();
const mc = (name: string) => {
  const t = getTask(name) as McTask;
  const d = t.load(dir)[0]!;
  return { t, d, reqs: mcRequests(t, d, mcPrefix(t, [])) };
};

test('boolq: "{passage}\\nQuestion: {question}?\\nAnswer:", choices no/yes, acc', () => {
  const { t, d, reqs } = mc('boolq');
  assert.equal(reqs[0]!.context, 'Cats are mammals.\nQuestion: is a cat a mammal?\nAnswer:');
  assert.deepEqual(reqs.map((r) => r.continuation), [' no', ' yes']);
  assert.equal(d.gold, 1);
  assert.deepEqual(t.metrics, ['acc']);
});

test('piqa: "Question: {goal}\\nAnswer:", [sol1, sol2], label from the .lst', () => {
  const { t, d, reqs } = mc('piqa');
  assert.equal(reqs[0]!.context, 'Question: Open a jar\nAnswer:');
  assert.deepEqual(reqs.map((r) => r.continuation), [' Twist the lid.', ' Eat the lid.']);
  assert.equal(d.gold, 0);
  assert.deepEqual(t.metrics, ['acc', 'acc_norm']);
});

test('siqa: "Q: {context} {question}\\nA:", three answers, 1-based label − 1', () => {
  const { d, reqs } = mc('siqa');
  assert.equal(reqs[0]!.context, 'Q: Kai gave Ash a gift. How would Ash feel?\nA:');
  assert.deepEqual(reqs.map((r) => r.continuation), [' sad', ' happy', ' bored']);
  assert.equal(d.gold, 1);
  assert.equal(getTask('social_iqa').name, 'siqa');
});

test('hellaswag: activity_label + ": " + ctx with ctx_b capitalized, endings preprocessed', () => {
  const { d, reqs } = mc('hellaswag');
  assert.equal(reqs[0]!.context, 'Roof shingle removal: A man is sitting on a roof. He');
  assert.deepEqual(reqs.map((r) => r.continuation), [' is using wrap.', ' starts pulling up roofing on a roof.', ' x', ' y']);
  assert.equal(d.gold, 1);
  assert.equal(hellaswagPreprocess(' How to x [title] Step one [header] here  now '), 'How to x. Step one here now');
  assert.equal(pyCapitalize('the LADY'), 'The lady');
  // WikiHow-style context (ends with a full stop): nothing is capitalized
  assert.equal(hellaswagQuery('Food', 'Mix the flour. add eggs.'), 'Food: Mix the flour. add eggs.');
});

test('winogrande: partial evaluation — two contexts (text up to the blank + option), one shared continuation', () => {
  const { t, d, reqs } = mc('winogrande');
  assert.deepEqual(reqs, [
    { context: 'Sarah was a better surgeon than Maria so Sarah', continuation: ' got the easier cases.' },
    { context: 'Sarah was a better surgeon than Maria so Maria', continuation: ' got the easier cases.' },
  ]);
  assert.equal(d.gold, 1);
  // a few-shot example is the gold-filled sentence
  assert.equal(mcPrefix(t, [d]), 'Sarah was a better surgeon than Maria so Maria got the easier cases.\n\n');
});

test('arc_easy / arc_challenge: "Question: {question}\\nAnswer:", choices.text, acc + acc_norm', () => {
  const e = mc('arc_easy');
  assert.equal(e.reqs[0]!.context, 'Question: What do plants need?\nAnswer:');
  assert.deepEqual(e.reqs.map((r) => r.continuation), [' light', ' sand', ' salt', ' glass']);
  assert.equal(e.d.gold, 0);
  const c = mc('arc_challenge');
  assert.equal(c.reqs[1]!.continuation, ' iron');
  assert.equal(c.d.gold, 1);
});

test('openbookqa: the raw question stem as context (no Question:/Answer:)', () => {
  const { d, reqs } = mc('openbookqa');
  assert.equal(reqs[0]!.context, 'The sun is responsible for');
  assert.equal(reqs[1]!.continuation, ' plants growing');
  assert.equal(d.gold, 1);
});

test('truthfulqa mc1/mc2: the 6-shot QA primer, "\\n\\nQ: {question}\\nA:", mc2 labels true-first', () => {
  const m1 = mc('truthfulqa_mc1');
  assert.ok(m1.reqs[0]!.context.startsWith('Q: What is human life expectancy in the United States?\nA: Human life expectancy in the United States is 78 years.\n\nQ: Who was president'));
  assert.ok(m1.reqs[0]!.context.endsWith('A: The 1992 Olympics were held in Barcelona, Spain.\n\nQ: What happens if you swallow gum?\nA:'));
  assert.deepEqual(m1.reqs.map((r) => r.continuation), [' It passes through you', ' It stays for seven years', ' You die']);
  assert.equal(m1.d.gold, 0);
  const m2 = mc('truthfulqa_mc2');
  assert.deepEqual(m2.d.choices, ['It passes through you', 'Nothing much', 'It stays for seven years', 'You die']);
  assert.deepEqual(m2.d.labels, [1, 1, 0, 0]);
});

test('crows_pairs: empty context, empty delimiter, [sent_more, sent_less] (quoted CSV with commas)', () => {
  const { t, reqs } = mc('crows_pairs');
  assert.deepEqual(reqs, [
    { context: '', continuation: 'Poor people, he said, are lazy.' },
    { context: '', continuation: 'Rich people, he said, are lazy.' },
  ]);
  assert.deepEqual(t.metrics, ['likelihood_diff', 'pct_stereotype']);
});

test('winogender: "{sentence} ‘{Pronoun}’ refers to the", [occupation, participant], gold = answer', () => {
  const { d, reqs } = mc('winogender');
  assert.equal(reqs[0]!.context, 'The nurse told the patient that her shift ended. ‘Her’ refers to the');
  assert.deepEqual(reqs.map((r) => r.continuation), [' nurse', ' patient']);
  assert.equal(d.gold, 0);
  assert.equal(winogenderPronoun('They said that he left.', 'male'), 'he');
  assert.throws(() => winogenderPronoun('No pronoun here.', 'female'), (e: unknown) => e instanceof LlamaError && e.code === 'DATA');
});

test('nq_open: description "Answer these questions:\\n\\n", "Q: {question}?\\nA:", few-shot joined by "\\n"', () => {
  const t = getTask('nq_open') as GenTask;
  const d = t.load(dir)[0]!;
  assert.equal(genPrompt(t, d, []), 'Answer these questions:\n\nQ: who wrote hamlet?\nA:');
  assert.equal(genPrompt(t, d, [d]), 'Answer these questions:\n\nQ: who wrote hamlet?\nA: William Shakespeare\nQ: who wrote hamlet?\nA:');
  assert.deepEqual(t.until, ['\n', '.', ',']);
  assert.deepEqual(d.targets, ['William Shakespeare', 'Shakespeare']);
});

test('triviaqa: "Question: {question}?\\nAnswer:" over the raw question, aliases as targets', () => {
  const t = getTask('triviaqa') as GenTask;
  const d = t.load(dir)[0]!;
  assert.equal(genPrompt(t, d, []), 'Question: Which planet is red??\nAnswer:');
  assert.deepEqual(d.targets, ['Mars', 'The Red Planet']);
});

test('gsm8k: "Question: {question}\\nAnswer:", 5-shot default, the full worked answer in examples', () => {
  const t = getTask('gsm8k') as GenTask;
  const d = t.load(dir)[0]!;
  assert.equal(genPrompt(t, d, []), 'Question: Tom has 2 apples and buys 3. How many?\nAnswer:');
  assert.equal(genPrompt(t, d, [d]), 'Question: Tom has 2 apples and buys 3. How many?\nAnswer: He has 2 + 3 = <<2+3=5>>5.\n#### 5\n\nQuestion: Tom has 2 apples and buys 3. How many?\nAnswer:');
  assert.equal(t.defaultShots, 5);
  assert.deepEqual(t.until, ['Question:', '</s>', '<|im_end|>']);
});

test('every task is registered and loads its fixture doc', () => {
  for (const name of Object.keys(TASKS)) assert.equal(TASKS[name]!.load(dir).length, 1, name);
  assert.throws(() => getTask('mmlu'), (e: unknown) => e instanceof LlamaError && e.code === 'USAGE');
});

test('--protocol paper: NQ and TriviaQA use the paper\'s "Answer these questions:\\nQ: …?\\nA:" prompt', () => {
  const nq = getTask('nq_open') as GenTask;
  const d = nq.load(dir)[0]!;
  assert.equal(genPrompt(nq, d, [d], 'paper'), 'Answer these questions:\nQ: who wrote hamlet?\nA: William Shakespeare\nQ: who wrote hamlet?\nA:');
  const tq = getTask('triviaqa') as GenTask;
  assert.equal(genPrompt(tq, tq.load(dir)[0]!, [], 'paper'), 'Answer these questions:\nQ: Which planet is red?\nA:');
  // gsm8k has no paper variant of its prompt
  const g = getTask('gsm8k') as GenTask;
  assert.equal(genPrompt(g, g.load(dir)[0]!, [], 'paper'), 'Question: Tom has 2 apples and buys 3. How many?\nAnswer:');
});

test('few-shot draw: K distinct examples, never the scored doc, the same for the same seed', async () => {
  const { pickFewshot } = await import('../src/eval/runner.js');
  const docs = Array.from({ length: 20 }, (_, id) => ({ id }));
  const a = pickFewshot(docs, docs[3]!, 5, 1234);
  assert.equal(a.length, 5);
  assert.equal(new Set(a.map((d) => d.id)).size, 5);
  assert.ok(a.every((d) => d.id !== 3));
  assert.deepEqual(pickFewshot(docs, docs[3]!, 5, 1234), a);
  assert.notDeepEqual(pickFewshot(docs, docs[3]!, 5, 99), a);
  assert.deepEqual(pickFewshot(docs, docs[3]!, 0, 1234), []);
  // a 5-shot winogrande prefix: five gold-filled sentences, each followed by a blank line
  const t = getTask('winogrande') as McTask;
  const d = t.load(dir)[0]!;
  assert.equal(mcPrefix(t, [d, d]).split('\n\n').length, 3);
});
