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
  // candidate pairs ("entries"): position of the left symbol, the two ids it was made from, the
  // pair-table entry and its priority; the heap holds entry indices
  entPos = new Int32Array(768);
  entL = new Int32Array(768);
  entR = new Int32Array(768);
  entE = new Int32Array(768);
  entP = new Float64Array(768);
  heap = new Int32Array(768);

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
    // n - 1 initial pairs plus at most two per merge (n - 1 merges)
    const need = 3 * n;
    if (this.heap.length < need) {
      let cap = this.heap.length;
      while (cap < need) cap *= 2;
      this.entPos = new Int32Array(cap);
      this.entL = new Int32Array(cap);
      this.entR = new Int32Array(cap);
      this.entE = new Int32Array(cap);
      this.entP = new Float64Array(cap);
      this.heap = new Int32Array(cap);
    }
  }
}

/**
 * Merges `ws.ids[0..n)` in place (call `ws.ensure(n)` first). Returns the number of symbols left;
 * they are written compactly to `ws.ids[0..result)` in order. Ids < 0 never merge.
 */
export function mergeSymbols(ws: MergeWorkspace, n: number, table: PairTable): number {
  if (n < 2) return n;
  ws.ensure(n);
  const ids = ws.ids;
  const next = ws.next;
  const prev = ws.prev;
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const prio = table.priority;
  const merged = table.mergedId;
  const entPos = ws.entPos;
  const entL = ws.entL;
  const entR = ws.entR;
  const entE = ws.entE;
  const entP = ws.entP;
  const heap = ws.heap;
  let nEnt = 0;
  let size = 0;

  // heap order: priority desc, then position asc
  const before = (a: number, b: number): boolean => {
    const pa = entP[a]!;
    const pb = entP[b]!;
    return pa > pb || (pa === pb && entPos[a]! < entPos[b]!);
  };
  const siftDown = (i: number): void => {
    const x = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      let c = l;
      let hc = heap[l]!;
      if (l + 1 < size && before(heap[l + 1]!, hc)) {
        c = l + 1;
        hc = heap[c]!;
      }
      if (!before(hc, x)) break;
      heap[i] = hc;
      i = c;
    }
    heap[i] = x;
  };
  const addEntry = (pos: number, l: number, r: number): number => {
    if (l < 0 || r < 0) return -1;
    const e = table.find(l, r);
    if (e < 0) return -1;
    const k = nEnt++;
    entPos[k] = pos;
    entL[k] = l;
    entR[k] = r;
    entE[k] = e;
    entP[k] = prio[e]!;
    return k;
  };
  const push = (pos: number, l: number, r: number): void => {
    const k = addEntry(pos, l, r);
    if (k < 0) return;
    let i = size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const hp = heap[parent]!;
      if (!before(k, hp)) break;
      heap[i] = hp;
      i = parent;
    }
    heap[i] = k;
  };

  // initial pairs, heapified bottom-up in O(n)
  for (let i = 0; i + 1 < n; i++) {
    const k = addEntry(i, ids[i]!, ids[i + 1]!);
    if (k >= 0) heap[size++] = k;
  }
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i);

  const DEAD = -2147483648;
  while (size > 0) {
    const top = heap[0]!;
    size--;
    if (size > 0) {
      heap[0] = heap[size]!;
      siftDown(0);
    }
    const pos = entPos[top]!;
    // stale unless the left symbol is alive with the same id and its right neighbour still has r
    if (ids[pos] !== entL[top]) continue;
    const rp = next[pos]!;
    if (rp < 0 || ids[rp] !== entR[top]) continue;
    const m = merged[entE[top]!]!;
    ids[pos] = m;
    const after = next[rp]!;
    next[pos] = after;
    if (after >= 0) prev[after] = pos;
    ids[rp] = DEAD;
    const left = prev[pos]!;
    if (left >= 0) push(left, ids[left]!, m);
    if (after >= 0) push(pos, m, ids[after]!);
  }
  let out = 0;
  for (let i = 0; i >= 0; i = next[i]!) ids[out++] = ids[i]!;
  return out;
}
