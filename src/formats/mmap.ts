// Memory-mapping file ranges through the native addon (when it is built): tensor bytes then come
// straight from the page cache on first touch instead of being read through JS, so a 7B model
// opens in a fraction of a second and weights used in place by the native backend never exist
// twice in memory. Node 20 has no mmap of its own. Without the addon (or with LLAMA_MMAP=0) this
// returns undefined and callers read the bytes as before.
//
// The mapping is private copy-on-write: writing into a returned array never changes the file.
// It lives as long as any view of it (unmapped by the ArrayBuffer's finalizer), unless its owner
// releases it first with releaseMappedView (LoadedModel.close does): that unmaps at once when the
// addon exports `unmapRange(view)`, so memory comes back without waiting for a GC and a macrotask;
// with an older addon it only forgets the view and the finalizer does the rest. Treat the views as
// read-only: once the native backend has copied a weight out of a mapping, it drops those pages
// (madvise DONTNEED) so the weights are resident once; a later read re-reads the file's bytes, and
// a write made before would be lost.
import { loadNativeAddon } from '../platform/native-addon.js';
import { envVar, PLATFORM } from '../platform/env.js';
import { isBufferPinned } from '../tensor/pins.js';

type MapFn = (path: string, offset: number, length: number) => Uint8Array | undefined;
type UnmapFn = (view: Uint8Array) => boolean | undefined;
let mapFn: MapFn | null | undefined;
let unmapFn: UnmapFn | null = null;
/** Views this module handed out and nobody has released yet. */
const live = new WeakSet<Uint8Array>();

function load(): MapFn | null {
  if (PLATFORM !== 'node' || envVar('LLAMA_MMAP') === '0' || process.platform === 'win32') return null;
  const { addon } = loadNativeAddon<{ mmapRange?: MapFn; unmapRange?: UnmapFn }>();
  if (!addon) return null;
  unmapFn = typeof addon.unmapRange === 'function' ? addon.unmapRange : null;
  return typeof addon.mmapRange === 'function' ? addon.mmapRange : null;
}

/** A read-only-in-effect view of bytes [offset, offset+length) of `path`, or undefined. */
export function mapFileRange(path: string, offset: number, length: number): Uint8Array | undefined {
  if (mapFn === undefined) mapFn = load();
  if (!mapFn) return undefined;
  try {
    const view = mapFn(path, offset, length) ?? undefined;
    if (view) live.add(view);
    return view;
  } catch {
    return undefined;
  }
}

/** Whether `view` is a file mapping made by mapFileRange and not yet released. */
export function isMappedView(view: Uint8Array): boolean {
  return live.has(view);
}

/**
 * Give back a mapping made by mapFileRange: unmapped now when the addon can (then true), else only
 * forgotten here (false; the GC unmaps it once nothing refers to it). The caller must hold the only
 * remaining reference: after an unmap, reading the view is reading freed memory.
 */
export function releaseMappedView(view: Uint8Array): boolean {
  if (!live.has(view)) return false;
  // a backend computes from these bytes in place (the js backend's F32 weights): leave it to the GC
  if (isBufferPinned(view.buffer)) return false;
  if (!unmapFn) {
    live.delete(view);
    return false;
  }
  let ok = false;
  try {
    ok = unmapFn(view) === true;
  } catch {
    ok = false;
  }
  // refused while a weight computes from the bytes in place: still live, for a later release
  if (ok) live.delete(view);
  return ok;
}

/** Whether releaseMappedView can unmap deterministically (the addon exports unmapRange). */
export function canUnmap(): boolean {
  if (mapFn === undefined) mapFn = load();
  return unmapFn !== null;
}
