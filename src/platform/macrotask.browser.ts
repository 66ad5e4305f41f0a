// macrotask.ts in a browser or Web Worker: a message to ourselves is a macrotask without a clamp.
interface Port {
  onmessage: ((e: unknown) => void) | null;
  postMessage(m: unknown): void;
}
const MC = (globalThis as unknown as { MessageChannel?: new () => { port1: Port; port2: Port } }).MessageChannel;
const waiting: (() => void)[] = [];
let port: Port | undefined;
if (MC) {
  const ch = new MC();
  ch.port1.onmessage = () => waiting.shift()?.();
  port = ch.port2;
}

export function nextMacrotask(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!port) {
      setTimeout(resolve, 0);
      return;
    }
    waiting.push(resolve);
    port.postMessage(0);
  });
}
