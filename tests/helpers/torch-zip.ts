// A tiny torch.save look-alike for tests: builds the zip + pickle bytes of a state dict the way
// PyTorch writes them (protocol 2 pickle with _rebuild_tensor_v2 over persistent-id storages, stored
// zip entries whose data is 64-byte aligned through an extra field). Written from the zip APPNOTE
// and pickletools' opcode descriptions; checked once by hand against Python's zipfile/pickletools.
import { crc32 } from '../../src/formats/crc32.js';

export type StorageType = 'FloatStorage' | 'HalfStorage' | 'BFloat16Storage';

export interface TorchTensorSpec {
  name: string;
  storageType: StorageType;
  /** storage key, e.g. "0" (tensors may share one) */
  key: string;
  /** elements in the storage */
  storageNumel: number;
  storageOffset: number;
  shape: number[];
  stride: number[];
}

const enc = new TextEncoder();

class Bytes {
  parts: number[] = [];
  u8(...v: number[]) { this.parts.push(...v); return this; }
  u16(v: number) { return this.u8(v & 0xff, (v >>> 8) & 0xff); }
  u32(v: number) { return this.u8(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  raw(b: Uint8Array | string) { for (const x of typeof b === 'string' ? enc.encode(b) : b) this.parts.push(x); return this; }
  get(): Uint8Array { return Uint8Array.from(this.parts); }
}

function pickleInt(p: Bytes, v: number) {
  if (v >= 0 && v < 256) p.u8(0x4b, v);
  else if (v >= 0 && v < 65536) p.u8(0x4d).u16(v);
  else p.u8(0x4a).u32(v >>> 0);
}
function pickleStr(p: Bytes, s: string) {
  const b = enc.encode(s);
  p.u8(0x58).u32(b.length).raw(b);
}

/** Protocol-2 pickle of {name: tensor} as torch.save writes a state dict. */
export function pickleStateDict(tensors: TorchTensorSpec[], opts: { extraGlobal?: string } = {}): Uint8Array {
  const p = new Bytes();
  p.u8(0x80, 2); // PROTO 2
  p.u8(0x7d); // EMPTY_DICT
  p.u8(0x28); // MARK
  for (const t of tensors) {
    pickleStr(p, t.name);
    p.u8(0x63).raw('torch._utils\n_rebuild_tensor_v2\n'); // GLOBAL
    p.u8(0x28); // MARK (args)
    p.u8(0x28); // MARK (persistent id)
    pickleStr(p, 'storage');
    p.u8(0x63).raw(`torch\n${t.storageType}\n`);
    pickleStr(p, t.key);
    pickleStr(p, 'cpu');
    pickleInt(p, t.storageNumel);
    p.u8(0x74); // TUPLE
    p.u8(0x51); // BINPERSID
    pickleInt(p, t.storageOffset);
    p.u8(0x28); for (const d of t.shape) pickleInt(p, d); p.u8(0x74);
    p.u8(0x28); for (const s of t.stride) pickleInt(p, s); p.u8(0x74);
    p.u8(0x89); // NEWFALSE (requires_grad)
    p.u8(0x63).raw(opts.extraGlobal ?? 'collections\nOrderedDict\n');
    p.u8(0x29, 0x52); // EMPTY_TUPLE, REDUCE -> backward_hooks
    p.u8(0x74); // TUPLE (args)
    p.u8(0x52); // REDUCE
  }
  p.u8(0x75); // SETITEMS
  p.u8(0x2e); // STOP
  return p.get();
}


/** A stored-entries zip archive; entry data is 64-byte aligned like PyTorch's writer. */
export function zipStored(entries: { name: string; data: Uint8Array; method?: number }[]): Uint8Array {
  const out = new Bytes();
  const central = new Bytes();
  for (const e of entries) {
    const name = enc.encode(e.name);
    const offset = out.parts.length;
    const headerEnd = offset + 30 + name.length + 4;
    const pad = (64 - (headerEnd % 64)) % 64;
    const crc = crc32(e.data);
    const method = e.method ?? 0;
    out.u32(0x04034b50).u16(20).u16(0).u16(method).u16(0).u16(0).u32(crc).u32(e.data.length).u32(e.data.length)
      .u16(name.length).u16(4 + pad).raw(name)
      .u16(0x4246).u16(pad).raw(new Uint8Array(pad)) // "FB" padding extra field, as torch writes
      .raw(e.data);
    central.u32(0x02014b50).u16(20).u16(20).u16(0).u16(method).u16(0).u16(0).u32(crc).u32(e.data.length).u32(e.data.length)
      .u16(name.length).u16(0).u16(0).u16(0).u16(0).u32(0).u32(offset).raw(name);
  }
  const cdOffset = out.parts.length;
  const cd = central.get();
  out.raw(cd);
  out.u32(0x06054b50).u16(0).u16(0).u16(entries.length).u16(entries.length).u32(cd.length).u32(cdOffset).u16(0);
  return out.get();
}

/** The bytes of a `torch.save`d state dict: prefix/data.pkl, prefix/data/<key>, prefix/version. */
export function torchSave(prefix: string, tensors: TorchTensorSpec[], storages: Map<string, Uint8Array>, opts: { extraGlobal?: string; pickle?: Uint8Array } = {}): Uint8Array {
  const entries = [{ name: `${prefix}/data.pkl`, data: opts.pickle ?? pickleStateDict(tensors, opts) }];
  for (const [key, data] of storages) entries.push({ name: `${prefix}/data/${key}`, data });
  entries.push({ name: `${prefix}/version`, data: enc.encode('3\n') });
  return zipStored(entries);
}

/** Contiguous state dict from (name, type, shape, bytes) tensors, one storage each. */
export function torchSaveContiguous(prefix: string, tensors: { name: string; storageType: StorageType; shape: readonly number[]; data: Uint8Array }[]): Uint8Array {
  const specs: TorchTensorSpec[] = [];
  const storages = new Map<string, Uint8Array>();
  tensors.forEach((t, i) => {
    const elt = t.storageType === 'FloatStorage' ? 4 : 2;
    const numel = t.data.byteLength / elt;
    const stride: number[] = [];
    let s = 1;
    for (let d = t.shape.length - 1; d >= 0; d--) { stride.unshift(s); s *= t.shape[d]!; }
    specs.push({ name: t.name, storageType: t.storageType, key: String(i), storageNumel: numel, storageOffset: 0, shape: [...t.shape], stride });
    storages.set(String(i), t.data);
  });
  return torchSave(prefix, specs, storages);
}
