// Bookkeeping for a batched forward pass over several sequences: where each sequence's rows sit in
// the concatenated activations, the position of every row, and the checks that need no compute.
// The matmuls see one (T_total, dim) block; the KV cache and attention see each sequence's own
// row slice (a sequence only attends to its own past).
import { LlamaError } from '../errors.js';
import type { Session } from './kv-cache.js';

/** One sequence's part of a batched forward: its run state and the new tokens to evaluate. */
export interface SequenceInput {
  readonly session: Session;
  readonly tokens: readonly number[];
  /** this sequence's output for every row, not only the last (default: the pass's `allLogits`) */
  readonly allLogits?: boolean;
}

export interface BatchLayout {
  /** all tokens, sequence after sequence (T_total) */
  readonly tokens: number[];
  /** the position of every row in its own sequence (T_total) */
  readonly pos: Int32Array;
  /** first row of each sequence in the concatenated activations (nSeq + 1 entries; last = T_total) */
  readonly rowStart: readonly number[];
}

/** Lay out `seqs` for one pass; refuse empty inputs, a session given twice, and context overflow. */
export function layoutBatch(seqs: readonly SequenceInput[], contextLength: number): BatchLayout {
  if (seqs.length === 0) throw new LlamaError('USAGE', 'a batched forward needs at least one sequence');
  const seen = new Set<Session>();
  const tokens: number[] = [];
  const rowStart: number[] = [0];
  for (const { session, tokens: ids } of seqs) {
    if (ids.length === 0) throw new LlamaError('USAGE', 'forward needs at least one token per sequence');
    if (seen.has(session)) {
      throw new LlamaError('USAGE', 'the same session appears twice in one batched forward', { hint: 'concatenate its tokens into one entry' });
    }
    seen.add(session);
    if (session.pos + ids.length > session.ctxSize) {
      throw new LlamaError('CONTEXT_OVERFLOW', `${session.pos + ids.length} positions do not fit in the ${session.ctxSize}-position context`, {
        hint: `pass a larger --ctx-size (the model was trained for ${contextLength} positions) or shorten the prompt / -n`,
      });
    }
    for (const id of ids) tokens.push(id);
    rowStart.push(tokens.length);
  }
  const pos = new Int32Array(tokens.length); // (T_total)
  seqs.forEach(({ session }, s) => {
    for (let r = rowStart[s]!; r < rowStart[s + 1]!; r++) pos[r] = session.pos + (r - rowStart[s]!);
  });
  return { tokens, pos, rowStart };
}

/** Rows [from, to) of a (T, width) buffer; the buffer itself when that is all of it (a training tape matches buffers by identity). */
export function rowSlice(buf: Float32Array, from: number, to: number, width: number, totalRows: number): Float32Array {
  return from === 0 && to === totalRows ? buf : buf.subarray(from * width, to * width);
}

/**
 * The rows of x (T, dim) that go on to the output: per sequence its last row, or all its rows.
 * `picked` is x itself (or a view of it) when no gathering is needed (a training tape matches
 * buffers by identity); `counts` is the number of rows each sequence gets back.
 */
export function pickRows(x: Float32Array, rowStart: readonly number[], dim: number, all: readonly boolean[], alloc: (n: number) => Float32Array): { rows: number; picked: Float32Array; counts: number[] } {
  const nSeq = rowStart.length - 1;
  const T = rowStart[nSeq]!;
  const counts = all.map((a, s) => (a ? rowStart[s + 1]! - rowStart[s]! : 1));
  const rows = counts.reduce((a, b) => a + b, 0);
  if (rows === T) return { rows, picked: x, counts };
  if (nSeq === 1) return { rows: 1, picked: x.subarray((T - 1) * dim, T * dim), counts };
  const picked = alloc(rows * dim); // (rows, dim)
  let at = 0;
  for (let s = 0; s < nSeq; s++) {
    const from = all[s] ? rowStart[s]! : rowStart[s + 1]! - 1;
    picked.set(x.subarray(from * dim, rowStart[s + 1]! * dim), at * dim);
    at += counts[s]!;
  }
  return { rows, picked, counts };
}
