// A seeded random number generator that gives the same stream on every platform: xorshift64*
// (Marsaglia's xorshift with a multiplicative output step), exactly as llama2.c's run.c uses it,
// so `random_f32` draws match llama2.c for the same seed.
const MASK64 = (1n << 64n) - 1n;
const MULT = 0x2545f4914f6cdd1dn;
/** xorshift has one fixed point, the all-zero state; seed 0 is mapped to this constant instead. */
const ZERO_SEED_STATE = 0x9e3779b97f4a7c15n;

export class Rng {
  private state: bigint;

  constructor(seed: number | bigint) {
    this.state = 0n;
    this.seed(seed);
  }

  /** Restart the stream from `seed` (any integer; taken modulo 2^64). */
  seed(seed: number | bigint): void {
    if (typeof seed === 'number' && !Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    const s = BigInt.asUintN(64, BigInt(seed));
    this.state = s === 0n ? ZERO_SEED_STATE : s;
  }

  /** 32 random bits (run.c random_u32). */
  nextU32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s = (s ^ (s << 25n)) & MASK64;
    s ^= s >> 27n;
    this.state = s;
    return Number(((s * MULT) & MASK64) >> 32n);
  }

  /** A float32 in [0, 1) with 24 random bits (run.c random_f32). */
  nextFloat(): number {
    return Math.fround((this.nextU32() >>> 8) / 16777216);
  }
}
