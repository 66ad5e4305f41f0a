#!/bin/sh
# Builds the shipped chat model (models/default-chat/model.gguf) from the default base model:
#   1. an instruction set from TinyStories stories (scripts/default-chat-model.ts make): per story a
#      "Write a story [about a little girl named Lily] that uses the words "x" and "y"." prompt with the
#      story as the answer (three prompts per story with different word pairs), and for stories with a named main character a "What is the name of the ... in
#      the story?" question (story as context) with a one-sentence answer; 10% of the stories held out
#   2. full fine-tuning of models/default/model.gguf on it with `llama finetune --full`, prompts rendered
#      with the llama-2 chat format (loss on the answers only)
#   3. re-export to GGUF F16 with the llama-2 template as tokenizer.chat_template, so `llama chat` renders
#      the prompts the model was tuned on -> models/default-chat/model.gguf
#   4. instruction following before (base model, same template) and after on the held-out prompts
#      -> models/default-chat/eval-before.json (llama-2 prompts), eval-before-plain.json (User:/Assistant: transcript), eval-after.json
# Source: TinyStories (Eldan & Li 2023, CDLA-Sharing-1.0), ../shared/data/corpus/tinystories/
#   tiny_stories_train_head_944k.txt (the base model saw these stories in pretraining, not the prompts).
# usage: scripts/make-default-chat-model.sh [extra `llama finetune` flags]
set -eu
cd "$(dirname "$0")/.."
CORPUS="${CORPUS:-../shared/data/corpus}"
LLAMA="node bin/llama.js"
W=models/default-chat/work
mkdir -p $W
node dist/scripts/default-chat-model.js make "$CORPUS/tinystories/tiny_stories_train_head_944k.txt" $W/data --held-out 0.1 --seed 1 --variants 3
nice -n 5 $LLAMA finetune --base models/default/model.gguf --data $W/data/train.jsonl --format chat --chat-template llama-2 \
  --full --steps "${STEPS:-240}" --batch 8 --lr 5e-4 --seq-len 512 --val-fraction 0.05 --eval-every 50 --threads 2 -o $W/ft "$@"
$LLAMA export $W/ft/model.gguf --chat-template llama-2 --type f16 -o models/default-chat/model.gguf
cp $W/ft/log.jsonl models/default-chat/finetune-log.jsonl
node dist/scripts/default-chat-model.js eval models/default/model.gguf $W/data/heldout.json --chat-template llama-2 > models/default-chat/eval-before.json
node dist/scripts/default-chat-model.js eval models/default/model.gguf $W/data/heldout.json --chat-template plain > models/default-chat/eval-before-plain.json
node dist/scripts/default-chat-model.js eval models/default-chat/model.gguf $W/data/heldout.json > models/default-chat/eval-after.json
