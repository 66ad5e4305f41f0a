#!/usr/bin/env python3
"""Optional cross-check against Google's sentencepiece library (not a dependency of llama-ts).

    pip install sentencepiece
    npm run build
    python3 scripts/compare-sentencepiece.py [tokenizer.model] [text files...]

Encodes each text file (default: every ../shared/data/corpus/*/*.txt) and their concatenation
as one string with sentencepiece and with `llama tokenize --no-bos --stdin --json`, and reports
whether the ids are identical. Also useful for a model written by `llama train-tokenizer`.
"""
import glob
import json
import os
import subprocess
import sys

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '../shared/data/tokenizer/llama2/tokenizer.model')
files = sys.argv[2:] or sorted(glob.glob(os.path.join(ROOT, '../shared/data/corpus/*/*.txt')))
sp = spm.SentencePieceProcessor(model_file=model)
texts = [(f, open(f, encoding='utf-8').read()) for f in files]
texts.append(('<all files as one string>', ''.join(t for _, t in texts)))
bad = 0
for name, text in texts:
    want = sp.encode(text)
    out = subprocess.run(['node', os.path.join(ROOT, 'bin/llama.js'), 'tokenize', '-m', model, '--no-bos', '--stdin', '--json'],
                         input=text.encode('utf-8'), capture_output=True, check=True)
    got = json.loads(out.stdout)
    same = got == want
    bad += not same
    print(f"{'same' if same else 'DIFFERENT'}: {name} ({len(want)} ids)")
sys.exit(1 if bad else 0)
