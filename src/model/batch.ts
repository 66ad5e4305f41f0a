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
  /**
   * the output for this many of the sequence's last rows (1 ≤ n ≤ tokens), e.g. only the rows whose
   * next token is scored; overrides allLogits. The rows not asked for skip the output projection.
   */
  readonly outputRows?: number;
  /**
   * other sessions, at the same position as `session`, that receive this sequence's keys and values
   * too and advance with it: each then holds these tokens as its prefix without evaluating them again
   * (e.g. a question's context shared by the sessions that go on with each of its answers).
   */
  readonly shareKvWith?: readonly Session[];
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
  const once = (s: Session) => {
    if (seen.has(s)) throw new LlamaError('USAGE', 'the same session appears twice in one batched forward', { hint: 'concatenate its tokens into one entry' });
    seen.add(s);
  };
  for (const { session, tokens: ids, outputRows, shareKvWith } of seqs) {
    if (ids.length === 0) throw new LlamaError('USAGE', 'forward needs at least one token per sequence');
    once(session);
    if (outputRows !== undefined && !(Number.isInteger(outputRows) && outputRows >= 1 && outputRows <= ids.length)) {
      throw new LlamaError('USAGE', `outputRows must be an integer from 1 to the sequence's ${ids.length} tokens, got ${outputRows}`);
    }
    for (const other of shareKvWith ?? []) {
      once(other);
      if (other.pos !== session.pos) throw new LlamaError('USAGE', `a session sharing keys/values is at position ${other.pos}, the sequence at ${session.pos}`, { hint: 'rewind or reset it to the same position first' });
      if (other.pos + ids.length > other.ctxSize) throw new LlamaError('CONTEXT_OVERFLOW', `${other.pos + ids.length} positions do not fit in a sharing session's ${other.ctxSize}-position context`);
    }
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

/** How many of its last rows each sequence gets back: outputRows, else all (allLogits) or 1. */
export function outputCounts(seqs: readonly SequenceInput[], allByDefault: boolean): number[] {
  return seqs.map((q) => q.outputRows ?? ((q.allLogits ?? allByDefault) ? q.tokens.length : 1));
}

/**
 * The rows of x (T, dim) that go on to the output: per sequence its last `want[s]` rows (1 = its
 * last row, all of them for allLogits). `picked` is x itself (or a view of it) when no gathering
 * is needed (a training tape matches buffers by identity); `counts` is the number of rows each
 * sequence gets back.
 */
export function pickRows(x: Float32Array, rowStart: readonly number[], dim: number, want: readonly number[], alloc: (n: number) => Float32Array): { rows: number; picked: Float32Array; counts: number[] } {
  const nSeq = rowStart.length - 1;
  const T = rowStart[nSeq]!;
  const counts = [...want];
  const rows = counts.reduce((a, b) => a + b, 0);
  if (rows === T) return { rows, picked: x, counts };
  if (nSeq === 1) return { rows, picked: x.subarray((T - rows) * dim, T * dim), counts };
  const picked = alloc(rows * dim); // (rows, dim)
  let at = 0;
  for (let s = 0; s < nSeq; s++) {
    const from = rowStart[s + 1]! - counts[s]!;
    picked.set(x.subarray(from * dim, rowStart[s + 1]! * dim), at * dim);
    at += counts[s]!;
  }
  return { rows, picked, counts };
}
