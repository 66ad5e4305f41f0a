// Yield to the event loop for one macrotask (other requests, timers and I/O run first): setImmediate
// in Node; macrotask.browser.ts uses a MessageChannel there (setTimeout(0) is clamped to 4 ms once
// nested, which would cap decoding at 250 tok/s).
export function nextMacrotask(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
