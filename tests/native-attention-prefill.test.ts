// The native prefill attention for short heads (src/backend/native/c/attention_prefill.c: f32 or
// f16 KV cache, head dims 16..64, T >= 2, AVX-512): scores 16 positions at a time from transposed K rows,
// 4 query rows at a time. Against the js oracle with the conformance suite's attention bound (2e-5)
// on longer spans than the suite's (query blocks of 16 tokens, grouped heads, positions past the
// 16-position blocks), 1 and 2 threads giving the same bits, and the knob switching it off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend, nativeInfo, nativeUnavailableReason } from '../src/backend/native/index.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { DType } from '../src/tensor/dtype.js';
import { rng } from './helpers/backend-conformance.js';

const reason = nativeUnavailableReason() ?? (nativeInfo()?.available.includes('avx512') ? undefined : 'the prefill attention kernel is AVX-512 only');
const tuning = () => loadAddon().addon as unknown as { setTuning(name: string, v: number): void };

test('native prefill attention (f32 and f16 caches, head dims 16..64): the js oracle within 2e-5 over long causal spans; 1 and 2 threads agree bit for bit; knob attnp=0 takes the general path', { skip: reason ?? false }, () => {
  const oracle = new JsBackend();
  const one = loadNativeBackend({ threads: 1, isa: 'avx512' })!, two = loadNativeBackend({ threads: 2, isa: 'avx512' })!;
  const r = rng(31);
  const randn = (n: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * 2);
  for (const kvType of [DType.F32, DType.F16]) {
    for (const [nh, nkv, hd] of [[4, 2, 32], [2, 2, 16], [6, 2, 48], [8, 1, 64], [3, 3, 32]] as const) {
      const nCtx = 120;
      const co = oracle.createKVCache(1, nCtx, nkv, hd, kvType), c1 = one.createKVCache(1, nCtx, nkv, hd, kvType), c2 = two.createKVCache(1, nCtx, nkv, hd, kvType);
      let pos = 0;
      for (const T of [41, 2, 17, 33, 1, 16]) {
        const k = randn(T * nkv * hd), v = randn(T * nkv * hd), q = randn(T * nh * hd);
        for (const [be, c] of [[oracle, co], [one, c1], [two, c2]] as const) be.kvStore(c, 0, pos, T, k, v);
        const want = new Float32Array(T * nh * hd), got1 = new Float32Array(T * nh * hd).fill(NaN), got2 = new Float32Array(T * nh * hd).fill(NaN), general = new Float32Array(T * nh * hd).fill(NaN);
        oracle.attention(want, q, co, 0, pos, T, nh);
        one.attention(got1, q, c1, 0, pos, T, nh);
        two.attention(got2, q, c2, 0, pos, T, nh);
        try {
          tuning().setTuning('attnp', 0);
          one.attention(general, q, c1, 0, pos, T, nh);
        } finally {
          tuning().setTuning('attnp', 1);
        }
        let worst = 0, differ = 0;
        for (let i = 0; i < want.length; i++) {
          worst = Math.max(worst, Math.abs(got1[i]! - want[i]!));
          if (got1[i] !== general[i]) differ++;
        }
        const where = `${kvType === DType.F16 ? 'f16' : 'f32'} cache, heads ${nh}/${nkv} hd ${hd} pos0=${pos} T=${T}`;
        assert.ok(worst <= 2e-5, `${where}: ${worst}`);
        assert.deepEqual(got2, got1, `${where}: 2 threads give the 1-thread bits`);
        if (T >= 16) assert.ok(differ > 0, `${where}: the prefill kernel ran (its q·k sums differ in order from the general path's)`);
        pos += T;
      }
    }
  }
});
