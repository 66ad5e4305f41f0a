// Where the browser tests find Chromium and its driver. Both are optional: the tests that need
// them skip with a reason when either is absent (.ci/run installs Debian's chromium).
import { existsSync } from 'node:fs';

export const CHROMIUM: string | undefined =
  process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

let driver: typeof import('playwright-core') | undefined;
try {
  driver = await import('playwright-core');
} catch {
  driver = undefined;
}
export const playwright = driver;
