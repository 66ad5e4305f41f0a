#!/usr/bin/env python3
"""Optional cross-check of the Llama 3 tokenizer against OpenAI's tiktoken library, set up as
Meta's llama/tokenizer.py does (not a dependency of llama-ts).

    pip install tiktoken
    npm run build
    python3 scripts/compare-tiktoken.py [tokenizer.model] [text files...]

Meta's own wrapper cuts inputs longer than 400,000 characters and runs longer than 25,000
characters before calling tiktoken (llama-ts does too), so each file is compared in pieces of at
most 300,000 characters, cut at line ends.
"""
import glob
import json
import os
import subprocess
import sys

import tiktoken
from tiktoken.load import load_tiktoken_bpe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '../shared/data/tokenizer/llama3/tokenizer.model')
files = sys.argv[2:] or sorted(glob.glob(os.path.join(ROOT, '../shared/data/corpus/*/*.txt')))
PAT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
ranks = load_tiktoken_bpe(model)
enc = tiktoken.Encoding(name='llama3', pat_str=PAT, mergeable_ranks=ranks, special_tokens={})

def pieces(text, limit=300_000):
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + limit)
        if end < len(text):
            nl = text.rfind('\n', start, end)
            end = nl + 1 if nl > start else end
        out.append(text[start:end])
        start = end
    return out

bad = 0
for f in files:
    text = open(f, encoding='utf-8').read()
    for i, piece in enumerate(pieces(text)):
        want = enc.encode(piece)
        out = subprocess.run(['node', os.path.join(ROOT, 'bin/llama.js'), 'tokenize', '-m', model, '--no-bos', '--stdin', '--json'],
                             input=piece.encode('utf-8'), capture_output=True, check=True)
        same = json.loads(out.stdout) == want
        bad += not same
        print(f"{'same' if same else 'DIFFERENT'}: {f} part {i} ({len(want)} ids)")
sys.exit(1 if bad else 0)
