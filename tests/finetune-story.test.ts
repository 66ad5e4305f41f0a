// The story instruction set: prompts name the main character and two words of the story, the
// answer is the story; the split is by story; the instruction-following measure counts words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requiredWordsShare, splitByStory, splitStories, storyInstructions } from '../src/finetune/story-instruct.js';

const TEXT = [
  'One day, a little girl named Lily found a needle in her room. She wanted to sew a button on her shirt.\n\nHer mom helped her.',
  'Once upon a time, there was a little car named Beep. Beep loved to go fast in the park under a tree.',
  'The sun was hot. A cat slept near the window all afternoon.',
].join('\n');

test('stories split on single newlines, paragraphs stay together', () => {
  const s = splitStories(TEXT);
  assert.equal(s.length, 3);
  assert.match(s[0]!, /shirt\.\n\nHer mom/);
});

test('story prompts use the main character and two words of the story; name questions answer with the name', () => {
  const recs = storyInstructions(splitStories(TEXT), 3);
  const lily = recs.find((r) => r.kind === 'story' && r.story === 0)!;
  assert.match(lily.instruction, /^Write a story about a little girl named Lily that uses the words "[a-z]+" and "[a-z]+"\.$/);
  assert.equal(lily.required.length, 2);
  for (const w of lily.required) assert.ok(lily.output.toLowerCase().includes(w), w);
  assert.equal(requiredWordsShare(lily.output, lily.required), 1);
  const q = recs.find((r) => r.kind === 'name' && r.story === 1)!;
  assert.equal(q.instruction, 'What is the name of the little car in the story?');
  assert.equal(q.output, "The little car's name is Beep.");
  // a story without a named character still gets a prompt, without "about"
  assert.match(recs.find((r) => r.story === 2)!.instruction, /^Write a story that uses the words/);
  assert.equal(requiredWordsShare('the Needle was sharp', ['needle', 'shirt']), 0.5);
});

test('the held-out split shares no story with training', () => {
  const stories = Array.from({ length: 50 }, (_, i) => `A dog named Max${String.fromCharCode(97 + (i % 26))} ran to the park ${i} and found a ball near the river.`);
  const { train, heldOut } = splitByStory(storyInstructions(stories, 1), 0.2, 1);
  assert.equal(new Set(heldOut.map((r) => r.story)).size, 10);
  const trainStories = new Set(train.map((r) => r.story));
  assert.ok(heldOut.every((r) => !trainStories.has(r.story)));
});
