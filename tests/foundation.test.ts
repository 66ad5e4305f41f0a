import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floatToHalf, halfToFloat, floatToBf16, bf16ToFloat } from '../src/tensor/f16.js';
import { parseArgs } from '../src/cli/args.js';
import { UsageError, LlamaError, ERROR_CODES } from '../src/errors.js';
import { runCli } from './helpers/cli.js';

test('half conversion round-trips every finite half exactly', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = halfToFloat(h);
    if (Number.isNaN(v)) continue;
    const back = floatToHalf(v);
    // -0 and +0 keep their sign bit
    assert.equal(back, h, `half 0x${h.toString(16)} -> ${v} -> 0x${back.toString(16)}`);
  }
});

test('float -> half rounds to nearest even', () => {
  // 1 + 2^-11 is exactly between 1 and the next half (1 + 2^-10): ties go to even (1.0)
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00);
  // 1 + 3·2^-11 is between 1+2^-10 (odd mantissa) and 1+2^-9: ties to even (1 + 2^-9)
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(floatToHalf(65520), 0x7c00); // rounds up to infinity
  assert.equal(floatToHalf(2 ** -25), 0); // half of the smallest subnormal: ties to even (0)
  assert.equal(floatToHalf(3 * 2 ** -26), 1);
});

test('bfloat16 conversion is round-to-nearest-even', () => {
  assert.equal(floatToBf16(1), 0x3f80);
  assert.equal(bf16ToFloat(0x3f80), 1);
  assert.equal(floatToBf16(1 + 2 ** -8), 0x3f80); // tie -> even
  assert.equal(floatToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie -> even (up)
  assert.ok(Number.isNaN(bf16ToFloat(floatToBf16(NaN))));
});

test('argument parser: flags, values, lists, errors', () => {
  const spec = {
    name: 't', summary: '', usage: '',
    options: {
      model: { kind: 'string', short: 'm', help: '' },
      n: { kind: 'int', short: 'n', help: '', default: 5 },
      temp: { kind: 'number', help: '' },
      stop: { kind: 'list', help: '' },
      echo: { kind: 'boolean', help: '', default: true },
    },
  } as const;
  const a = parseArgs(spec, ['-m', 'x.gguf', '--temp=0.5', '--stop', 'a', '--stop', 'b', 'pos', '--no-echo', '-n', '-3']);
  assert.equal(a.values.model, 'x.gguf');
  assert.equal(a.values.temp, 0.5);
  assert.deepEqual(a.values.stop, ['a', 'b']);
  assert.deepEqual(a.positionals, ['pos']);
  assert.equal(a.values.echo, false);
  assert.equal(a.values.n, -3);
  assert.throws(() => parseArgs(spec, ['--nope']), UsageError);
  assert.throws(() => parseArgs(spec, ['-n', '1.5']), UsageError);
  assert.throws(() => parseArgs(spec, ['--temp']), UsageError);
});

test('every error code maps to an exit status', () => {
  for (const [code, v] of Object.entries(ERROR_CODES)) {
    assert.ok(v.exit === 1 || v.exit === 2, code);
    assert.equal(new LlamaError(code as keyof typeof ERROR_CODES, 'x').exitCode, v.exit);
  }
});

test('CLI: unknown command is a usage error (exit 2), --help exits 0', () => {
  const bad = runCli(['frobnicate']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /USAGE/);
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: llama <command>/);
  const v = runCli(['version', '--help']);
  assert.equal(v.status, 0);
});
