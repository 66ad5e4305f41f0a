// `llama inspect` for stand-alone tokenizer files: sentencepiece / tiktoken `tokenizer.model`, HF
// `tokenizer.json`, llama2.c `tokenizer.bin`. (GGUF files carry their tokenizer in the metadata the
// GGUF describer already shows.) Registered last, so model formats are tried first.
import { basename } from '../platform/path.js';
import { detectTokenizerKind, loadTokenizer } from '../tokenizer/load.js';
import type { FormatDescriber, MetadataEntry } from './describe.js';
import { withSource } from './source.js';

export const tokenizerDescriber: FormatDescriber = {
  name: 'tokenizer (tokenizer.model, tokenizer.json, llama2.c tokenizer.bin)',
  detect(path, head, isDirectory) {
    if (isDirectory) return false;
    const kind = detectTokenizerKind(head, basename(path));
    if (kind === 'hf-json') return basename(path).endsWith('tokenizer.json'); // not every JSON file is one
    return kind === 'sentencepiece' || kind === 'tiktoken' || kind === 'llama2c';
  },
  describe(path) {
    const kind = detectTokenizerKind(readHead(path), basename(path))!;
    const tok = loadTokenizer(path);
    const pieces: string[] = [];
    for (let i = 0; i < tok.vocabSize; i++) pieces.push(tok.piece(i));
    const special = pieces.map((_, i) => i).filter((i) => tok.isSpecial(i));
    const metadata: MetadataEntry[] = [
      { key: 'model', type: 'string', value: tok.kind === 'spm' ? 'SentencePiece BPE' : 'byte-level BPE' },
      { key: 'vocab_size', type: 'u32', value: tok.vocabSize },
      { key: 'bos_token_id', type: 'i32', value: tok.bosId ?? -1 },
      { key: 'eos_token_id', type: 'i32', value: tok.eosId ?? -1 },
      { key: 'end_of_generation_ids', type: 'array', elemType: 'i32', value: [...tok.eogIds] },
      { key: 'add_bos', type: 'bool', value: tok.addBosDefault },
      { key: 'special_token_ids', type: 'array', elemType: 'i32', value: special },
      { key: 'tokens', type: 'array', elemType: 'string', value: pieces },
    ];
    return { path, format: 'tokenizer', details: { kind: KIND_NAMES[kind] ?? kind }, metadata, tensors: [] };
  },
};

const KIND_NAMES: Record<string, string> = {
  sentencepiece: 'sentencepiece model (protobuf)',
  tiktoken: 'tiktoken BPE ranks',
  llama2c: 'llama2.c tokenizer.bin',
  'hf-json': 'Hugging Face tokenizer.json',
};

function readHead(path: string): Uint8Array {
  // describe() does not get the head detect() saw; 256 bytes are enough to tell the kind again
  return withSource(path, (s) => s.read(0, Math.min(256, s.size), 'file head'));
}
