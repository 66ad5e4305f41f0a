// Random damage to real files: flipping bytes in the parts a reader interprets (safetensors JSON
// header, the .pth pickle and zip directory, the llama2.c header) must give either a successful read
// or a typed LlamaError, never a RangeError, a crash or a hang. Seeded, so failures reproduce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaError } from '../src/errors.js';
import { SafetensorsFile } from '../src/formats/safetensors.js';
import { PthFile } from '../src/formats/pth.js';
import { Llama2cFile } from '../src/formats/llama2c.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { tempDir } from './helpers/corrupt.js';

/** xorshift32: a tiny seeded generator for reproducible damage. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

interface Reader { open(p: string): { readAll(): void; close(): void } }

const readers: Record<string, Reader> = {
  safetensors: { open: (p) => { const f = SafetensorsFile.open(p); return { readAll: () => { for (const n of f.entries.keys()) f.readTensor(n); }, close: () => f.close() }; } },
  pth: { open: (p) => { const f = PthFile.open(p); return { readAll: () => { for (const n of f.tensors.keys()) f.readTensor(n); }, close: () => f.close() }; } },
  llama2c: { open: (p) => { const f = Llama2cFile.open(p); return { readAll: () => { for (const n of f.tensors.keys()) f.readTensor(n); }, close: () => f.close() }; } },
};

function fuzz(kind: string, original: Uint8Array, regions: [number, number][], trials: number, seed: number) {
  const { dir, cleanup } = tempDir('fuzz');
  const next = rng(seed);
  const p = join(dir, 'damaged');
  let typed = 0;
  let ok = 0;
  try {
    for (let trial = 0; trial < trials; trial++) {
      const bytes = original.slice();
      const flips = 1 + Math.floor(next() * 4);
      for (let k = 0; k < flips; k++) {
        const [a, b] = regions[Math.floor(next() * regions.length)]!;
        const at = a + Math.floor(next() * (b - a));
        bytes[at] = next() < 0.5 ? Math.floor(next() * 256) : bytes[at]! ^ (1 << Math.floor(next() * 8));
      }
      writeFileSync(p, bytes);
      try {
        const f = readers[kind]!.open(p);
        try {
          f.readAll();
          ok++;
        } finally {
          f.close();
        }
      } catch (e) {
        assert.ok(e instanceof LlamaError, `${kind} trial ${trial} (seed ${seed}): ${(e as Error)?.stack ?? String(e)}`);
        typed++;
      }
    }
  } finally {
    cleanup();
  }
  assert.equal(typed + ok, trials);
  assert.ok(typed > 0, `${kind}: some damage must be detected`);
}

test('fuzz: damaged safetensors headers', needsShared('golden/llama1-tiny'), () => {
  const b = new Uint8Array(readFileSync(sharedData('golden', 'llama1-tiny', 'model.safetensors')));
  const n = Number(new DataView(b.buffer).getBigUint64(0, true));
  fuzz('safetensors', b, [[0, 8], [8, 8 + n]], 300, 1234);
});

test('fuzz: damaged .pth pickle and zip directory', needsShared('golden/llama1-tiny'), () => {
  const b = new Uint8Array(readFileSync(sharedData('golden', 'llama1-tiny', 'consolidated.00.pth')));
  const dv = new DataView(b.buffer);
  const cdOffset = dv.getUint32(b.length - 22 + 16, true);
  // data.pkl is the first entry; its data starts after the local header + name + extra field
  const pklStart = 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
  fuzz('pth', b, [[0, pklStart + dv.getUint32(18, true)], [cdOffset, b.length]], 300, 5678);
});

test('fuzz: damaged llama2.c headers', needsShared('models/stories260K/stories260K.bin'), () => {
  const b = new Uint8Array(readFileSync(sharedData('models', 'stories260K', 'stories260K.bin')));
  fuzz('llama2c', b, [[0, 28]], 200, 91011);
});
