// The environment of the process, for the data path (see fs.ts): environment variables, how many
// threads the machine has and how much memory. In Node: process.env and node:os; in a browser
// (env.browser.ts): no variables, navigator.hardwareConcurrency, and no memory figure.
import { availableParallelism, totalmem } from 'node:os';

/** An environment variable, or undefined. */
export function envVar(name: string): string | undefined {
  return process.env[name];
}

/** Hardware threads this process may use. */
export function hardwareThreads(): number {
  return availableParallelism();
}

/** Bytes of RAM of the machine, or undefined when the platform does not say. */
export function totalMemoryBytes(): number | undefined {
  return totalmem();
}

/** Where the platform runs: 'node' or 'browser'. */
export const PLATFORM: 'node' | 'browser' = 'node';
