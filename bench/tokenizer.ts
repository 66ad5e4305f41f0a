// Tokenizer throughput: encode MB/s for the LLaMA (Llama 2 SentencePiece) vocabulary on the
// concatenated ../shared/data/corpus text, line by line and as one string; median of several
// runs, each with a freshly loaded tokenizer (so no cache carries over between runs).
// Also reports Llama 3 byte-level BPE for reference.
//   node dist/bench/tokenizer.js [--runs N] [--json]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, parseSentencePieceModel } from '../src/tokenizer/load.js';
import { SpmTokenizer } from '../src/tokenizer/spm.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = process.env.LLAMA_SHARED_DIR ?? resolve(REPO, '../shared');

function textFiles(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...textFiles(p));
    else if (n.endsWith('.txt')) out.push(p);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function measure(load: () => Tokenizer, run: (t: Tokenizer) => number, runs: number): { secs: number[]; tokens: number } {
  const secs: number[] = [];
  let tokens = 0;
  for (let r = 0; r < runs; r++) {
    const tok = load();
    const t0 = performance.now();
    tokens = run(tok);
    secs.push((performance.now() - t0) / 1000);
  }
  return { secs, tokens };
}

function main(): void {
  const argv = process.argv.slice(2);
  const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 5;
  const json = argv.includes('--json');
  const corpusDir = join(SHARED, 'data/corpus');
  const files = textFiles(corpusDir);
  const text = files.map((f) => readFileSync(f, 'utf8')).join('');
  const mb = Buffer.byteLength(text) / 1e6;
  const lines = text.split('\n');
  const results: Record<string, unknown>[] = [];
  const spmPath = join(SHARED, 'data/tokenizer/llama2/tokenizer.model');
  const cases: [string, () => Tokenizer][] = [
    ['llama2-spm', () => loadTokenizer(spmPath)],
    // the cut used for vocabularies whose words are not independent (exact for any vocabulary)
    ['llama2-spm (character-pair cut)', () => new SpmTokenizer(parseSentencePieceModel(new Uint8Array(readFileSync(spmPath)), spmPath), { split: 'bigram' })],
    ['llama3-bpe', () => loadTokenizer(join(SHARED, 'data/tokenizer/llama3/tokenizer.model'))],
  ];
  for (const [name, load] of cases) {
    const byLine = measure(load, (t) => {
      let n = 0;
      for (const l of lines) n += t.encode(l, { addBos: false }).length;
      return n;
    }, runs);
    const whole = measure(load, (t) => t.encode(text, { addBos: false }).length, runs);
    const r = {
      tokenizer: name,
      corpusMB: +mb.toFixed(3),
      files: files.length,
      runs,
      lineByLineMBps: +(mb / median(byLine.secs)).toFixed(2),
      oneStringMBps: +(mb / median(whole.secs)).toFixed(2),
      tokensLineByLine: byLine.tokens,
      tokensOneString: whole.tokens,
    };
    results.push(r);
    if (!json) {
      process.stdout.write(
        `${name}: ${mb.toFixed(2)} MB (${files.length} files), median of ${runs}: ` +
          `line by line ${r.lineByLineMBps} MB/s (${byLine.tokens} tokens), one string ${r.oneStringMBps} MB/s (${whole.tokens} tokens)\n`,
      );
    }
  }
  if (json) process.stdout.write(JSON.stringify(results, null, 1) + '\n');
}

main();
