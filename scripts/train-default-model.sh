#!/bin/sh
# Rebuilds the embedded default model (models/default/model.gguf) from public text, end to end:
#   1. the SentencePiece-style BPE tokenizer (byte fallback, split digits, 4096 pieces) trained with
#      `llama train-tokenizer` on TinyStories + Tiny Shakespeare + WikiText-2 -> models/default/tokenizer.model
#      (kept from the first default model, so the validation losses of the two models are comparable token for token)
#   2. token shards with a validation split per source (`llama train --prepare-only`): the last 2.7% of the
#      TinyStories text (inside the first model's 5% validation tail, so neither model trained on it), the last 3%
#      of the Gutenberg books, the last 5% of Shakespeare and of WikiText-2 (the same tails as the first model's)
#   3. training with models/default/train.json (mixture 0.30 TinyStories / 0.50 Gutenberg / 0.08 Shakespeare /
#      0.12 WikiText-2, cosine schedule), resumable with --resume; run with `nice -n 5` on 2 threads
#   4. export of the checkpoint with the best validation loss to GGUF F16, tokenizer embedded -> models/default/model.gguf
# The model size came from a short scaling sweep (scripts/default-model-sweep.sh, docs/default-model.md).
#
# Public sources (../shared/data/corpus, see its SOURCES.md for commits and checksums):
#   - TinyStories (Eldan & Li 2023), CDLA-Sharing-1.0: tinystories/tiny_stories_train_head_944k.txt (head of the
#     train split), tinystories/tinystories_validation_head.txt (head of the HF roneneldan/TinyStories validation split)
#   - 31 public-domain children's books from Project Gutenberg (GITenberg mirrors): gutenberg-children/*.txt
#   - Tiny Shakespeare (karpathy/char-rnn), public-domain text: tinyshakespeare/input.txt
#   - WikiText-2 (Merity et al., Salesforce), CC BY-SA 3.0: wikitext-2/valid.txt, wikitext-2/test.txt
# The corpus itself is not part of the repository.
#
# The shipped model is the step-1000 checkpoint of the 1100-step cosine (`--stop-after 1000`): the run was
# stopped there to leave time for the chat model. Its log shows the cosine length set three times during the
# first 250 steps (2800, 1200, 950, then 1100) as the shared machine's tokens/s became clear.
#
# usage: scripts/train-default-model.sh [extra `llama train` flags, e.g. --stop-after 1000, --resume or --max-steps N]
set -eu
cd "$(dirname "$0")/.."
CORPUS="${CORPUS:-../shared/data/corpus}"
LLAMA="node bin/llama.js"

if [ ! -f models/default/tokenizer.model ]; then
  $LLAMA train-tokenizer -o models/default/tokenizer.model --vocab-size 4096 \
    "$CORPUS/tinystories/tinystories_train_head.txt" "$CORPUS/tinystories/tinystories_validation_head.txt" \
    "$CORPUS/tinyshakespeare" "$CORPUS/wikitext-2"
fi
$LLAMA train --config models/default/train.json --prepare-only
nice -n 5 $LLAMA train --config models/default/train.json --threads 2 "$@"
$LLAMA export models/default/work/run/checkpoint-best.bin -o models/default/model.gguf --type f16 \
  --name "llama-ts default (TinyStories + Gutenberg children's books + Shakespeare + WikiText-2)"
cp models/default/work/run/log.jsonl models/default/train-log.jsonl
$LLAMA plot models/default/work/run/log.jsonl -o models/default/loss.svg --title "llama-ts default model"
