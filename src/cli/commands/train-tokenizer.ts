// `llama train-tokenizer -o tokenizer.model --vocab-size N FILES...`: trains a SentencePiece-style
// BPE tokenizer (byte fallback, split digits) and writes a sentencepiece tokenizer.model.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bool, num, str, type CommandSpec } from '../args.js';
import type { Command } from '../command.js';
import { LlamaError, UsageError, tokenizers, formats } from '../../index.js';
const { SpmTokenizer, trainSpmBpe, writeSentencePieceModel } = tokenizers;
const { writeFileAtomic } = formats;

const spec: CommandSpec = {
  name: 'train-tokenizer',
  summary: 'train a SentencePiece-style BPE tokenizer (byte fallback, split digits) on text files',
  usage: '[-o tokenizer.model] [--vocab-size N] FILES_OR_DIRS...',
  options: {
    output: { kind: 'string', short: 'o', arg: 'FILE', help: 'where to write the sentencepiece model', default: 'tokenizer.model' },
    'vocab-size': { kind: 'int', arg: 'N', help: 'vocabulary size, including 3 control and 256 byte pieces', default: 4096 },
    'character-coverage': { kind: 'number', arg: 'F', help: 'fraction of character occurrences covered by character pieces', default: 0.9995 },
    'split-digits': { kind: 'boolean', help: 'keep every digit a piece of its own (--no-split-digits to merge them)', default: true },
    'max-piece-length': { kind: 'int', arg: 'N', help: 'longest piece in characters', default: 16 },
    quiet: { kind: 'boolean', short: 'q', help: 'no statistics on stderr' },
  },
  details: 'Directories contribute their *.txt files. Each line is a sentence.\nexample:\n  llama train-tokenizer -o tok.model --vocab-size 8000 ../shared/data/corpus/tinystories',
};

function inputFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new LlamaError('FILE_NOT_FOUND', 'no such file or directory', { file: p, cause: e });
    }
    if (st.isDirectory()) {
      const txt = readdirSync(p)
        .filter((n) => n.endsWith('.txt'))
        .sort()
        .map((n) => join(p, n));
      if (txt.length === 0) throw new LlamaError('DATA', 'directory has no .txt files', { file: p });
      out.push(...txt);
    } else out.push(p);
  }
  return out;
}

export const command: Command = {
  spec,
  async run(args) {
    if (args.positionals.length === 0) throw new UsageError('no training files given', `usage: llama train-tokenizer ${spec.usage}`);
    const files = inputFiles(args.positionals);
    const output = str(args, 'output')!;
    const quiet = bool(args, 'quiet');
    const t0 = performance.now();
    const texts = files.map((f) => readFileSync(f, 'utf8'));
    const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
    const { model, stats } = trainSpmBpe(texts, {
      vocabSize: num(args, 'vocab-size')!,
      characterCoverage: num(args, 'character-coverage')!,
      splitDigits: bool(args, 'split-digits'),
      maxPieceLength: num(args, 'max-piece-length')!,
    });
    // check the result loads before writing it
    new SpmTokenizer(model);
    const data = writeSentencePieceModel(model);
    writeFileAtomic(output, data);
    const secs = (performance.now() - t0) / 1000;
    if (!quiet) {
      process.stderr.write(
        `trained on ${files.length} file(s), ${(bytes / 1e6).toFixed(2)} MB, ${stats.sentences} lines, ${stats.uniqueWords} distinct words\n` +
          `vocabulary ${model.pieces.length} = 3 control + 256 bytes + ${stats.merges} merges + ${stats.keptChars} characters, in ${secs.toFixed(1)} s\n`,
      );
    }
    process.stdout.write(`${output}\n`);
    return 0;
  },
};
