// A pickle reader that only builds data. It understands the opcodes `torch.save` emits for a state
// dict (protocol 2, plus the few protocol 3/4 ones newer writers use) and resolves GLOBALs against a
// short whitelist of data constructors. Nothing is ever executed: an unknown GLOBAL or opcode is a
// typed error. Opcode semantics follow CPython's Lib/pickletools.py documentation.
import { FormatError } from '../errors.js';

export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}
export class PickleDict {
  readonly map = new Map<string | number, PickleValue>();
}
/** A whitelisted `module.name` reference (a class or function we know how to interpret). */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}
/** A torch storage named by a persistent id: ('storage', torch.XStorage, key, location, numel). */
export class TorchStorage {
  constructor(readonly storageType: string, readonly key: string, readonly location: string, readonly numel: number) {}
}
/** torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...) */
export class TorchTensor {
  constructor(readonly storage: TorchStorage, readonly storageOffset: number, readonly shape: readonly number[], readonly stride: readonly number[]) {}
}

export type PickleValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PickleTuple | PickleValue[] | PickleDict | PickleGlobal | TorchStorage | TorchTensor;

/** Storage classes torch.save names in persistent ids, with their element sizes. */
export const TORCH_STORAGE_BYTES: Record<string, number> = {
  FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, DoubleStorage: 8,
  LongStorage: 8, IntStorage: 4, ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1,
};

const ALLOWED_GLOBALS = new Set<string>([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  ...Object.keys(TORCH_STORAGE_BYTES).map((s) => `torch.${s}`),
]);

class Mark {}
const MARK = new Mark();

