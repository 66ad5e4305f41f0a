// A rendered conversation -> token ids, the way llama.cpp tokenizes a chat prompt (the whole text
// at once, special tokens parsed) but with special tokens recognised only in the template's own
// text: message content that spells `<|eot_id|>` or `[INST]` stays those characters.
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { RenderedChat } from './template.js';

export function encodeChat(tokenizer: Tokenizer, rendered: RenderedChat, opts: { addBos?: boolean } = {}): number[] {
  const addBos = (opts.addBos ?? tokenizer.addBosDefault) && tokenizer.bosId !== undefined;
  let text = '';
  const ranges: [number, number][] = [];
  rendered.segments.forEach((seg, i) => {
    let t = seg.text;
    // llama.cpp: the tokenizer adds BOS, so a BOS the template wrote at the very start is dropped
    if (i === 0 && addBos && seg.fromTemplate) {
      const bos = tokenizer.piece(tokenizer.bosId!);
      if (bos && t.startsWith(bos)) t = t.slice(bos.length);
    }
    if (seg.fromTemplate) ranges.push([text.length, text.length + t.length]);
    text += t;
  });
  return tokenizer.encode(text, { addBos, parseSpecial: true, specialRanges: ranges });
}
