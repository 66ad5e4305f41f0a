// The server's view of a model, built from the engine API's Model (openModel): the tokenizer, the
// chat format (prompt tokens, its stop strings and end tokens), the batched forward the scheduler
// steps with, per-request sampler chains (grammar first when the output is constrained), and
// embeddings.
import type { Model } from '../api/model.js';
import { chatStopTokens } from '../api/model.js';
import { createSampler, type SamplerChain } from '../generate/sampler.js';
import { grammarFromRequest, grammarSampler, withGrammar } from '../generate/grammar/index.js';
import type { ServerModel } from './server.js';
import type { BatchForward } from './scheduler.js';
import type { SamplingParams } from './protocol.js';

export function serverModel(model: Model, opts: { id: string }): ServerModel {
  const llama = model.llama;
  const tokenizer = model.tokenizer;
  const chatEnd = new Set<number>([...tokenizer.eogIds, ...chatStopTokens(model, undefined)]);
  const forwardBatch: BatchForward = (items) => llama.forwardBatch(items.map((it) => ({ session: it.session, tokens: it.tokens, ...(it.allLogits ? { allLogits: true } : {}) })));
  return {
    id: opts.id,
    path: model.path,
    tokenizer,
    contextLength: model.config.contextLength,
    chatTemplate: model.chatTemplate.template.source,
    encodeChat: (messages) => model.chatTemplate.encode(messages, true),
    chatStop: model.chatTemplate.stop,
    chatEndIds: chatEnd,
    encodePrompt: (text) => tokenizer.encode(text),
    forwardBatch,
    newSession: (ctxSize) => llama.newSession({ ctxSize }),
    compileConstraint: (c) => grammarFromRequest({ grammar: c.grammar, responseFormat: c.responseFormat }),
    makeSampler(s: SamplingParams, grammar, endIds): SamplerChain {
      const chain = createSampler(s);
      return grammar ? withGrammar(chain, grammarSampler(grammar, tokenizer, { endTokens: [...endIds] })) : chain;
    },
    embed: async (inputs) => model.embed(inputs.map((x) => (typeof x === 'string' ? x : model.detokenize(x))), { pooling: 'mean', normalize: true }),
    defaults: samplingOf(model.defaults),
    dispose: () => model.dispose(),
  };
}

function samplingOf(d: Model['defaults']): SamplingParams {
  const out: SamplingParams = {};
  for (const k of ['temperature', 'topK', 'topP', 'minP', 'typicalP', 'repeatPenalty', 'penaltyWindow', 'frequencyPenalty', 'presencePenalty'] as const) {
    const v = (d as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}
