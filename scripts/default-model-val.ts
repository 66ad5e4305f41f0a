// Per-source validation loss of any model on the default model's validation shards, measured the
// way `llama train` measures it (consecutive non-overlapping windows, mean loss per target token),
// so an older model with the same tokenizer is compared on exactly the same tokens.
//   node dist/scripts/default-model-val.js MODEL [--data models/default/work/data] [--seq-len 256]
//        [--max-tokens N] [--threads 2]
//     -> stdout JSON: { model, seqLen, loss: { source: nats/token }, tokens: { source: n } }
// The shards come from `llama train --config models/default/train.json --prepare-only`.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/model/load.js';
import { readShard, validationWindows } from '../src/train/data.js';
import { evalLoss } from '../src/finetune/finetune.js';
import { f32Weights } from '../src/finetune/merge.js';
import { selectTrainingBackend } from '../src/backend/select.js';
import { createTrainingModel } from '../src/train/model.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : def;
};

async function main(): Promise<void> {
  const modelPath = argv[0];
  if (!modelPath || modelPath.startsWith('--')) {
    process.stderr.write('usage: default-model-val.js MODEL [--data DIR] [--seq-len T] [--max-tokens N] [--threads N]\n');
    process.exit(2);
  }
  const dataDir = opt('data', 'models/default/work/data');
  const seqLen = Number(opt('seq-len', '256'));
  const maxTokens = Number(opt('max-tokens', String(Number.MAX_SAFE_INTEGER)));
  const loaded = await loadModel(modelPath);
  try {
    if (seqLen > loaded.config.contextLength) process.stderr.write(`note: --seq-len ${seqLen} is beyond the model's ${loaded.config.contextLength} positions\n`);
    const tm = createTrainingModel(loaded.config, f32Weights(loaded.weights), await selectTrainingBackend('auto', Number(opt('threads', '2'))));
    const loss: Record<string, number> = {};
    const tokens: Record<string, number> = {};
    for (const f of readdirSync(dataDir).filter((n) => n.endsWith('.val.bin')).sort()) {
      const name = f.slice(0, -'.val.bin'.length);
      const windows = validationWindows(readShard(join(dataDir, f)), seqLen, maxTokens);
      loss[name] = evalLoss(tm, windows);
      tokens[name] = windows.length * seqLen;
    }
    process.stdout.write(JSON.stringify({ model: modelPath, seqLen, loss, tokens }) + '\n');
  } finally {
    loaded.close();
  }
}
main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
