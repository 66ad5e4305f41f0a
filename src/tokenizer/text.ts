// Small helpers shared by the tokenizers: UTF-8 coding and special-token matching.

export const utf8Encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** A piece of input text: plain text to tokenize, or a special token matched in it. */
export type Fragment = { text: string; id?: undefined } | { text?: undefined; id: number };

/**
 * Splits `text` at occurrences of the given special strings (longest match first at each
 * position). With no specials, returns the text as one fragment.
 */
export function splitSpecial(text: string, specials: ReadonlyMap<string, number>, matcher: RegExp | undefined): Fragment[] {
  if (!matcher || specials.size === 0 || text.length === 0) return [{ text }];
  const out: Fragment[] = [];
  let last = 0;
  matcher.lastIndex = 0;
  for (let m = matcher.exec(text); m !== null; m = matcher.exec(text)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ id: specials.get(m[0])! });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/**
 * splitSpecial, but a match counts only when it lies wholly inside one of `ranges` ([start, end)
 * character offsets); other matches stay part of the surrounding text.
 */
export function splitSpecialIn(text: string, specials: ReadonlyMap<string, number>, matcher: RegExp | undefined, ranges: readonly (readonly [number, number])[]): Fragment[] {
  if (!matcher || specials.size === 0 || text.length === 0) return [{ text }];
  const out: Fragment[] = [];
  let last = 0;
  matcher.lastIndex = 0;
  for (let m = matcher.exec(text); m !== null; m = matcher.exec(text)) {
    const end = m.index + m[0].length;
    if (!ranges.some(([a, b]) => m!.index >= a && end <= b)) continue;
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ id: specials.get(m[0])! });
    last = end;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** A global regex matching any of `strings`, longest first (so `<|eot_id|>` beats a prefix). */
export function specialMatcher(strings: Iterable<string>): RegExp | undefined {
  const list = [...strings].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (list.length === 0) return undefined;
  return new RegExp(list.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gu');
}
