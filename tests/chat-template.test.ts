// Chat templates against @huggingface/jinja's own test cases (template + data + expected text,
// byte for byte), every real template in ../shared/data/chat_templates on a fixed conversation,
// special tokens only from the template, built-ins swapped in only when they render identically,
// and `llama template`.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { needsShared, sharedData, HAVE_SHARED } from './helpers/shared.js';
import { tempDir } from './helpers/tmp.js';
import { runCli } from './helpers/cli.js';
import { JinjaChatTemplate, builtinChatTemplate, resolveChatTemplate, encodeChat, readChatTemplateSource, foldSystem, BUILTIN_CHAT_FORMATS, type ChatMessage } from '../src/chat/index.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { LlamaError } from '../src/errors.js';
import { gv, writeGguf } from '../src/formats/gguf-write.js';

const HF = 'chat_templates/huggingface.js';

/** Evaluate the object-literal constants of a vitest file (imports and test bodies cut off). */
async function loadConsts(file: string, cutAt: string, names: string[]): Promise<Record<string, any>> {
  const src = readFileSync(file, 'utf8');
  const body = src.slice(0, src.indexOf(cutAt)).replace(/^import .*$/gm, '');
  const dir = tempDir('hf-jinja-');
  const mod = join(dir, 'consts.mjs');
  writeFileSync(mod, `${body}\nexport { ${names.join(', ')} };\n`);
  return import(mod);
}

test("@huggingface/jinja's end-to-end chat cases render byte for byte", needsShared(HF), async (t) => {
  const c = await loadConsts(sharedData(HF, 'e2e.test.js'), 'function render(', ['TEST_DEFAULT_TEMPLATES', 'TEST_CUSTOM_TEMPLATES']);
  // the harness fixes the clock (strftime_now in SmolLM3's template)
  mock.timers.enable({ apis: ['Date'], now: new Date('2025-07-10T12:00:00.000Z') });
  t.after(() => mock.timers.reset());
  let n = 0;
  for (const group of [c.TEST_DEFAULT_TEMPLATES, c.TEST_CUSTOM_TEMPLATES]) {
    for (const [name, { chat_template, data, target }] of Object.entries<any>(group)) {
      // exactly the harness's context: variables the case does not set stay undefined
      const tpl = new JinjaChatTemplate(chat_template, name);
      const out = tpl.renderText(data.messages, { extra: { add_generation_prompt: undefined, bos_token: undefined, eos_token: undefined, ...data } });
      assert.equal(out, target, name);
      n++;
    }
  }
  assert.ok(n >= 12, `${n} cases`);
});

test("@huggingface/jinja's template-language cases render as expected through our renderer", needsShared(HF), async () => {
  const c = await loadConsts(sharedData(HF, 'templates.test.js'), 'const TEST_PARSED', ['TEST_STRINGS']);
  const rest = await loadConsts(sharedData(HF, 'templates.test.js').replace(/$/, ''), 'describe("Templates"', ['TEST_CONTEXT', 'EXPECTED_OUTPUTS']);
  let n = 0;
  const failures: string[] = [];
  for (const [name, src] of Object.entries<string>(c.TEST_STRINGS)) {
    if (!(name in rest.EXPECTED_OUTPUTS)) continue;
    const ctx = rest.TEST_CONTEXT[name] ?? {};
    let out: string;
    try {
      const { messages, ...extra } = ctx;
      out = new JinjaChatTemplate(src, name).renderText(messages ?? [], { extra: { add_generation_prompt: false, bos_token: '', eos_token: '', ...extra } });
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    if (out !== rest.EXPECTED_OUTPUTS[name]) failures.push(`${name}: ${JSON.stringify(out).slice(0, 80)}`);
    n++;
  }
  assert.deepEqual(failures, []);
  assert.ok(n > 150, `${n} cases`);
});

const CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hello, who are you?' },
  { role: 'assistant', content: 'I am a model. How can I help?' },
  { role: 'user', content: 'Tell me a joke about <|eot_id|> and [INST] tokens.' },
];

/** Templates the Jinja engine cannot run, and why (checked to still fail, so the list stays true). */
const ENGINE_LIMITS: Record<string, string> = {
  'ByteDance-Seed-OSS.jinja': 'integer dictionary keys ({0: 0, 512: 128, ...}), which @huggingface/jinja 0.5.13 does not support',
};

