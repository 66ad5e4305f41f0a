// The wasm module's linear memory, managed from the host: a first-fit allocator over byte offsets
// (weights, KV caches, scratch) that grows the memory on demand. wasm32 addresses at most 4 GiB;
// running past that is a typed error, not a crash.
import { LlamaError } from '../../errors.js';
import type { WasmMemory } from './wasm-api.js';

const PAGE = 65536;
/** wasm32's limit: 65536 pages of 64 KiB */
export const MAX_PAGES = 65536;
const ALIGN = 64;

interface FreeBlock {
  off: number;
  size: number;
}

export class LinearMemory {
  readonly memory: WasmMemory;
  /** first byte past the highest allocation */
  private top: number;
  /** free blocks below `top`, sorted by offset, never adjacent (coalesced) */
  private free: FreeBlock[] = [];
  private buf: ArrayBuffer | SharedArrayBuffer;
  private u8view: Uint8Array;
  private f32view: Float32Array;
  private i32view: Int32Array;

  constructor(memory: WasmMemory, heapBase: number) {
    this.memory = memory;
    this.top = Math.ceil(heapBase / ALIGN) * ALIGN;
    this.buf = memory.buffer;
    this.u8view = new Uint8Array(this.buf);
    this.f32view = new Float32Array(this.buf);
    this.i32view = new Int32Array(this.buf);
  }

  /** bytes currently reserved by the memory (grows, never shrinks) */
  get size(): number {
    return this.memory.buffer.byteLength;
  }

  /** bytes handed out and not freed */
  get used(): number {
    return this.top - this.free.reduce((s, b) => s + b.size, 0);
  }

  private refresh(): void {
    if (this.buf !== this.memory.buffer || this.u8view.byteLength !== this.memory.buffer.byteLength) {
      this.buf = this.memory.buffer;
      this.u8view = new Uint8Array(this.buf);
      this.f32view = new Float32Array(this.buf);
      this.i32view = new Int32Array(this.buf);
    }
  }

  get u8(): Uint8Array {
    this.refresh();
    return this.u8view;
  }
  get f32(): Float32Array {
    this.refresh();
    return this.f32view;
  }
  get i32(): Int32Array {
    this.refresh();
    return this.i32view;
  }

  /** `bytes` (rounded up to 64) at a 64-byte aligned offset. Throws BACKEND_UNAVAILABLE past 4 GiB. */
  alloc(bytes: number, what = 'a buffer'): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size >= size) {
        const off = b.off;
        if (b.size === size) this.free.splice(i, 1);
        else {
          b.off += size;
          b.size -= size;
        }
        return off;
      }
    }
    const off = this.top;
    this.ensure(off + size, what);
    this.top = off + size;
    return off;
  }

  free_(off: number, bytes: number): void {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let i = 0;
    while (i < this.free.length && this.free[i]!.off < off) i++;
    this.free.splice(i, 0, { off, size });
    // coalesce with the next and the previous block
    const next = this.free[i + 1];
    if (next && off + size === next.off) {
      this.free[i]!.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.off + prev.size === off) {
      prev.size += this.free[i]!.size;
      this.free.splice(i, 1);
      i--;
    }
    // a free block at the top gives its space back to the bump region
    const last = this.free[this.free.length - 1];
    if (last && last.off + last.size === this.top) {
      this.top = last.off;
      this.free.pop();
    }
  }

  private ensure(end: number, what: string): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    const total = have / PAGE + pages;
    if (total > MAX_PAGES) {
      throw new LlamaError('BACKEND_UNAVAILABLE', `the wasm backend's memory would pass the 4 GiB limit of wasm32 for ${what} (${(end / 2 ** 30).toFixed(2)} GiB needed)`, {
        hint: 'use the native backend (--backend native), a more strongly quantized model (e.g. Q4_0/Q4_K), or a shorter context (--ctx-size)',
      });
    }
    // grow by at least 1/8 of the current size so that loading many weights stays linear
    const want = Math.min(MAX_PAGES - have / PAGE, Math.max(pages, Math.ceil(have / PAGE / 8)));
    try {
      this.memory.grow(want);
    } catch {
      try {
        this.memory.grow(pages);
      } catch (e) {
        throw new LlamaError('BACKEND_UNAVAILABLE', `the wasm backend could not grow its memory to ${(end / 2 ** 30).toFixed(2)} GiB for ${what}: ${(e as Error).message}`, {
          hint: 'the process or browser tab is out of memory; use a smaller model or the native backend',
        });
      }
    }
  }
}
