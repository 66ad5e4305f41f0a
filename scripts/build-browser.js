#!/usr/bin/env node
// Builds the browser bundle (run by `npm install` through "prepare", and by `npm run build`):
//   dist/browser/llama.js                 the engine (ESM; entry src/browser.ts)
//   dist/browser/llama-kernel-worker.js   a wasm backend thread (entry src/backend/wasm/worker-web.ts)
//   dist/browser/kernels.wasm, kernels-mt.wasm   the compiled kernels (committed in src/backend/wasm/)
// Node-only modules stay out: every import of src/platform/X.js that has an X.browser.ts beside it
// is bundled as the browser file instead, and any `node:` import left is an error (the data path
// must not have one). Without esbuild (an install without dev dependencies) this says so and exits 0.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/browser');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('build-browser: esbuild is not installed (a dev dependency): no browser bundle built\n');
  process.exit(0);
}

/** src/platform/X.js -> src/platform/X.browser.ts when that exists. */
const browserPlatform = {
  name: 'browser-platform',
  setup(build) {
    build.onResolve({ filter: /platform\/[^/]+\.js$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path).replace(/\.js$/, '.browser.ts');
      return existsSync(target) ? { path: target } : undefined;
    });
    build.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [{ text: `${args.path} imported by ${args.importer.slice(root.length + 1)}: the browser bundle must not import Node modules (put it behind src/platform/)` }],
    }));
  },
};

mkdirSync(out, { recursive: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { llama: 'src/browser.ts', 'llama-kernel-worker': 'src/backend/wasm/worker-web.ts' },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [browserPlatform],
});
writeFileSync(join(out, 'meta.json'), JSON.stringify(result.metafile));
for (const f of ['kernels.wasm', 'kernels-mt.wasm']) copyFileSync(join(root, 'src/backend/wasm', f), join(out, f));
process.stderr.write(`build-browser: ${out}\n`);
