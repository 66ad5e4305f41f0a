// Standard output closing early (`llama ... | head`): the reader has all it wants, so every command
// ends quietly with status 0 instead of dying on an unhandled EPIPE with a stack trace. A command
// that wants to finish its own way (run prints its summary on stderr) subscribes to the event.
const listeners = new Set<() => void>();
let closed = false;
let installed = false;

/** Whether stdout's reader has gone away (writes are then pointless). */
export function stdoutClosed(): boolean {
  return closed;
}

/** Call `fn` when stdout's reader goes away instead of exiting at once; returns the unsubscribe. */
export function onStdoutClosed(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Write to stdout unless its reader is gone. */
export function writeOut(text: string): void {
  if (!closed && text) process.stdout.write(text);
}

export function installPipeGuards(): void {
  if (installed) return;
  installed = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (closed) return;
    closed = true;
    if (listeners.size === 0) process.exit(0);
    for (const fn of listeners) fn();
  });
  // `llama ... 2>&1 | head`: nothing useful can be said about a closed stderr either
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}
