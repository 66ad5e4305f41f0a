// The merge loop shared by both tokenizers: a sequence of symbols (token ids) is merged pair by
// pair, always taking the adjacent pair with the highest priority (leftmost on ties), until no
// adjacent pair has a merge. SentencePiece BPE uses the merged piece's score as priority
// (bpe_model.cc); byte-level BPE uses minus the merge rank (tiktoken / HF).
//
// Symbols live in a doubly linked list over their start positions and candidate pairs in a binary
// heap; stale heap entries are skipped when popped. Every merge pushes at most two new pairs, so
// a text of n symbols costs O(n log n), never O(n^2).

/** (left id, right id) -> (merged id, priority), as an open-addressing hash over Int32Arrays. */
export class PairTable {
  private keysL: Int32Array;
  private keysR: Int32Array;
  private vals: Int32Array;
  private mask: number;
  private count = 0;
  readonly mergedId: number[] = [];
  readonly priority: number[] = [];
  readonly left: number[] = [];
  readonly right: number[] = [];

  constructor(expected = 1024) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.keysL = new Int32Array(cap).fill(-1);
    this.keysR = new Int32Array(cap);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  private static hash(l: number, r: number): number {
    return (Math.imul(l, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  }

  /** entry index of (l, r), or -1 */
  find(l: number, r: number): number {
    const keysL = this.keysL;
    const mask = this.mask;
    let i = PairTable.hash(l, r) & mask;
    for (;;) {
      const k = keysL[i]!;
      if (k === -1) return -1;
      if (k === l && this.keysR[i] === r) return this.vals[i]!;
      i = (i + 1) & mask;
    }
  }

  /** Adds (l, r) -> merged unless present; an existing entry keeps the higher priority. */
  set(l: number, r: number, merged: number, priority: number): void {
    const e = this.find(l, r);
    if (e >= 0) {
      if (priority > this.priority[e]!) {
        this.priority[e] = priority;
        this.mergedId[e] = merged;
      }
      return;
    }
    if ((this.count + 1) * 2 > this.keysL.length) this.grow();
    const entry = this.mergedId.length;
    this.mergedId.push(merged);
    this.priority.push(priority);
    this.left.push(l);
    this.right.push(r);
    this.insert(l, r, entry);
    this.count++;
  }

  private insert(l: number, r: number, entry: number): void {
    let i = PairTable.hash(l, r) & this.mask;
    while (this.keysL[i] !== -1) i = (i + 1) & this.mask;
    this.keysL[i] = l;
    this.keysR[i] = r;
    this.vals[i] = entry;
  }

  private grow(): void {
    const oldL = this.keysL;
    const oldR = this.keysR;
    const oldV = this.vals;
    const cap = oldL.length * 2;
    this.keysL = new Int32Array(cap).fill(-1);
    this.keysR = new Int32Array(cap);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < oldL.length; i++) if (oldL[i] !== -1) this.insert(oldL[i]!, oldR[i]!, oldV[i]!);
  }
}

/** Scratch buffers reused across calls (one per tokenizer; encoding is synchronous). */
export class MergeWorkspace {
  ids = new Int32Array(256);
  next = new Int32Array(256);
  prev = new Int32Array(256);
  // heap of candidate pairs: position of the left symbol, the two ids it was made from, the entry
  heapPos = new Int32Array(256);
  heapL = new Int32Array(256);
  heapR = new Int32Array(256);
  heapE = new Int32Array(256);
  heapP = new Float64Array(256);

  ensure(n: number): void {
    if (this.ids.length < n) {
      let cap = this.ids.length;
      while (cap < n) cap *= 2;
      const ids = new Int32Array(cap);
      ids.set(this.ids);
      this.ids = ids;
      this.next = new Int32Array(cap);
      this.prev = new Int32Array(cap);
    }
  }

