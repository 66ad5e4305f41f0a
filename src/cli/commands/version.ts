import type { Command } from '../command.js';
import { packageVersion } from '../main.js';

export const command: Command = {
  spec: { name: 'version', summary: 'print the llama-ts version', usage: '', options: {} },
  async run() {
    process.stdout.write(`llama-ts ${packageVersion()}\n`);
    return 0;
  },
};
