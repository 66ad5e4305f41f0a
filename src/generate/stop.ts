// Stop strings that never reach the output, even when a stop string arrives split across tokens:
// text that could still be the beginning of a stop string is held back until the next token
// decides it (llama.cpp's "partial stop" handling). Incremental UTF-8 decoding is the tokenizer's
// StreamDecoder; this works on the decoded text.

export interface StopResult {
  /** text that is now safe to emit */
  text: string;
  /** a stop string was found; `text` ends just before it and nothing more will be emitted */
  stopped: boolean;
  /** which stop string matched */
  stop?: string;
}

export class StopMatcher {
  private pending = '';
  private done = false;
  private readonly stops: readonly string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** Feed newly decoded text. */
  push(text: string): StopResult {
    if (this.done) return { text: '', stopped: true };
    this.pending += text;
    // The earliest full match wins (on equal starts, the longest stop string).
    let at = -1;
    let which = '';
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > which.length))) {
        at = i;
        which = s;
      }
    }
    if (at >= 0) {
      this.done = true;
      const out = this.pending.slice(0, at);
      this.pending = '';
      return { text: out, stopped: true, stop: which };
    }
    const hold = this.heldSuffixLength();
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { text: out, stopped: false };
  }

  /** The end of the stream: whatever was held back is plain text after all. */
  flush(): string {
    const out = this.done ? '' : this.pending;
    this.pending = '';
    return out;
  }

  /** Length of the longest suffix of `pending` that is a proper prefix of some stop string. */
  private heldSuffixLength(): number {
    let best = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > best; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