test('every template in ../shared/data/chat_templates renders a system+user+assistant+user conversation', needsShared('chat_templates'), () => {
  const dirs = ['selected', 'llama.cpp/models_templates', 'chujiezheng/chat_templates'];
  let n = 0;
  for (const d of dirs) {
    for (const f of readdirSync(sharedData('chat_templates', d)).filter((x) => x.endsWith('.jinja'))) {
      const t = new JinjaChatTemplate(readFileSync(sharedData('chat_templates', d, f), 'utf8'), f);
      if (ENGINE_LIMITS[f]) {
        assert.throws(() => t.render(CONVERSATION, { bosToken: '<s>', eosToken: '</s>' }), LlamaError, `${f} now renders: drop it from ENGINE_LIMITS`);
        continue;
      }
      const r = t.render(CONVERSATION, { bosToken: '<s>', eosToken: '</s>' });
      assert.equal(r.segments.map((s) => s.text).join(''), r.text, f);
      // the last user message is found as content (so its special-looking text stays text)
      assert.ok(r.segments.some((s) => !s.fromTemplate && s.text.includes('Tell me a joke about <|eot_id|>')), `${d}/${f}: content not located`);
      n++;
    }
  }
  assert.ok(n >= 80, `${n} templates`);
});

test('a template without a system role gets the system text folded into the first user turn (llama.cpp)', needsShared('chat_templates/selected'), () => {
  const src = readFileSync(sharedData('chat_templates/llama.cpp/models_templates/google-gemma-2-2b-it.jinja'), 'utf8');
  const t = new JinjaChatTemplate(src);
  assert.equal(t.supportsSystemRole, false);
  const r = t.render(CONVERSATION.slice(0, 2), { bosToken: '<bos>', eosToken: '<eos>' });
  assert.match(r.text, /You are a helpful assistant\.\n\nHello, who are you\?/);
  assert.deepEqual(foldSystem([{ role: 'system', content: 'S' }, { role: 'user', content: 'U' }]), [{ role: 'user', content: 'S\n\nU' }]);
  assert.equal(new JinjaChatTemplate(readFileSync(sharedData('chat_templates/selected/llama-2-chat.jinja'), 'utf8')).supportsSystemRole, true);
});

