// Builds the native backend addon at `npm install`. A failed build must not fail the install:
// the package then runs on the portable `js` backend and says so once at run time.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'binding.gyp'))) process.exit(0);
const r = spawnSync('npm', ['exec', '--', 'node-gyp', 'rebuild'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) {
  process.stderr.write('llama-ts: the native backend did not build (no C compiler?); the portable js backend will be used.\n');
}
process.exit(0);
