// An instruction set a small story model can learn, derived from the stories themselves
// (TinyStories-Instruct style): "Write a story about a little girl named Lily that uses the words
// "needle" and "shirt"." with the story as the answer, plus short question/answer pairs ("What is
// the name of the little girl in the story?") with the story as the input. Alpaca records, so
// `llama finetune --format alpaca` trains on them; a held-out part measures instruction following
// (`requiredWordsShare`: the share of the required words a generated story uses).
import { Rng } from '../train/rng.js';
import type { AlpacaRecord } from './data.js';

/** TinyStories-style text: paragraphs split by blank lines, stories by single newlines. */
export function splitStories(text: string): string[] {
  return text
    .replace(/\r\n/g, '\n')
    .split(/(?<!\n)\n(?!\n)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

// Words too common (or too grammatical) to make a meaningful requirement.
const STOP = new Set(
  ('about after again all also always and any are around away back because been before being big but came can could day did ' +
    'does down each even ever every find first for from gave get give going good got had happy has have her here him his how ' +
    'into its just know like little look looked made make many more much must named need never next nice not now off once one ' +
    'only other our out over play played said saw say see she should some something soon than that the their them then there ' +
    'these they thing things think this time told too took two upon very want wanted was way went were what when where which ' +
    'while who will with would yes you your felt feel mom dad friend friends asked loved love help helped went very really let ' +
    'tried learned smiled laughed lived').split(/\s+/),
);

export interface StoryInstruction extends AlpacaRecord {
  /** the words the instruction requires (story prompts only) */
  readonly required: readonly string[];
  readonly kind: 'story' | 'name';
  /** index of the story it came from (split by story, never by record) */
  readonly story: number;
}

/** "a little girl named Lily" -> { who: 'a little girl named Lily', what: 'little girl', name: 'Lily' } */
function mainCharacter(story: string): { who: string; what: string; name: string } | undefined {
  const m = /\b(an?|the) ((?:[a-z]+ ){0,2}?[a-z]+) named ([A-Z][a-z]+)/.exec(story);
  if (!m) return undefined;
  return { who: `${m[1]!.toLowerCase() === 'the' ? 'a' : m[1]!.toLowerCase()} ${m[2]} named ${m[3]}`, what: m[2]!, name: m[3]! };
}

/** Two content words of the story (seeded choice among the lowercase words of 4+ letters). */
function pickWords(story: string, exclude: string, rng: Rng): string[] | undefined {
  const words = [...new Set((story.match(/\b[a-z]{4,}\b/g) ?? []).filter((w) => !STOP.has(w) && !exclude.toLowerCase().includes(w)))];
  if (words.length < 2) return undefined;
  const i = rng.int(words.length);
  let j = rng.int(words.length - 1);
  if (j >= i) j++;
  return [words[i]!, words[j]!];
}

/** Instructions from stories: one story prompt per story with a named character, and a name question. */
export function storyInstructions(stories: readonly string[], seed = 1): StoryInstruction[] {
  const rng = new Rng(seed);
  const out: StoryInstruction[] = [];
  stories.forEach((story, idx) => {
    const who = mainCharacter(story);
    const words = pickWords(story, who?.name ?? '', rng);
    if (!words) return;
    const about = who ? ` about ${who.who}` : '';
    out.push({ kind: 'story', story: idx, instruction: `Write a story${about} that uses the words "${words[0]}" and "${words[1]}".`, input: '', output: story, required: words });
    if (who) out.push({ kind: 'name', story: idx, instruction: `What is the name of the ${who.what} in the story?`, input: story, output: `The ${who.what}'s name is ${who.name}.`, required: [] });
  });
  return out;
}

/** Split by story (seeded): the held-out records share no story with the training ones. */
export function splitByStory(records: readonly StoryInstruction[], heldOutFraction: number, seed = 1): { train: StoryInstruction[]; heldOut: StoryInstruction[] } {
  const ids = [...new Set(records.map((r) => r.story))];
  const rng = new Rng(seed ^ 0xabc);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  const held = new Set(ids.slice(0, Math.round(ids.length * heldOutFraction)));
  return { train: records.filter((r) => !held.has(r.story)), heldOut: records.filter((r) => held.has(r.story)) };
}

/** Share of the required words that a text uses (whole words, case-insensitive; any inflection not counted). */
export function requiredWordsShare(text: string, required: readonly string[]): number {
  if (required.length === 0) return 1;
  const have = new Set((text.toLowerCase().match(/[a-z]+/g) ?? []));
  return required.filter((w) => have.has(w.toLowerCase())).length / required.length;
}
