// Comparing loaded models in tests.
import assert from 'node:assert/strict';
import type { LoadedModel } from '../../src/model/loaded.js';
import { flattenWeights } from '../../src/model/names.js';
import { dtypeName } from '../../src/tensor/dtype.js';

/** Every weight of `a` and `b` has the same name, type, shape and bytes. */
export function assertSameWeights(a: LoadedModel, b: LoadedModel, what: string): number {
  const fa = flattenWeights(a.weights);
  const fb = flattenWeights(b.weights);
  assert.deepEqual(fa.map((x) => x.tensor.name), fb.map((x) => x.tensor.name), `${what}: weight names`);
  for (let i = 0; i < fa.length; i++) {
    const x = fa[i]!.tensor;
    const y = fb[i]!.tensor;
    assert.equal(dtypeName(x.type), dtypeName(y.type), `${what}: ${x.name} type`);
    assert.deepEqual(x.shape, y.shape, `${what}: ${x.name} shape`);
    assert.ok(Buffer.compare(Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength), Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength)) === 0, `${what}: ${x.name} bytes differ`);
  }
  return fa.length;
}
