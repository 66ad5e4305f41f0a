// The server's view of a model, built from the engine's pieces: tokenizer, chat encoding, batched
// forward, sampler construction and embeddings.
import type { LlamaModel } from '../model/llama.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ChatMessage } from '../tokenizer/chat.js';
import { createSampler, SamplerChain, type Sampler } from '../generate/sampler.js';
import type { ServerModel } from './server.js';
import type { BatchForward } from './scheduler.js';
import type { GenerationRequest, SamplingParams } from './protocol.js';

export interface ServerModelParts {
  id: string;
  path: string;
  model: LlamaModel;
  tokenizer: Tokenizer;
  chatTemplate?: string | undefined;
  encodeChat(messages: readonly ChatMessage[]): number[];
  /** batched forward over several sessions; default: one forward per item */
  forwardBatch?: BatchForward;
  embed?(inputs: readonly (string | number[])[]): Promise<Float32Array[]> | Float32Array[];
  /** grammar / response_format -> a sampler placed first in the chain */
  constrain?(c: { grammar?: string | undefined; responseFormat?: GenerationRequest['responseFormat'] }): Sampler | undefined;
  defaults?: SamplingParams;
}

export function serverModel(p: ServerModelParts): ServerModel {
  const { model, tokenizer } = p;
  const V = model.config.vocabSize;
  const forwardBatch: BatchForward =
    p.forwardBatch ??
    ((items) =>
      items.map((it) => {
        const logits = model.forward(it.session, it.tokens, it.allLogits ? { allLogits: true } : {});
        return it.allLogits ? logits : logits.subarray(logits.length - V);
      }));
  return {
    id: p.id,
    path: p.path,
    tokenizer,
    contextLength: model.config.contextLength,
    chatTemplate: p.chatTemplate,
    encodeChat: p.encodeChat,
    encodePrompt: (text) => tokenizer.encode(text),
    forwardBatch,
    newSession: (ctxSize) => model.newSession({ ctxSize }),
    makeSampler(s, constraint): SamplerChain {
      const chain = createSampler(s);
      const first = p.constrain?.(constraint);
      if (!first) {
        if (constraint.grammar !== undefined || (constraint.responseFormat && constraint.responseFormat.type !== 'text')) {
          throw new Error('grammar-constrained sampling is not available in this build');
        }
        return chain;
      }
      // the constraint goes first, so every later step sees only the tokens it allows
      return new SamplerChain([first, ...chain.samplers], s.seed ?? Math.floor(Math.random() * 2 ** 32));
    },
    embed: p.embed ?? (() => {
      throw new Error('embeddings are not available in this build');
    }),
    defaults: p.defaults ?? { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 },
  };
}
