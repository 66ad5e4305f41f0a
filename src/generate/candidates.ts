// The candidate list one sampling step works on: token ids with their logits (and probabilities
// once computed), possibly narrowed and reordered by earlier steps.

/** The candidate tokens for one step: the first `n` entries of ids/logits are alive. */
export class Candidates {
  ids: Int32Array; // (n, or more: the capacity of earlier rows)
  logits: Float64Array; // (n, or more)
  probs: Float64Array; // (n, or more), valid after softmax()
  n = 0;
  /** entries are in descending logit order */
  sorted = false;
  /** entry i is token i (nothing removed or reordered yet) */
  identity = true;
  /** the token the final step chose */
  selected = -1;

  constructor(logits: ArrayLike<number>) {
    const n = logits.length;
    this.ids = new Int32Array(n);
    this.logits = new Float64Array(n);
    this.probs = new Float64Array(n);
    this.reset(logits);
  }

  /**
   * Start over from another row of logits, in the arrays of this one (grown if they are too
   * small). A chain samples a vocabulary-wide row every token: fresh arrays (20 bytes a token,
   * 640 KB for 32000) cost more than the sampling itself (greedy on 32000 logits: 185 us a token
   * with fresh candidates).
   */
  reset(logits: ArrayLike<number>): this {
    const n = logits.length;
    if (this.ids.length < n) {
      this.ids = new Int32Array(n);
      this.logits = new Float64Array(n);
      this.probs = new Float64Array(n);
    }
    this.n = n;
    this.sorted = false;
    this.identity = true;
    this.selected = -1;
    if (ArrayBuffer.isView(logits) && this.logits.length === n) this.logits.set(logits as unknown as ArrayLike<number>); // typed copy, no per-element calls
    else for (let i = 0; i < n; i++) this.logits[i] = logits[i]!;
    const ids = this.ids;
    for (let i = 0; i < n; i++) ids[i] = i;
    return this;
  }

  /** Position of token `id` among the live candidates, or -1. */
  indexOf(id: number): number {
    if (this.identity) return id >= 0 && id < this.n ? id : -1;
    for (let i = 0; i < this.n; i++) if (this.ids[i] === id) return i;
    return -1;
  }

  /** Sort the live candidates by descending logit (stable: ties keep the lower position first). */
  sort(): void {
    if (!this.sorted) this.keepTop(this.n);
  }

  /** Reorder the live candidates so that new position i holds old position order[i]. */
  permute(order: readonly number[]): void {
    // gather only the kept entries (top-k keeps tens of a vocabulary's tens of thousands), then write back
    const m = order.length;
    const ids = new Int32Array(m);
    const logits = new Float64Array(m);
    const probs = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const o = order[i]!;
      ids[i] = this.ids[o]!;
      logits[i] = this.logits[o]!;
      probs[i] = this.probs[o]!;
    }
    this.ids.set(ids);
    this.logits.set(logits);
    this.probs.set(probs);
    this.n = m;
    this.identity = false;
    this.sorted = false;
  }

  /**
   * Positions of the k best live candidates, best first (descending logit, ties: lower position
   * first), without changing anything. O(n log k) with a bounded heap rather than a full sort:
   * vocabularies are 32k-128k tokens and k is usually tens.
   */
  bestPositions(k: number): number[] {
    const n = this.n;
    const l = this.logits;
    const byRank = (a: number, b: number) => l[b]! - l[a]! || a - b;
    if (this.sorted) return Array.from({ length: Math.min(k, n) }, (_, i) => i);
    if (k >= n) return Array.from({ length: n }, (_, i) => i).sort(byRank);
    k = Math.max(1, k);
    // heap[0] is the worst position kept so far; "a is worse than b" = lower logit, or equal and later
    const heap = new Int32Array(k);
    const worse = (a: number, b: number) => l[a]! < l[b]! || (l[a]! === l[b]! && a > b);
    const siftDown = (i: number) => {
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let w = i;
        if (left < k && worse(heap[left]!, heap[w]!)) w = left;
        if (right < k && worse(heap[right]!, heap[w]!)) w = right;
        if (w === i) return;
        const t = heap[i]!;
        heap[i] = heap[w]!;
        heap[w] = t;
        i = w;
      }
    };
    for (let i = 0; i < k; i++) heap[i] = i;
    for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i);
    // a later position is worse than heap[0] only if its logit is lower or equal (ties: the later
    // one is worse), so one comparison with the worst kept logit decides
    let worst = l[heap[0]!]!;
    for (let i = k; i < n; i++) {
      if (l[i]! > worst) {
        heap[0] = i;
        siftDown(0);
        worst = l[heap[0]!]!;
      }
    }
    return Array.from(heap).sort(byRank);
  }

  /** Keep exactly these positions, which are in best-first order. */
  keepOrdered(order: readonly number[]): void {
    this.permute(order);
    this.sorted = true;
  }

  /** Keep only the k best candidates, best first. */
  keepTop(k: number): void {
    const order = this.bestPositions(k);
    this.permute(order);
    this.sorted = true;
  }

  /** Keep the first k live candidates. */
  truncate(k: number): void {
    if (k < this.n) {
      this.n = Math.max(1, k);
      this.identity = false;
    }
  }

  /** probs[0..n) = softmax(logits[0..n)) */
  softmax(): void {
    let max = -Infinity;
    for (let i = 0; i < this.n; i++) max = Math.max(max, this.logits[i]!);
    let sum = 0;
    for (let i = 0; i < this.n; i++) {
      const e = Math.exp(this.logits[i]! - max);
      this.probs[i] = e;
      sum += e;
    }
    for (let i = 0; i < this.n; i++) this.probs[i] = this.probs[i]! / sum;
  }
}
