// Builds the native backend addon at `npm install`. A failed build must never fail the install:
// the package then runs on the portable `js` backend and says so once at run time.
//
// Finding node-gyp without downloading anything:
//   1. npm_config_node_gyp: npm sets it for lifecycle scripts (its bundled node-gyp.js);
//   2. node-gyp next to the npm that runs us (npm_execpath -> ../node_modules/node-gyp);
//   3. the npm bundled with this node binary (<prefix>/lib/node_modules/npm/...);
//   4. `node-gyp` on PATH (npm also puts a shim there during lifecycle scripts).
// Headers: node-gyp honours npm_config_nodedir (npm passes its `nodedir` setting as that variable);
// when it is unset and this node's own headers are installed (<prefix>/include/node), we point
// node-gyp at them so it does not try to download a header tarball.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const notice = (why) => {
  process.stderr.write(`llama-ts: the native backend was not built (${why}); the portable js backend will be used.\n`);
  process.exit(0);
};

try {
  if (!existsSync(join(root, 'binding.gyp'))) process.exit(0);
  if (process.env.LLAMA_SKIP_NATIVE === '1') notice('LLAMA_SKIP_NATIVE=1');

  const prefix = resolve(dirname(process.execPath), '..');
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath ? join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js') : undefined,
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter((p) => p && existsSync(p));

  const args = ['rebuild', '--jobs=max'];
  const env = { ...process.env };
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

  let r;
  if (candidates.length > 0) {
    r = spawnSync(process.execPath, [candidates[0], ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  } else {
    r = spawnSync('node-gyp', args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000, shell: process.platform === 'win32' });
  }
  if (r.error || r.status !== 0) {
    const err = (r.stderr ? r.stderr.toString() : '') + (r.error ? String(r.error) : '');
    if (process.env.LLAMA_NATIVE_VERBOSE === '1') process.stderr.write(err);
    const firstError = err.split('\n').find((l) => /error/i.test(l) && !/^gyp info/.test(l));
    notice(candidates.length === 0 && r.error ? 'node-gyp not found' : `build failed${firstError ? `: ${firstError.trim().slice(0, 200)}` : ''}`);
  }
} catch (e) {
  notice(String(e && e.message ? e.message : e));
}
process.exit(0);