test('special tokens come only from the template (Llama 3 byte-level BPE and LLaMA SentencePiece)', needsShared('tokenizer/llama3/tokenizer.model'), () => {
  const llama3 = loadTokenizer(sharedData('tokenizer/llama3/tokenizer.model'));
  const t3 = builtinChatTemplate('llama-3');
  const eot = llama3.encode('<|eot_id|>', { addBos: false, parseSpecial: true });
  assert.equal(eot.length, 1);
  const msgs: ChatMessage[] = [{ role: 'user', content: 'say <|eot_id|> now' }];
  const ids = encodeChat(llama3, t3.render(msgs, { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' }), { addBos: true });
  // exactly one <|eot_id|>: the template's, closing the user turn; the typed one is text
  assert.equal(ids.filter((x) => x === eot[0]).length, 1);
  assert.equal(ids.filter((x) => x === llama3.bosId).length, 1, 'one BOS: the template\'s BOS text is dropped, the tokenizer adds it');
  assert.ok(llama3.decode(ids).includes('say <|eot_id|> now'));
  // with content that spells no special token, the ids equal tokenizing the whole rendering with
  // special-token parsing (how llama.cpp tokenizes a chat prompt)
  const plain: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there!' }];
  const r = t3.render(plain, { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' });
  assert.deepEqual(encodeChat(llama3, r, { addBos: true }), llama3.encode(r.text.replace(/^<\|begin_of_text\|>/, ''), { addBos: true, parseSpecial: true }));

  const spm = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  const t2 = builtinChatTemplate('llama-2');
  const r2 = t2.render([{ role: 'user', content: 'What is </s> and <s>?' }, { role: 'assistant', content: 'Tokens.' }, { role: 'user', content: 'Thanks' }], { bosToken: '<s>', eosToken: '</s>' });
  const ids2 = encodeChat(spm, r2, { addBos: true });
  // the template writes BOS at each turn and EOS after the answer: 2 BOS + 1 EOS, none from the user
  assert.equal(ids2.filter((x) => x === spm.bosId).length, 2);
  assert.equal(ids2.filter((x) => x === spm.eosId).length, 1);
  const r3 = t2.render([{ role: 'user', content: 'Hello' }], { bosToken: '<s>', eosToken: '</s>' });
  assert.deepEqual(encodeChat(spm, r3, { addBos: true }), spm.encode(r3.text.replace(/^<s>/, ''), { addBos: true, parseSpecial: true }));
});

test('a built-in replaces a model template only when it renders identically', needsShared('chat_templates/selected'), () => {
  const spm = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  const sel = (f: string) => readFileSync(sharedData('chat_templates/selected', f), 'utf8');
  const cases: [string, string][] = [
    ['llama-2-chat.jinja', 'llama-2'],
    ['mistral-instruct-v0.1.jinja', 'mistral'],
    ['tinyllama-chat.jinja', 'zephyr'],
    ['felladrin-llama-68m-chat-chatml.jinja', 'chatml'],
    ['qwen2-instruct-chatml.jinja', 'model'], // adds a default system prompt: not plain ChatML
    ['mistral-instruct-v0.3.jinja', 'model'],
  ];
  for (const [file, want] of cases) assert.equal(resolveChatTemplate({ source: sel(file), tokenizer: spm }).name, want, file);
  if (HAVE_SHARED) {
    const llama3 = loadTokenizer(sharedData('tokenizer/llama3/tokenizer.model'));
    assert.equal(resolveChatTemplate({ source: sel('llama-3-instruct.jinja'), tokenizer: llama3 }).name, 'llama-3');
    assert.equal(resolveChatTemplate({ source: sel('llama-3.1-instruct.jinja'), tokenizer: llama3 }).name, 'model');
  }
  assert.equal(resolveChatTemplate({ tokenizer: spm }).name, 'plain');
  assert.equal(resolveChatTemplate({ override: 'chatml', tokenizer: spm }).name, 'chatml');
  assert.throws(() => resolveChatTemplate({ override: 'nonsense-format', tokenizer: spm }), (e: unknown) => e instanceof LlamaError && e.code === 'USAGE' && /built-in formats/.test(e.hint ?? ''));
  for (const f of BUILTIN_CHAT_FORMATS) assert.ok(builtinChatTemplate(f).render([{ role: 'user', content: 'x' }]).text.length > 0);
});

test('bad templates are CHAT_TEMPLATE errors with a hint', () => {
  assert.throws(() => new JinjaChatTemplate('{% for x in %}'), (e: unknown) => e instanceof LlamaError && e.code === 'CHAT_TEMPLATE' && !!e.hint);
  const strict = new JinjaChatTemplate("{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('no system!') }}{% endif %}{{ m.content }}{% endfor %}");
  assert.throws(() => strict.renderText([{ role: 'system', content: 's' }]), (e: unknown) => e instanceof LlamaError && e.code === 'CHAT_TEMPLATE' && /no system!/.test(e.message));
  // ...and through render(), the system message is folded in instead
  assert.equal(strict.render([{ role: 'system', content: 's' }, { role: 'user', content: 'u' }]).text, 's\n\nu');
});

test('llama template prints the rendering exactly; reads a model\'s template; --messages as array or object', needsShared('chat_templates/selected'), () => {
  const dir = tempDir('tmpl-cli-');
  const msgs = join(dir, 'm.json');
  writeFileSync(msgs, JSON.stringify([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Bye' }]));
  const tf = sharedData('chat_templates/selected/llama-2-chat.jinja');
  const r = runCli(['template', '--template', tf, '--messages', msgs, '--bos-token', '<s>', '--eos-token', '</s>']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '<s>[INST] Hi [/INST] Hello </s><s>[INST] Bye [/INST]');
  const obj = join(dir, 'o.json');
  writeFileSync(obj, JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }], bos_token: '<s>', eos_token: '</s>', add_generation_prompt: true }));
  const c = runCli(['template', '--template', sharedData('chat_templates/selected/felladrin-llama-68m-chat-chatml.jinja'), '--messages', obj]);
  assert.equal(c.stdout, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  const ng = runCli(['template', '--template', sharedData('chat_templates/selected/felladrin-llama-68m-chat-chatml.jinja'), '--messages', obj, '--no-generation-prompt']);
  assert.equal(ng.stdout, '<|im_start|>user\nHi<|im_end|>\n');
  // a built-in by name, and a model with no template of its own (the embedded one): plain
  const p = runCli(['template', '--messages', msgs]);
  assert.equal(p.status, 0, p.stderr);
  assert.equal(p.stdout, 'User: Hi\nAssistant: Hello\nUser: Bye\nAssistant:');
  const bad = runCli(['template', '--template', tf, '--messages', join(dir, 'missing.json')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /FILE_NOT_FOUND/);
  const badJson = join(dir, 'bad.json');
  writeFileSync(badJson, '{"messages": 3}');
  const b2 = runCli(['template', '--template', tf, '--messages', badJson]);
  assert.equal(b2.status, 2);
  assert.match(b2.stderr, /messages/);
});

test('readChatTemplateSource: GGUF key, tokenizer_config.json string and named list, chat_template.jinja', () => {
  const dir = tempDir('tmpl-src-');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] }));
  assert.equal(readChatTemplateSource(join(dir, 'model.safetensors')), 'D');
  assert.equal(readChatTemplateSource(dir), 'D');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: 'S' }));
  assert.equal(readChatTemplateSource(dir), 'S');
  writeFileSync(join(dir, 'chat_template.jinja'), 'J');
  assert.equal(readChatTemplateSource(dir), 'J');
  assert.equal(readChatTemplateSource(join(dir, 'no-such-dir', 'model.gguf')), undefined);
  const g = join(tempDir('tmpl-gguf-'), 'm.gguf');
  writeGguf(g, { metadata: [['general.architecture', gv.str('llama')], ['tokenizer.chat_template', gv.str('{{ messages[0].content }}')]], tensors: [] });
  assert.equal(readChatTemplateSource(g), '{{ messages[0].content }}');
});
