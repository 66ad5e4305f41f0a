// The public API is curated (a short start-here surface plus one namespace per area), and the CLI
// is a consumer of it: nothing under src/cli imports from the rest of src/ except src/index.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';
import * as api from '../src/index.js';

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('src/cli imports only node:*, its own modules and the public API (src/index.ts)', () => {
  const src = join(REPO_ROOT, 'src');
  const bad: string[] = [];
  for (const f of tsFiles(join(src, 'cli'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^\s*(?:import|export)[^;]*?from\s+'([^']+)'/gms)) {
      const spec = m[1]!;
      if (spec.startsWith('node:') || !spec.startsWith('.')) continue;
      const target = resolve(dirname(f), spec);
      if (target.startsWith(join(src, 'cli') + '/') || target === join(src, 'index.js')) continue;
      bad.push(`${relative(src, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the public API: a short start-here surface, the rest in namespaces', () => {
  assert.equal(typeof api.openModel, 'function');
  for (const ns of ['formats', 'models', 'tokenizers', 'backends', 'generation', 'chat', 'training', 'server', 'bench'] as const) {
    assert.equal(typeof api[ns], 'object', ns);
  }
  const top = Object.keys(api);
  assert.ok(top.length < 40, `${top.length} top-level names: ${top.join(', ')}`);
  // the parts are still reachable
  assert.equal(typeof api.models.loadModel, 'function');
  assert.equal(typeof api.generation.createSampler, 'function');
  assert.equal(typeof api.server.startServer, 'function');
});
