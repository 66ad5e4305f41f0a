// Benchmarks (llama-ts's `bench` namespace): `llama bench` and the synthetic models it measures.
export { runBench, formatTable, modelCost, modelLabel } from '../bench/llama-bench.js';
export type { BenchResult, BenchOptions } from '../bench/llama-bench.js';
export { writeSyntheticGguf, SYNTHETIC_SHAPES, SYNTHETIC_TYPES, SYNTHETIC_MIXES } from '../bench/synthetic.js';
