#!/bin/sh
# The scaling sweep that chose the default model's size (docs/default-model.md): three shapes trained
# from scratch on the default model's data mixture for about the same compute (~4 minutes each on
# 2 shared cores), the cosine length of each set from its measured tokens/s, then compared on
# validation loss. Run after `llama train --config models/default/train.json --prepare-only`.
# Each config is models/default/train.json with another shape, batch 2048 x 256 tokens, warmup 20 and the
# mixture 0.45 / 0.35 / 0.08 / 0.12 (TinyStories / Gutenberg / Shakespeare / WikiText-2).
#
# usage: scripts/default-model-sweep.sh   (writes models/default/work/sweep/<shape>/log.jsonl)
set -eu
cd "$(dirname "$0")/.."
mkdir -p models/default/work/sweep
cd models/default/work/sweep
LLAMA="node ../../../../bin/llama.js"
node -e '
const fs = require("fs");
const base = JSON.parse(fs.readFileSync("../../train.json", "utf8"));
const shapes = { d128l4: [128, 4, 4, 2], d192l6: [192, 6, 6, 2], d256l6: [256, 6, 8, 2] };
for (const [name, [dim, nLayers, nHeads, nKvHeads]] of Object.entries(shapes)) {
  const c = structuredClone(base);
  Object.assign(c.model, { dim, nLayers, nHeads, nKvHeads });
  c.tokenizer.path = "../../tokenizer.model";
  c.data.dir = "../data";
  // the sweep ran before the main run moved weight from TinyStories to the books
  const weights = { tinystories: 0.45, gutenberg: 0.35, shakespeare: 0.08, wikitext2: 0.12 };
  for (const s of c.data.sources) { s.files = s.files.map((f) => "../../" + f); s.weight = weights[s.name]; }
  Object.assign(c, { outDir: name, seqLen: 256, batchTokens: 2048, warmupSteps: 20, logEvery: 10, maxSteps: 100000 });
  fs.writeFileSync(name + ".json", JSON.stringify(c, null, 2));
}'
# steps = 240 s x the tokens/s a 45-second probe of each shape measured / 2048 tokens per step
run() {
  nice -n 5 $LLAMA train --config "$1.json" --threads 2 --max-steps "$2" --eval-every 100000 --eval-tokens 8192 --overwrite > "sweep-$1.out" 2>&1
}
run d128l4 350
run d192l6 190
run d256l6 110
