// Our chat templates and grammar-constrained generation side by side with node-llama-cpp (llama.cpp
// and its Jinja runner), installed outside this repository (scripts/install-llama-cpp-peer.sh).
// Not a test: a reference to run by hand.
//   node scripts/compare-llama-cpp-chat.mjs --peer /tmp/llama-cpp-peer [--model models/default/model.gguf] [--shared ../shared]
//
// 1. Every chat template in ../shared/data/chat_templates rendered with the same conversation by
//    both: the text, and which characters are template (special-token-bearing) text vs content.
// 2. Greedy generation on one GGUF under the same GBNF grammar by both: the text.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const peer = arg('peer', process.env.LLAMA_CPP_PEER);
if (!peer) {
  process.stderr.write('usage: node scripts/compare-llama-cpp-chat.mjs --peer DIR (see scripts/install-llama-cpp-peer.sh)\n');
  process.exit(2);
}
const shared = resolve(arg('shared', join(root, '..', 'shared')));
const modelPath = resolve(arg('model', join(root, 'models/default/model.gguf')));
const nlc = await import(pathToFileURL(createRequire(join(peer, 'package.json')).resolve('node-llama-cpp')).href);
const ours = await import(pathToFileURL(join(root, 'dist/src/index.js')).href);

// ---- 1. templates ----
const conversation = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hello, who are you?' },
  { role: 'assistant', content: 'I am a model. How can I help?' },
  { role: 'user', content: 'Tell me a joke.' },
];
const history = [
  { type: 'system', text: conversation[0].content },
  { type: 'user', text: conversation[1].content },
  { type: 'model', response: [conversation[2].content] },
  { type: 'user', text: conversation[3].content },
];
let same = 0, differ = 0, theyFail = 0, weFail = 0, contentDiffers = 0;
const diffs = [];
for (const dir of ['selected', 'llama.cpp/models_templates', 'chujiezheng/chat_templates']) {
  for (const f of readdirSync(join(shared, 'data/chat_templates', dir)).filter((x) => x.endsWith('.jinja'))) {
    const src = readFileSync(join(shared, 'data/chat_templates', dir, f), 'utf8');
    let theirs;
    try {
      const w = new nlc.JinjaTemplateChatWrapper({ template: src, tokenizer: undefined });
      theirs = w.generateContextState({ chatHistory: history }).contextText.toJSON();
    } catch (e) {
      theyFail++;
      continue;
    }
    let mine;
    try {
      mine = new ours.chat.JinjaChatTemplate(src, f).render(conversation, { addGenerationPrompt: false, bosToken: '<s>', eosToken: '</s>' });
    } catch (e) {
      weFail++;
      diffs.push(`${dir}/${f}: ours failed: ${e.message}`);
      continue;
    }
    // node-llama-cpp writes BOS/EOS as token placeholders; spell them as the strings we passed
    const spell = (p) => (typeof p === 'string' ? p : p.type === 'specialToken' ? ({ BOS: '<s>', EOS: '</s>' })[p.value] ?? `<${p.value}>` : p.value ?? '');
    const theirText = theirs.map(spell).join('');
    // and which characters are content (plain strings) on each side
    const theirContent = theirs.filter((p) => typeof p === 'string').join('\u0001');
    const ourContent = mine.segments.filter((x) => !x.fromTemplate).map((x) => x.text).join('\u0001');
    if (theirText === mine.text && theirContent !== ourContent) contentDiffers++;
    if (theirText === mine.text) same++;
    else {
      differ++;
      let k = 0;
      while (k < mine.text.length && mine.text[k] === theirText[k]) k++;
      diffs.push(`${dir}/${f}: text differs at ${k}: ours ${JSON.stringify(mine.text.slice(k, k + 30))} | node-llama-cpp ${JSON.stringify(theirText.slice(k, k + 30))}`);
    }
  }
}
process.stdout.write(`templates: ${same} render identically (of which ${contentDiffers} split template/content differently), ${differ} differ, node-llama-cpp failed on ${theyFail}, we failed on ${weFail}\n`);
for (const d of diffs.slice(0, 20)) process.stdout.write(`  ${d}\n`);

// ---- 2. grammar-constrained greedy generation ----
const gbnf = 'root ::= "{" ws "\\"name\\":" ws str "," ws "\\"age\\":" ws num "}"\nstr ::= "\\"" [a-zA-Z ]{1,12} "\\""\nnum ::= [0-9]{1,2}\nws ::= [ ]?';
const prompt = 'Once upon a time, a girl named Lily';
const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath });
const ctx = await model.createContext({ contextSize: 256, threads: 1 });
const seq = ctx.getSequence();
const grammar = await llama.createGrammar({ grammar: gbnf });
const ids = model.tokenize(prompt, false);
let theirText = '';
const theirIds = [];
for await (const t of seq.evaluate([1, ...ids], { temperature: 0, grammarEvaluationState: new nlc.LlamaGrammarEvaluationState({ model, grammar }) })) {
  if (model.tokens.bos === t || model.tokens.eos === t) break;
  theirIds.push(t);
  theirText = model.detokenize(theirIds);
  if (theirIds.length >= 40) break;
}
const m = await ours.openModel(modelPath, { backend: 'native' });
const mineText = await m.complete(prompt, { maxTokens: 40, temperature: 0, grammar: gbnf }).text();
process.stdout.write(`grammar: node-llama-cpp ${JSON.stringify(theirText)}\n         llama-ts      ${JSON.stringify(mineText)}\n         ${theirText === mineText ? 'identical' : 'DIFFERENT'}\n`);
await m.dispose();
await ctx.dispose();
await model.dispose();
