// Instruction data for models/default-chat and the before/after measurement of instruction following.
//   node dist/scripts/default-chat-model.js make STORIES.txt OUTDIR [--held-out 0.1] [--seed 1] [--variants K] [--limit N]
//     -> OUTDIR/train.jsonl (chat JSONL: {"messages": [user, assistant]}) and OUTDIR/heldout.json
//        (the held-out records, with the words each story prompt requires); split by story
//   node dist/scripts/default-chat-model.js eval MODEL HELDOUT.json [--chat-template llama-2] [--n 40]
//        [--tokens 320] [--seed 7] [--threads 2]
//     -> stdout JSON: mean share of required words in greedy (temperature 0) and seeded
//        (temperature 0.8, top-k 40) replies to the held-out story prompts; exact name answers to the
//        held-out name questions (greedy); mean loss per answer token on every held-out answer
//        (story and name answers apart), prompts rendered with the chat template.
// The same template renders the prompts before (base model, which has none of its own) and after
// fine-tuning, so the two measurements differ only in the weights.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitByStory, splitStories, storyInstructions, requiredWordsShare, type StoryInstruction } from '../src/finetune/story-instruct.js';
import { chatExamples } from '../src/finetune/data.js';
import { evalLoss } from '../src/finetune/finetune.js';
import { f32Weights } from '../src/finetune/merge.js';
import { openModel } from '../src/api/open.js';
import { loadModel } from '../src/model/load.js';
import { findTokenizerFor } from '../src/api/open.js';
import { resolveChatTemplate, readChatTemplateSource } from '../src/chat/index.js';
import { selectTrainingBackend } from '../src/backend/select.js';
import { createTrainingModel } from '../src/train/model.js';
import type { ChatMessage } from '../src/tokenizer/chat.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : def;
};

/** A held-out or training record as the two chat messages the model sees. */
export function toMessages(r: StoryInstruction): ChatMessage[] {
  const user = r.input ? `${r.input}\n\n${r.instruction}` : r.instruction;
  return [
    { role: 'user', content: user },
    { role: 'assistant', content: r.output },
  ];
}

function make(storiesPath: string, outDir: string): void {
  const stories = splitStories(readFileSync(storiesPath, 'utf8')).slice(0, Number(opt('limit', '1000000')));
  const seed = Number(opt('seed', '1'));
  // --variants K: K story prompts per story with other word pairs (more practice at using the words the
  // prompt names, for the same stories); name questions once. Held out: the first variant only.
  const variants = Number(opt('variants', '1'));
  const recs: StoryInstruction[] = [];
  for (let v = 0; v < variants; v++) recs.push(...storyInstructions(stories, seed + 7919 * v).filter((r) => v === 0 || r.kind === 'story'));
  const split = splitByStory(recs, Number(opt('held-out', '0.1')), seed);
  const train = split.train;
  const seen = new Set<string>();
  const heldOut = split.heldOut.filter((r) => {
    const key = `${r.story}/${r.kind}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'train.jsonl'), train.map((r) => JSON.stringify({ messages: toMessages(r) })).join('\n') + '\n');
  writeFileSync(join(outDir, 'heldout.json'), JSON.stringify(heldOut));
  const count = (rs: StoryInstruction[], k: string) => rs.filter((r) => r.kind === k).length;
  process.stdout.write(JSON.stringify({ stories: stories.length, records: recs.length, train: train.length, trainStory: count(train, 'story'), trainName: count(train, 'name'), heldOut: heldOut.length, heldOutStory: count(heldOut, 'story'), heldOutName: count(heldOut, 'name') }) + '\n');
}

async function answerLoss(modelPath: string, held: readonly StoryInstruction[], template: string | undefined, threads: number): Promise<{ story: number; name: number }> {
  const loaded = await loadModel(modelPath);
  try {
    const tok = findTokenizerFor(loaded);
    const tpl = resolveChatTemplate({ source: readChatTemplateSource(modelPath), override: template, tokenizer: tok });
    const tm = createTrainingModel(loaded.config, f32Weights(loaded.weights), await selectTrainingBackend('auto', threads));
    const loss = (kind: string) => evalLoss(tm, chatExamples(held.filter((r) => r.kind === kind).map(toMessages), tok, tpl, loaded.config.contextLength));
    return { story: loss('story'), name: loss('name') };
  } finally {
    loaded.close();
  }
}

async function evaluate(modelPath: string, heldPath: string): Promise<void> {
  const template = argv.includes('--chat-template') ? opt('chat-template', '') : undefined;
  const n = Number(opt('n', '40'));
  const maxTokens = Number(opt('tokens', '320'));
  const threads = Number(opt('threads', '2'));
  const held = JSON.parse(readFileSync(heldPath, 'utf8')) as StoryInstruction[];
  const stories = held.filter((r) => r.kind === 'story').slice(0, n);
  const names = held.filter((r) => r.kind === 'name').slice(0, n);
  const model = await openModel(modelPath, { threads, ...(template !== undefined ? { chatTemplate: template } : {}) });
  let greedy = 0;
  let sampled = 0;
  let nameHits = 0;
  const samples: { prompt: string; reply: string }[] = [];
  try {
    for (const r of stories) {
      const msgs = toMessages(r).slice(0, 1);
      const g = await model.chat(msgs, { temperature: 0, maxTokens }).text();
      greedy += requiredWordsShare(g, r.required);
      const s = await model.chat(msgs, { temperature: 0.8, topK: 40, seed: Number(opt('seed', '7')), maxTokens }).text();
      sampled += requiredWordsShare(s, r.required);
      if (samples.length < 3) samples.push({ prompt: msgs[0]!.content, reply: g });
    }
    for (const r of names) {
      const g = await model.chat(toMessages(r).slice(0, 1), { temperature: 0, maxTokens: 24 }).text();
      const name = /([A-Z][a-z]+)\.$/.exec(r.output)?.[1] ?? '';
      if (name && new RegExp(`\\b${name}\\b`).test(g)) nameHits++;
    }
  } finally {
    await model.dispose();
  }
  const loss = await answerLoss(modelPath, held, template, threads);
  process.stdout.write(
    JSON.stringify({
      model: modelPath,
      template: template ?? 'own',
      storyPrompts: stories.length,
      requiredWordsShareGreedy: greedy / stories.length,
      requiredWordsShareSampled: sampled / stories.length,
      nameQuestions: names.length,
      nameAnswerAccuracy: nameHits / names.length,
      heldOutAnswerLoss: loss,
      samples,
    }) + '\n',
  );
}

async function main(): Promise<void> {
  const [cmd, a, b] = argv;
  if (cmd === 'make' && a && b) return make(a, b);
  if (cmd === 'eval' && a && b) return evaluate(a, b);
  process.stderr.write('usage: default-chat-model.js make STORIES.txt OUTDIR | eval MODEL HELDOUT.json [--chat-template T]\n');
  process.exit(2);
}
main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
