#!/usr/bin/env python3
"""Writes tests/data/tokenizer-edge-cases.json: ids for tricky texts computed by the reference
libraries (not dependencies of llama-ts; run once by hand):

    pip install sentencepiece tiktoken
    python3 scripts/gen-tokenizer-edge-cases.py

Llama 2: Google's sentencepiece on ../shared/data/tokenizer/llama2/tokenizer.model (encode
without BOS, and decode of those ids). Llama 3: OpenAI's tiktoken set up as Meta's
llama/tokenizer.py does (its pattern, the tokenizer.model ranks, no special tokens).
"""
import json
import os

import sentencepiece as spm
import tiktoken
from tiktoken.load import load_tiktoken_bpe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, '../shared/data/tokenizer')
PAT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

CASES = [
    "I'LL DON'T it'\u017f we'Ve 'S",
    "a\u0085\u0085b a\ufeff\ufeffb x\u00a0\u00a0y \u3000\u3000z",
    "日本語のテキスト、中文测试。한국어 텍스트",
    "🦙🦙 👨\u200d👩\u200d👧 e\u0301 \ufb01",
    "1234567 3.14159 ١٢٣٤ ½",
    "\t\t\n\n  \r\n x  \n",
    "Việt Nam ĐÀ NẴNG Ελληνικά кириллица",
    "\x1c\x1d\x1e\x1f sep",
    "$%^&*()__++ --- ...!!! ''' \"\"\"",
    "   ",
    "a" * 3000 + " " * 500 + "b",
    "▁▁x ▁ y▁",
    "<s> </s> <unk> <0x41> <|begin_of_text|>",
    "def f(x):\n    return x**2  # comment\n\n\nprint(f(3))",
]

# Llama 2 id sequences for decoding: broken byte runs, <unk>, control pieces, leading spaces
DECODE_IDS = [
    [233, 154, 263, 258, 243, 162, 169],
    [0, 5, 1, 2, 15043],
    [1, 29871, 15043, 2, 29871, 29871],
    [243, 162, 169, 156, 243, 162],
    [1, 243, 162, 169, 156, 29871, 0, 3],
    [259, 1678, 13, 13, 29871],
]

sp = spm.SentencePieceProcessor(model_file=os.path.join(DATA, 'llama2/tokenizer.model'))
enc = tiktoken.Encoding(name='llama3', pat_str=PAT, mergeable_ranks=load_tiktoken_bpe(os.path.join(DATA, 'llama3/tokenizer.model')), special_tokens={})
cases = [{'text': t, 'llama2': sp.encode(t), 'llama2_decoded': sp.decode(sp.encode(t)), 'llama3': enc.encode(t)} for t in CASES]
generator = f'scripts/gen-tokenizer-edge-cases.py with sentencepiece {spm.__version__} and tiktoken {tiktoken.__version__}'
with open(os.path.join(ROOT, 'tests/data/tokenizer-edge-cases.json'), 'w', encoding='utf-8') as f:
    f.write('{"generator": ' + json.dumps(generator) + ',\n"cases": [\n')
    f.write(',\n'.join(json.dumps(c, ensure_ascii=False) for c in cases))
    f.write('\n],\n"llama2_decode": [\n')
    f.write(',\n'.join(json.dumps({'ids': ids, 'text': sp.decode(ids)}, ensure_ascii=False) for ids in DECODE_IDS))
    f.write('\n]}\n')
