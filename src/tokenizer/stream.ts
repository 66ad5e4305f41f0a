// Streaming detokenizer: tokens arrive one at a time, text leaves only in whole UTF-8 characters.
// A token may end in the middle of a character (byte-fallback pieces such as <0xF0> <0x9F> ...,
// or byte-level BPE tokens that split a character); the bytes are held until the character is
// complete. `decode()` of both tokenizers is built on the same per-token rendering, so streaming
// and one-shot decoding always agree (including SentencePiece's leading-space rule).
import type { StreamDecoder } from './tokenizer.js';

/** How a tokenizer turns one id into output bytes; `state` is per stream (e.g. "at start"). */
export interface TokenRenderer<S> {
  initialState(): S;
  render(id: number, state: S, renderSpecial: boolean): Uint8Array;
  /** bytes still held back at the end of the stream */
  finish?(state: S): Uint8Array;
}

export class Utf8StreamDecoder<S> implements StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private readonly state: S;

  constructor(
    private readonly renderer: TokenRenderer<S>,
    private readonly renderSpecial: boolean,
  ) {
    this.state = renderer.initialState();
  }

  push(id: number): string {
    const bytes = this.renderer.render(id, this.state, this.renderSpecial);
    if (bytes.length === 0) return '';
    // stream: true keeps an incomplete trailing sequence inside the decoder for the next call
    return this.decoder.decode(bytes, { stream: true });
  }

  flush(): string {
    const rest = this.renderer.finish?.(this.state);
    const text = rest && rest.length > 0 ? this.decoder.decode(rest, { stream: true }) : '';
    // an incomplete trailing character becomes U+FFFD
    return text + this.decoder.decode();
  }
}

/** One-shot decode through the same renderer. */
export function decodeWith<S>(renderer: TokenRenderer<S>, ids: readonly number[], renderSpecial: boolean): string {
  const state = renderer.initialState();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (const id of ids) {
    const b = renderer.render(id, state, renderSpecial);
    parts.push(b);
    n += b.length;
  }
  const rest = renderer.finish?.(state);
  if (rest) {
    parts.push(rest);
    n += rest.length;
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(all);
}