  ensureHeap(n: number): void {
    if (this.heapPos.length < n) {
      let cap = this.heapPos.length;
      while (cap < n) cap *= 2;
      const grow = <T extends Int32Array | Float64Array>(a: T, make: (c: number) => T): T => {
        const b = make(cap);
        b.set(a as never);
        return b;
      };
      this.heapPos = grow(this.heapPos, (c) => new Int32Array(c));
      this.heapL = grow(this.heapL, (c) => new Int32Array(c));
      this.heapR = grow(this.heapR, (c) => new Int32Array(c));
      this.heapE = grow(this.heapE, (c) => new Int32Array(c));
      this.heapP = grow(this.heapP, (c) => new Float64Array(c));
    }
  }
}

/**
 * Merges `ws.ids[0..n)` in place. Returns the number of symbols left; they are written compactly
 * to `ws.ids[0..result)` in order. Ids < 0 never merge.
 */
export function mergeSymbols(ws: MergeWorkspace, n: number, table: PairTable): number {
  if (n < 2) return n;
  const ids = ws.ids;
  const next = ws.next;
  const prev = ws.prev;
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const prio = table.priority;
  const merged = table.mergedId;
  let size = 0;

  // (priority desc, position asc): a before b?
  const before = (a: number, b: number): boolean => {
    const pa = ws.heapP[a]!;
    const pb = ws.heapP[b]!;
    return pa > pb || (pa === pb && ws.heapPos[a]! < ws.heapPos[b]!);
  };
  const swap = (a: number, b: number): void => {
    let t = ws.heapPos[a]!;
    ws.heapPos[a] = ws.heapPos[b]!;
    ws.heapPos[b] = t;
    t = ws.heapL[a]!;
    ws.heapL[a] = ws.heapL[b]!;
    ws.heapL[b] = t;
    t = ws.heapR[a]!;
    ws.heapR[a] = ws.heapR[b]!;
    ws.heapR[b] = t;
    t = ws.heapE[a]!;
    ws.heapE[a] = ws.heapE[b]!;
    ws.heapE[b] = t;
    const p = ws.heapP[a]!;
    ws.heapP[a] = ws.heapP[b]!;
    ws.heapP[b] = p;
  };
  const push = (pos: number, l: number, r: number): void => {
    if (l < 0 || r < 0) return;
    const e = table.find(l, r);
    if (e < 0) return;
    ws.ensureHeap(size + 1);
    let i = size++;
    ws.heapPos[i] = pos;
    ws.heapL[i] = l;
    ws.heapR[i] = r;
    ws.heapE[i] = e;
    ws.heapP[i] = prio[e]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(i, parent)) break;
      swap(i, parent);
      i = parent;
    }
  };
  const popTop = (): void => {
    size--;
    if (size === 0) return;
    swap(0, size);
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      let c = l;
      if (l + 1 < size && before(l + 1, l)) c = l + 1;
      if (!before(c, i)) break;
      swap(c, i);
      i = c;
    }
  };

  for (let i = 0; i + 1 < n; i++) push(i, ids[i]!, ids[i + 1]!);
  const DEAD = -2147483648;
  while (size > 0) {
    const pos = ws.heapPos[0]!;
    const l = ws.heapL[0]!;
    const r = ws.heapR[0]!;
    const e = ws.heapE[0]!;
    popTop();
    // stale unless the left symbol is alive with the same id and its right neighbour still has r
    if (ids[pos] !== l) continue;
    const rp = next[pos]!;
    if (rp < 0 || ids[rp] !== r) continue;
    const m = merged[e]!;
    ids[pos] = m;
    const after = next[rp]!;
    next[pos] = after;
    if (after >= 0) prev[after] = pos;
    ids[rp] = DEAD;
    const before_ = prev[pos]!;
    if (before_ >= 0) push(before_, ids[before_]!, m);
    if (after >= 0) push(pos, m, ids[after]!);
  }
  let out = 0;
  for (let i = 0; i >= 0; i = next[i]!) ids[out++] = ids[i]!;
  return out;
}
