// The layout of a wasm kernel worker's control block (Int32 words in the shared memory), shared by
// the main thread (pool.ts) and the worker (worker-loop.ts); see worker-loop.ts for the protocol.
export const CTL = { gen: 0, done: 1, op: 2, args: 3, claim: 16, state: 17, spin: 18, sleeps: 19, seen: 20, words: 32 } as const;
/** worker states in CTL.state */
export const WORKER_ASLEEP = 0;
export const WORKER_AWAKE = 1;
