// Build the story instruction set and measure instruction following before/after fine-tuning.
//   node dist/scripts/story-instruct.js make STORIES.txt OUTDIR [--limit N] [--held-out 0.1] [--seed S]
//     -> OUTDIR/train.json, OUTDIR/heldout.json (Alpaca records; heldout keeps `required`)
//   node dist/scripts/story-instruct.js eval MODEL HELDOUT.json [--lora ADAPTER] [--n 40] [--tokens 200]
//     -> mean share of required words in greedy stories for the held-out story prompts (stdout JSON)
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitByStory, splitStories, storyInstructions, requiredWordsShare, type StoryInstruction } from '../src/finetune/story-instruct.js';
import { alpacaPrompt } from '../src/finetune/data.js';
import { loadModel, findModelTokenizer } from '../src/model/load.js';
import { LlamaModel } from '../src/model/llama.js';
import { attachLora } from '../src/model/lora.js';
import { readLoraAdapter } from '../src/model/lora-io.js';
import { findTokenizerFor } from '../src/api/open.js';
import { selectBackend } from '../src/backend/select.js';
import { generate } from '../src/generate/generate.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : def;
};

async function main(): Promise<void> {
  const [cmd, a, b] = argv;
  if (cmd === 'make') {
    const stories = splitStories(readFileSync(a!, 'utf8')).slice(0, Number(opt('limit', '1000000')));
    const recs = storyInstructions(stories, Number(opt('seed', '1')));
    const { train, heldOut } = splitByStory(recs, Number(opt('held-out', '0.1')), Number(opt('seed', '1')));
    mkdirSync(b!, { recursive: true });
    const strip = (r: StoryInstruction) => ({ instruction: r.instruction, input: r.input, output: r.output });
    writeFileSync(join(b!, 'train.json'), JSON.stringify(train.map(strip)));
    writeFileSync(join(b!, 'heldout.json'), JSON.stringify(heldOut));
    process.stdout.write(JSON.stringify({ stories: stories.length, records: recs.length, train: train.length, heldOut: heldOut.length }) + '\n');
    return;
  }
  if (cmd === 'eval') {
    void findModelTokenizer;
    const loaded = await loadModel(a!);
    const tok = findTokenizerFor(loaded);
    const base = await LlamaModel.create(loaded, await selectBackend(opt('backend', 'auto')));
    const lora = opt('lora', '');
    const model = lora ? attachLora(base, [{ adapter: readLoraAdapter(lora, base.config) }]) : base;
    const held = (JSON.parse(readFileSync(b!, 'utf8')) as StoryInstruction[]).filter((r) => r.kind === 'story').slice(0, Number(opt('n', '40')));
    let share = 0;
    for (const r of held) {
      const ids = tok.encode(alpacaPrompt(r), { addBos: true });
      const gen = generate(model, tok, ids, { temperature: 0, maxTokens: Number(opt('tokens', '200')), ctxSize: model.config.contextLength });
      let text = '';
      for await (const { text: t } of gen) text += t;
      share += requiredWordsShare(text, r.required);
    }
    process.stdout.write(JSON.stringify({ prompts: held.length, requiredWordsShare: share / held.length }) + '\n');
    loaded.close();
    return;
  }
  process.stderr.write('usage: story-instruct.js make STORIES.txt OUTDIR | eval MODEL HELDOUT.json [--lora ADAPTER]\n');
  process.exit(2);
}
main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
