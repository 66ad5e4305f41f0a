import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';

export const command: Command = {
  spec: { name: 'version', summary: 'print the llama-ts version', usage: '', options: {} },
  async run() {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`llama-ts ${pkg.version}\n`);
    return 0;
  },
};
