// env.ts in a browser (or a Web Worker): no environment variables, navigator.hardwareConcurrency,
// and no figure for the machine's memory.
export function envVar(_name: string): string | undefined {
  return undefined;
}

export function hardwareThreads(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n >= 1 ? n : 1;
}

export function totalMemoryBytes(): number | undefined {
  return undefined;
}

export const PLATFORM: 'node' | 'browser' = 'browser';