/** Run the pickle in `bytes` (named `what` in errors) and return the value STOP leaves. */
export function unpickle(bytes: Uint8Array, file: string, what = 'data.pkl'): PickleValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: (PickleValue | Mark)[] = [];
  const memo = new Map<number, PickleValue>();
  const storages = new Map<string, TorchStorage>();
  let pos = 0;

  const corrupt = (msg: string) => new FormatError('FORMAT_CORRUPT', `${what}: malformed pickle at byte ${pos}: ${msg}`, { file, hint: 'the checkpoint is damaged or not a torch.save state dict' });
  const unsupported = (msg: string) => new FormatError('FORMAT_UNSUPPORTED', `${what}: ${msg}`, { file, hint: 'only torch.save state dicts of tensors can be read; nothing in a pickle is ever executed' });
  const need = (n: number) => {
    if (pos + n > bytes.byteLength) throw new FormatError('FORMAT_TRUNCATED', `${what}: pickle ends early at byte ${pos} (needs ${n} more)`, { file });
  };
  const u8 = () => { need(1); return bytes[pos++]!; };
  const u16 = () => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const take = (n: number) => { need(n); const b = bytes.subarray(pos, pos + n); pos += n; return b; };
  const utf8 = (b: Uint8Array) => {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
    } catch {
      throw corrupt('invalid UTF-8 in a string');
    }
  };
  const latin1 = (b: Uint8Array) => {
    // in chunks: spreading a long array into one call would overflow the stack
    let out = '';
    for (let i = 0; i < b.length; i += 8192) out += String.fromCharCode(...b.subarray(i, i + 8192));
    return out;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new FormatError('FORMAT_TRUNCATED', `${what}: pickle ends inside a GLOBAL name`, { file });
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined) throw corrupt('stack underflow');
    if (v instanceof Mark) throw corrupt('unexpected MARK');
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined) throw corrupt('stack underflow');
    if (v instanceof Mark) throw corrupt('unexpected MARK');
    return v;
  };
  const popMark = (): PickleValue[] => {
    let i = stack.length - 1;
    while (i >= 0 && !(stack[i] instanceof Mark)) i--;
    if (i < 0) throw corrupt('no MARK on the stack');
    const items = stack.slice(i + 1) as PickleValue[];
    stack.length = i;
    return items;
  };
  const global = (module: string, name: string) => {
    const q = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(q)) throw unsupported(`refusing GLOBAL ${q}: not a known tensor or container constructor`);
    return new PickleGlobal(module, name);
  };
  const setItem = (d: PickleValue, k: PickleValue, v: PickleValue) => {
    if (!(d instanceof PickleDict)) throw corrupt('SETITEM on a non-dict');
    if (typeof k !== 'string' && typeof k !== 'number') throw unsupported(`dict key of type ${typeName(k)}`);
    d.map.set(k, v);
  };
  const int = (v: PickleValue, name: string): number => {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    throw corrupt(`${name} is not an integer`);
  };
  const intTuple = (v: PickleValue, name: string): number[] => {
    if (!(v instanceof PickleTuple)) throw corrupt(`${name} is not a tuple`);
    return v.items.map((x) => int(x, name));
  };
  const call = (fn: PickleValue, argsV: PickleValue): PickleValue => {
    if (!(fn instanceof PickleGlobal)) throw unsupported(`REDUCE on ${typeName(fn)}`);
    if (!(argsV instanceof PickleTuple)) throw corrupt('REDUCE arguments are not a tuple');
    const args = argsV.items;
    switch (fn.qualified) {
      case 'collections.OrderedDict':
        if (args.length !== 0) throw unsupported('OrderedDict with constructor arguments');
        return new PickleDict();
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2': {
        if (args.length < 4) throw corrupt(`${fn.name} needs at least 4 arguments`);
        const storage = args[0];
        if (!(storage instanceof TorchStorage)) throw corrupt(`${fn.name}: first argument is not a storage`);
        const shape = intTuple(args[2]!, 'tensor size');
        const stride = intTuple(args[3]!, 'tensor stride');
        if (shape.length !== stride.length) throw corrupt('tensor size and stride differ in length');
        if (shape.some((d) => d < 0) || stride.some((s) => s < 0)) throw corrupt('negative tensor size or stride');
        return new TorchTensor(storage, int(args[1]!, 'storage offset'), shape, stride);
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        if (!(args[0] instanceof TorchTensor)) throw corrupt('_rebuild_parameter of a non-tensor');
        return args[0];
      default:
        throw unsupported(`refusing to call ${fn.qualified}`);
    }
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) throw unsupported(`pickle protocol ${v}`);
        break;
      }
      case 0x95: take(8); break; // FRAME: a length hint only
      case 0x2e: { // STOP
        const v = pop();
        return v;
      }
      case 0x28: stack.push(MARK); break; // MARK
      case 0x7d: stack.push(new PickleDict()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: { // LONG1: n-byte little-endian two's complement
        const n = u8();
        const b = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: { // BINFLOAT: big-endian float64
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x58: stack.push(utf8(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(utf8(take(u8()))); break; // SHORT_BINUNICODE
      case 0x55: stack.push(latin1(take(u8()))); break; // SHORT_BINSTRING
      case 0x54: { // BINSTRING
        const n = i32();
        if (n < 0) throw corrupt('negative string length');
        stack.push(latin1(take(n)));
        break;
      }
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw corrupt('STACK_GLOBAL needs two strings');
        stack.push(global(module, name));
        break;
      }
      case 0x51: { // BINPERSID: torch's storage reference
        const pid = pop();
        if (!(pid instanceof PickleTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') throw unsupported('persistent id that is not a torch storage');
        const [, type, key, location, numel] = pid.items;
        if (!(type instanceof PickleGlobal) || TORCH_STORAGE_BYTES[type.name] === undefined) throw unsupported('persistent id with an unknown storage type');
        if (typeof key !== 'string' || typeof location !== 'string') throw corrupt('storage key/location are not strings');
        const n = int(numel!, 'storage size');
        if (n < 0) throw corrupt('negative storage size');
        let s = storages.get(key);
        if (!s) {
          s = new TorchStorage(type.name, key, location, n);
          storages.set(key, s);
        } else if (s.storageType !== type.name || s.numel !== n) {
          throw corrupt(`storage ${key} is declared twice with different types or sizes`);
        }
        stack.push(s);
        break;
      }
      case 0x74: stack.push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) throw corrupt('DICT with an odd number of items');
        const d = new PickleDict();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i]!, items[i + 1]!);
        stack.push(d);
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x62: { // BUILD: set state on an object. Dicts carry `_metadata` this way; it is not needed.
        pop();
        const obj = top();
        if (!(obj instanceof PickleDict) && !(obj instanceof TorchTensor)) throw unsupported(`BUILD on ${typeName(obj)}`);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); setItem(top(), k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) throw corrupt('SETITEMS with an odd number of items');
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i]!, items[i + 1]!);
        break;
      }
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) throw corrupt('APPEND to a non-list'); l.push(v); break; } // APPEND
      case 0x65: { // APPENDS
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) throw corrupt('APPENDS to a non-list');
        for (const it of items) l.push(it); // not push(...items): a long run would overflow the stack
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        const v = memo.get(i);
        if (v === undefined) throw corrupt(`memo ${i} is not set`);
        stack.push(v);
        break;
      }
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default:
        throw new FormatError('FORMAT_UNSUPPORTED', `${what}: unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}`, {
          file,
          hint: 'only the opcodes torch.save uses for state dicts are understood; nothing is executed',
        });
    }
  }
}

function typeName(v: PickleValue | undefined): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return v.constructor.name;
  return typeof v;
}
