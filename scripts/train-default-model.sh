#!/bin/sh
# Rebuilds the embedded default model (models/default/model.gguf) from public text, end to end:
#   1. a SentencePiece-style BPE tokenizer (byte fallback, split digits, 4096 pieces) trained with
#      `llama train-tokenizer` on the corpus below -> models/default/tokenizer.model
#   2. token shards with a 5% validation split per source (`llama train --prepare-only`)
#   3. training with models/default/train.json (mixture 0.5 / 0.2 / 0.3), resumable with --resume
#   4. export of the checkpoint with the best validation loss to GGUF F16, tokenizer embedded -> models/default/model.gguf
#
# Public sources (../shared/data/corpus, see its SOURCES.md for commits and checksums):
#   - TinyStories (Eldan & Li 2023), CDLA-Sharing-1.0: tinystories/tinystories_train_head.txt,
#     tinystories/tinystories_validation_head.txt (the head of the HF roneneldan/TinyStories splits)
#   - Tiny Shakespeare (karpathy/char-rnn), public-domain text: tinyshakespeare/input.txt
#   - WikiText-2 (Merity et al., Salesforce), CC BY-SA 3.0: wikitext-2/valid.txt, wikitext-2/test.txt
# The corpus itself is not part of the repository.
#
# usage: scripts/train-default-model.sh [extra `llama train` flags, e.g. --resume or --max-steps N]
set -eu
cd "$(dirname "$0")/.."
CORPUS="${CORPUS:-../shared/data/corpus}"
LLAMA="node bin/llama.js"

if [ ! -f models/default/tokenizer.model ]; then
  $LLAMA train-tokenizer -o models/default/tokenizer.model --vocab-size 4096 \
    "$CORPUS/tinystories" "$CORPUS/tinyshakespeare" "$CORPUS/wikitext-2"
fi
$LLAMA train --config models/default/train.json --prepare-only
$LLAMA train --config models/default/train.json "$@"
$LLAMA export models/default/work/run/checkpoint-best.bin -o models/default/model.gguf --type f16 \
  --name "llama-ts default (TinyStories + Shakespeare + WikiText-2)"
$LLAMA plot models/default/work/run/log.jsonl -o models/default/loss.svg --title "llama-ts default model"
