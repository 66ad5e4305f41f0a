// The GBNF reader and the character-level matcher: accept/reject tables (grammars written from
// llama.cpp's grammars/README.md: json, arithmetic, lists, chess-like, repetition forms, escapes),
// and syntax errors with their line and column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGbnf, grammarMatches, GrammarMatcher, GrammarError } from '../src/generate/grammar/index.js';
import { LlamaError } from '../src/errors.js';

interface Case {
  name: string;
  gbnf: string;
  accept: string[];
  reject: string[];
}

const JSON_GBNF = String.raw`
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

# Optional space: by convention, applied in this grammar after literal chars when allowed
ws ::= | " " | "\n" [ \t]{0,20}
`;

const CASES: Case[] = [
  {
    name: 'json.gbnf (llama.cpp layout: multi-line groups, comments)',
    gbnf: JSON_GBNF,
    accept: ['{}', '{"a": 1}', '{"a": [1, 2.5, -3e+4, "x\\n", true, null, {"b": {}}]}', '{"k":"\\u00e9"}', '{ "a" : "ü" }\n', '{"a": 0}'],
    reject: ['', '[]', '{', '{"a" 1}', '{"a": 01}', '{"a": "\\x"}', '{"a": "tab\there"}', '{"a": 1,}', '{} {}', "{'a': 1}"],
  },
  {
    name: 'arithmetic (grammar-parser.h example)',
    gbnf: String.raw`root  ::= expr
expr  ::= term ([-+*/] term)*
term  ::= num | "(" space expr ")" space
num   ::= [0-9]+ space
space ::= [ \t\n]*
`,
    accept: ['1', '1+2', '(1 +2) *3', '( 1+2 )', '((4))/5-6', '10 *(2)'],
    reject: ['', '+1', '1+', '()', '(1', '1 2', 'a'],
  },
  {
    name: 'a list (README: root ::= ("- " item)+)',
    gbnf: 'root ::= ("- " item)+\nitem ::= [^\\n]+ "\\n"\n',
    accept: ['- a\n', '- milk\n- eggs\n', '- ü ☃\n'],
    reject: ['', '- \n', '- a', '* a\n', '- a\n-b\n'],
  },
  {
    name: 'chess-like moves with ? and nested groups',
    gbnf: String.raw`root ::= (
    "1. " move " " move "\n"
    ([1-9] [0-9]? ". " move " " move "\n")+
)
move ::= (pawn | nonpawn | castle) [+#]?
pawn ::= [a-h] [1-8]
nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
castle ::= "O-O" "-O"?
`,
    accept: ['1. e4 e5\n2. Nf3 Nc6\n', '1. e4 e5\n2. O-O O-O-O+\n', '1. d4 d5\n10. Qxd5# a6\n'],
    reject: ['1. e4 e5\n', '1. e9 e5\n2. a1 a2\n', '1. e4 e5\n0. a1 a2\n', '1. e4 e5\n2. O-O-O-O a2\n'],
  },
  {
    name: 'repetition counts {m} {m,} {m,n} {0,n}',
    gbnf: 'root ::= "a"{2} "b"{1,3} "c"{2,} "d"{0,2}\n',
    accept: ['aabcc', 'aabbbccccdd', 'aabbcccd'],
    reject: ['abcc', 'aaabcc', 'aacc', 'aabbbbcc', 'aabc', 'aabccddd'],
  },
  {
    name: 'a repeated multi-character literal repeats as a whole',
    gbnf: 'root ::= "ab"* "!"\n',
    accept: ['!', 'ab!', 'ababab!'],
    reject: ['a!', 'aba!', 'abab'],
  },
  {
    name: 'escapes in literals and classes: \\x \\u \\U \\t \\\\ \\" \\[ \\] \\-',
    gbnf: String.raw`root ::= "\x41\u00e9\U0001F600" [\t] "\\" "\"" [\[\]\-]+
`,
    accept: ['Aé😀\t\\"[', 'Aé😀\t\\"-]['],
    reject: ['Aé😀 \\"[', 'Aé😀\t\\"a', 'Aé😀\t\\"'],
  },
  {
    name: 'negated classes, ranges and any character (.)',
    gbnf: 'root ::= [^a-z0-9] [a-cx-z]+ . "."\n',
    accept: ['Aaz..', '_cxyz😀.', '!aa\n.'],
    reject: ['aaz..', '5a..', 'Ad..', 'Aa.'],
  },
  {
    name: "newline after | continues a rule; comments anywhere; \\r\\n line ends",
    gbnf: 'root ::= "a" |\r\n  "b" # two choices\r\n# whole-line comment\r\nother ::= "c"\r\n',
    accept: ['a', 'b'],
    reject: ['c', 'ab', ''],
  },
  {
    name: 'optional and empty alternatives; rules used before definition',
    gbnf: 'root ::= greet name?\ngreet ::= ("hi" | "hello") ","?\nname ::= | " " [A-Z] [a-z]*\n',
    accept: ['hi', 'hello,', 'hi Bob', 'hello, Al', 'hi '.slice(0, 2)],
    reject: ['hey', 'hi bob', 'hi,,', 'hello Bob!'],
  },
];

