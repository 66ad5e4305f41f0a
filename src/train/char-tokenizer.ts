// A character-level tokenizer for small experiments and tests (the nanoGPT Shakespeare-char setup):
// ids 0 <unk>, 1 <s>, 2 </s>, then one id per distinct character of the training text, in code-point
// order. Saved as JSON beside the data so that a run can be resumed and exported with it.
import type { EncodeOptions, StreamDecoder, Tokenizer } from '../tokenizer/tokenizer.js';
import { LlamaError } from '../errors.js';

export interface CharTokenizerJson {
  readonly type: 'char';
  readonly chars: string[];
}

const SPECIALS = ['<unk>', '<s>', '</s>'];

export class CharTokenizer implements Tokenizer {
  readonly kind = 'spm' as const;
  readonly bosId = 1;
  readonly eosId = 2;
  readonly eogIds: ReadonlySet<number> = new Set([2]);
  readonly addBosDefault = true;
  private readonly ids = new Map<string, number>();

  constructor(readonly chars: readonly string[]) {
    chars.forEach((c, i) => this.ids.set(c, i + SPECIALS.length));
  }

  static fromText(text: string): CharTokenizer {
    const set = new Set<string>();
    for (const ch of text) set.add(ch);
    return new CharTokenizer([...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  static fromJson(j: unknown, file: string): CharTokenizer {
    const o = j as Partial<CharTokenizerJson>;
    if (o?.type !== 'char' || !Array.isArray(o.chars) || o.chars.some((c) => typeof c !== 'string' || [...c].length !== 1)) {
      throw new LlamaError('TOKENIZER_INVALID', 'not a character tokenizer (expected {"type":"char","chars":[...]})', { file });
    }
    return new CharTokenizer(o.chars);
  }

  toJson(): CharTokenizerJson {
    return { type: 'char', chars: [...this.chars] };
  }

  get vocabSize(): number {
    return this.chars.length + SPECIALS.length;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addBos ?? this.addBosDefault) out.push(this.bosId);
    for (const ch of text) out.push(this.ids.get(ch) ?? 0);
    if (opts.addEos) out.push(this.eosId);
    return out;
  }

  decode(ids: readonly number[], opts: { renderSpecial?: boolean } = {}): string {
    return ids.map((id) => (this.isSpecial(id) ? (opts.renderSpecial ? this.piece(id) : '') : this.piece(id))).join('');
  }

  tokenBytes(id: number): Uint8Array {
    return new TextEncoder().encode(this.isSpecial(id) ? '' : this.piece(id));
  }

  piece(id: number): string {
    if (id < SPECIALS.length) return SPECIALS[id] ?? '<unk>';
    const c = this.chars[id - SPECIALS.length];
    if (c === undefined) throw new LlamaError('TOKEN_ID', `token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    return c;
  }

  isSpecial(id: number): boolean {
    return id < SPECIALS.length;
  }

  streamDecoder(opts: { renderSpecial?: boolean } = {}): StreamDecoder {
    return { push: (id) => this.decode([id], opts), flush: () => '' };
  }
}
