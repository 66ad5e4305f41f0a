// Buffers a backend computes from in place. A backend that keeps a view of a tensor's bytes (the
// js backend's aligned F32 weights) pins the buffer; a file mapping is then never unmapped early
// under it (formats/mmap.ts releaseMappedView refuses), and goes when the garbage collector finds
// it unreferenced, as before.
const pins = new WeakMap<ArrayBufferLike, number>();

export function pinBuffer(b: ArrayBufferLike): void {
  pins.set(b, (pins.get(b) ?? 0) + 1);
}

export function unpinBuffer(b: ArrayBufferLike): void {
  const n = (pins.get(b) ?? 0) - 1;
  if (n > 0) pins.set(b, n);
  else pins.delete(b);
}

export function isBufferPinned(b: ArrayBufferLike): boolean {
  return (pins.get(b) ?? 0) > 0;
}
