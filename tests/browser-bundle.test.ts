// The browser build: the data path imports no Node module except through src/platform/ (whose
// .browser.ts twins the bundle uses), and the bundle built at `npm install` (dist/browser/) holds no
// Node module, none of the Node halves of the platform layer, and the files the page loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'dist/browser');
/** the data path (architecture.md): what the browser runs */
const CORE = ['formats', 'tokenizer', 'tensor', 'model', 'generate', 'chat', 'api', 'backend/js', 'backend/wasm'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no module of the data path imports node:* (Node-only things are behind src/platform/)', () => {
  const offenders: string[] = [];
  for (const d of CORE) {
    for (const f of tsFiles(join(ROOT, 'src', d))) {
      const src = readFileSync(f, 'utf8');
      if (/from\s+['"]node:|import\(\s*['"]node:|require\(\s*['"]node:/.test(src)) offenders.push(relative(ROOT, f));
    }
  }
  assert.deepEqual(offenders, []);
  // and every platform module the data path imports has a browser twin, or imports no Node module itself
  for (const f of tsFiles(join(ROOT, 'src/platform')).filter((p) => !p.endsWith('.browser.ts'))) {
    const twin = f.replace(/\.ts$/, '.browser.ts');
    const usesNode = /from\s+['"]node:/.test(readFileSync(f, 'utf8'));
    const nodeOnlyEntry = /kernel-worker-thread\.ts$|native-addon\.ts$/.test(f); // started / loaded only in Node
    assert.ok(!usesNode || existsSync(twin) || nodeOnlyEntry, `${relative(ROOT, f)} imports node:* and has no .browser.ts twin`);
  }
});

const built = existsSync(join(OUT, 'meta.json'));
test('the ESM bundle: no node:* import, no Node half of the platform layer, its wasm and worker files beside it', { skip: built ? false : 'dist/browser is not built (npm run build: it needs the esbuild dev dependency)' }, () => {
  const meta = JSON.parse(readFileSync(join(OUT, 'meta.json'), 'utf8')) as {
    inputs: Record<string, { imports: { path: string; external?: boolean }[] }>;
    outputs: Record<string, { exports: string[]; entryPoint?: string }>;
  };
  const inputs = Object.keys(meta.inputs);
  assert.ok(inputs.includes('src/browser.ts') && inputs.includes('src/formats/gguf.ts') && inputs.includes('src/backend/wasm/index.ts'), 'the engine is in it');
  for (const [file, { imports }] of Object.entries(meta.inputs)) {
    // (a relative "external" is a type-only re-export esbuild dropped; the output check below sees no import left)
    for (const i of imports) assert.ok(!i.path.startsWith('node:') && (!i.external || i.path.startsWith('.')), `${file} imports ${i.path}`);
    if (file.startsWith('src/platform/') && !file.endsWith('.browser.ts')) {
      assert.ok(!existsSync(join(ROOT, file.replace(/\.ts$/, '.browser.ts'))), `${file} is bundled although it has a .browser.ts twin`);
    }
  }
  for (const f of ['kernels.wasm', 'kernels-mt.wasm', 'llama-kernel-worker.js']) assert.ok(existsSync(join(OUT, f)), `${f} is beside the bundle`);
  // byte-identical to the committed kernels (what Node loads)
  for (const f of ['kernels.wasm', 'kernels-mt.wasm']) assert.deepEqual(readFileSync(join(OUT, f)), readFileSync(join(ROOT, 'src/backend/wasm', f)));
  const main = Object.entries(meta.outputs).find(([, o]) => o.entryPoint === 'src/browser.ts');
  assert.ok(main, 'llama.js is an output');
  for (const name of ['openModel', 'Model', 'LlamaError', 'createWasmBackend', 'setAssetBase']) assert.ok(main[1].exports.includes(name), `the bundle exports ${name}`);
  for (const f of ['llama.js', 'llama-kernel-worker.js']) {
    const code = readFileSync(join(OUT, f), 'utf8');
    assert.doesNotMatch(code, /^\s*import\s[^(]|^\s*export\s[^{]*\sfrom\s|require\(["']node:|import\(["']node:/m, `${f} is self-contained`);
  }
});