for (const c of CASES) {
  test(`GBNF accept/reject: ${c.name}`, () => {
    const g = parseGbnf(c.gbnf);
    for (const s of c.accept) assert.equal(grammarMatches(g, s), true, `should accept ${JSON.stringify(s)}`);
    for (const s of c.reject) assert.equal(grammarMatches(g, s), false, `should reject ${JSON.stringify(s)}`);
  });
}

test('the matcher tells a live prefix from a dead one, and complete from can-continue', () => {
  const g = parseGbnf('root ::= "ab" "c"*\n');
  const m = new GrammarMatcher(g);
  assert.equal(m.acceptString('a'), true);
  assert.equal(m.isComplete(), false);
  assert.equal(m.acceptString('b'), true);
  assert.equal(m.isComplete(), true);
  assert.equal(m.canContinue(), true);
  assert.equal(m.acceptString('cc'), true);
  assert.equal(m.acceptString('x'), false);
  assert.equal(m.dead, true);
  m.reset();
  assert.equal(m.acceptString('ab'), true);
  const done = new GrammarMatcher(parseGbnf('root ::= "ok"\n'));
  done.acceptString('ok');
  assert.equal(done.isComplete(), true);
  assert.equal(done.canContinue(), false);
});

test('deep right recursion (x*) and large counted repetition stay correct', () => {
  const g = parseGbnf('root ::= [a]* "b" [0-9]{0,300}\n');
  assert.equal(grammarMatches(g, 'a'.repeat(5000) + 'b' + '7'.repeat(300)), true);
  assert.equal(grammarMatches(g, 'a'.repeat(5000) + 'b' + '7'.repeat(301)), false);
});

interface ErrCase {
  name: string;
  gbnf: string;
  message: RegExp;
  line?: number;
  column?: number;
}

const ERRORS: ErrCase[] = [
  { name: 'missing root', gbnf: 'start ::= "a"\n', message: /no 'root' rule/ },
  { name: 'undefined rule (line/col of the use)', gbnf: 'root ::= "a" |\n  b c\nb ::= "b"\n', message: /'c' is used but never defined/, line: 2, column: 5 },
  { name: 'missing ::=', gbnf: 'root ::= a\na = "x"\n', message: /expecting '::='/, line: 2, column: 3 },
  { name: 'unterminated literal', gbnf: 'root ::= "abc\n', message: /unterminated string/ },
  { name: 'unterminated class', gbnf: 'root ::= [a-z', message: /unterminated character class/, line: 1, column: 14 },
  { name: 'unclosed group', gbnf: 'root ::= ("a" | "b"\n', message: /expecting '\)'/ },
  { name: 'stray )', gbnf: 'root ::= "a")\n', message: /expecting a newline/, line: 1, column: 13 },
  { name: 'repetition with nothing before it', gbnf: 'root ::= * "a"\n', message: /needs an item before it/, line: 1, column: 10 },
  { name: 'bad {m,n}', gbnf: 'root ::= "a"{3,1}\n', message: /maximum below its minimum/ },
  { name: 'unclosed {', gbnf: 'root ::= "a"{3\n', message: /expecting '}'/ },
  { name: 'unknown escape', gbnf: 'root ::= "\\q"\n', message: /unknown escape '\\q'/, line: 1, column: 11 },
  { name: 'short hex escape', gbnf: 'root ::= "\\x4"\n', message: /needs 2 hex digits/ },
  { name: 'rule defined twice', gbnf: 'root ::= a\na ::= "x"\na ::= "y"\n', message: /defined twice/, line: 3, column: 1 },
  { name: 'continuing a rule on a new line outside parentheses', gbnf: 'root ::= "a"\n  "b"\n', message: /expecting '::='|expecting a rule name/ },
  { name: 'reversed range', gbnf: 'root ::= [z-a]\n', message: /range ends below its start/ },
  { name: 'direct left recursion', gbnf: 'root ::= expr\nexpr ::= expr "+" term | term\nterm ::= [0-9]\n', message: /left recursion: rule 'expr'/, line: 2, column: 1 },
  { name: 'indirect left recursion through a nullable prefix', gbnf: 'root ::= a\na ::= opt b\nb ::= a "x" | "y"\nopt ::= "z"?\n', message: /left recursion/ },
  { name: 'repeating something that can be empty', gbnf: 'root ::= ("a"?)*\n', message: /left recursion: rule 'root'/ },
  { name: 'empty grammar', gbnf: '# nothing\n', message: /empty/ },
];

for (const c of ERRORS) {
  test(`GBNF error: ${c.name}`, () => {
    assert.throws(
      () => parseGbnf(c.gbnf),
      (e: unknown) => {
        assert.ok(e instanceof GrammarError && e instanceof LlamaError, `a GrammarError, got ${String(e)}`);
        assert.equal(e.code, 'GRAMMAR');
        assert.match(e.message, c.message);
        assert.ok(e.hint && e.hint.length > 0, 'has a hint');
        if (c.line !== undefined) {
          assert.equal(e.line, c.line, `line in: ${e.message}`);
          assert.equal(e.column, c.column, `column in: ${e.message}`);
          assert.match(e.message, new RegExp(`line ${c.line}, column ${c.column}`));
        }
        return true;
      },
    );
  });
}
