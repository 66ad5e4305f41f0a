// PyTorch checkpoints as `torch.save(state_dict, path)` writes them (PyTorch >= 1.6 zip format):
//   <prefix>/data.pkl     the pickled dict name -> tensor (tensors refer to storages by key)
//   <prefix>/data/<key>   each storage's raw little-endian bytes
//   <prefix>/byteorder    "little" (absent in older files, which are little-endian)
// The pickle is interpreted by a data-only VM (pickle.ts); tensor bytes are read lazily.
import { FormatError, LlamaError } from '../errors.js';
import { DType } from '../tensor/dtype.js';
import { makeTensor, numElements, type HostTensor } from '../tensor/tensor.js';
import { ByteSource } from './source.js';
import { PickleDict, TorchTensor, TORCH_STORAGE_BYTES, unpickle, type PickleValue } from './pickle.js';
import { readZipDirectory, type ZipEntry } from './zip.js';

/** data.pkl of a state dict is a few hundred bytes per tensor; refuse anything absurd before reading it. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

const STORAGE_DTYPE: Record<string, DType> = { FloatStorage: DType.F32, HalfStorage: DType.F16, BFloat16Storage: DType.BF16 };

export interface PthTensorInfo {
  readonly name: string;
  /** torch storage class, e.g. FloatStorage */
  readonly storageType: string;
  /** ggml type when we can compute with it (F32/F16/BF16), else undefined */
  readonly type: DType | undefined;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  /** in elements, from the start of the storage */
  readonly storageOffset: number;
  readonly storageKey: string;
  /** bytes of the tensor's own elements */
  readonly byteLength: number;
  /** row-major contiguous (only these can be read) */
  readonly contiguous: boolean;
  /** absolute file offset of the tensor's first element */
  readonly fileOffset: number;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! !== 1 && stride[i]! !== expect) return false;
    expect *= shape[i]!;
  }
  return true;
}

export class PthFile {
  readonly path: string;
  readonly prefix: string;
  readonly tensors: ReadonlyMap<string, PthTensorInfo>;
  private readonly src: ByteSource;

  private constructor(src: ByteSource, prefix: string, tensors: Map<string, PthTensorInfo>) {
    this.src = src;
    this.path = src.path;
    this.prefix = prefix;
    this.tensors = tensors;
  }

  static open(path: string): PthFile {
    const src = ByteSource.open(path);
    try {
      return PthFile.parse(src);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  private static parse(src: ByteSource): PthFile {
    const file = src.path;
    const entries = readZipDirectory(src);
    const pkls = [...entries.keys()].filter((n) => n.endsWith('/data.pkl') && n.indexOf('/') === n.length - '/data.pkl'.length);
    if (pkls.length !== 1) {
      throw new FormatError('FORMAT_CORRUPT', pkls.length === 0 ? 'zip archive has no <name>/data.pkl: not a torch.save checkpoint' : 'zip archive has several data.pkl entries', { file });
    }
    const prefix = pkls[0]!.slice(0, -'/data.pkl'.length);
    const order = entries.get(`${prefix}/byteorder`);
    if (order) {
      const text = new TextDecoder().decode(src.read(order.dataOffset, Math.min(order.size, 16), 'byteorder'));
      if (text !== 'little') throw new FormatError('FORMAT_UNSUPPORTED', `byte order "${text}" is not supported (only little-endian)`, { file });
    }
    const pkl = entries.get(pkls[0]!)!;
    if (pkl.size > MAX_PICKLE_BYTES) throw new FormatError('FORMAT_LIMIT', `data.pkl is ${pkl.size} bytes, more than a state dict needs`, { file });
    const root = unpickle(src.read(pkl.dataOffset, pkl.size, 'data.pkl'), file);
    const dict = stateDictOf(root, file);
    const tensors = new Map<string, PthTensorInfo>();
    for (const [k, v] of dict.map) {
      if (!(v instanceof TorchTensor)) continue; // non-tensor entries (counters, configs) carry no weights
      const name = String(k);
      tensors.set(name, describe(name, v, entries, prefix, file));
    }
    return new PthFile(src, prefix, tensors);
  }

  readTensor(name: string): HostTensor {
    const t = this.tensors.get(name);
    if (!t) throw new LlamaError('TENSOR_MISSING', `no tensor named ${name}`, { file: this.path });
    if (t.type === undefined) {
      throw new LlamaError('TENSOR_TYPE', `tensor ${name} is a ${t.storageType}; only Float, Half and BFloat16 storages are supported`, { file: this.path });
    }
    if (!t.contiguous) {
      throw new FormatError('FORMAT_UNSUPPORTED', `tensor ${name} is not contiguous (shape [${t.shape.join(', ')}], stride [${t.stride.join(', ')}])`, {
        file: this.path,
        hint: 'save it with .contiguous() (e.g. {k: v.contiguous() for k, v in sd.items()})',
      });
    }
    return makeTensor(name, t.type, t.shape, this.src.read(t.fileOffset, t.byteLength, `tensor ${name}`));
  }

  close(): void {
    this.src.close();
  }
}

/** The dict of tensors: the root, or a dict under "model"/"state_dict" (common training wrappers). */
function stateDictOf(root: PickleValue, file: string): PickleDict {
  if (root instanceof PickleDict) {
    const hasTensors = [...root.map.values()].some((v) => v instanceof TorchTensor);
    if (hasTensors) return root;
    for (const key of ['model', 'state_dict']) {
      const inner = root.map.get(key);
      if (inner instanceof PickleDict) return inner;
    }
    return root;
  }
  throw new FormatError('FORMAT_UNSUPPORTED', 'the checkpoint is not a dict of tensors', { file, hint: 'save a state dict: torch.save(model.state_dict(), path)' });
}

function describe(name: string, t: TorchTensor, entries: Map<string, ZipEntry>, prefix: string, file: string): PthTensorInfo {
  const elt = TORCH_STORAGE_BYTES[t.storage.storageType]!;
  const entry = entries.get(`${prefix}/data/${t.storage.key}`);
  if (!entry) throw new FormatError('FORMAT_CORRUPT', `tensor ${name}: storage ${t.storage.key} is missing from the archive`, { file });
  if (t.storage.numel * elt > entry.size) {
    throw new FormatError('FORMAT_BOUNDS', `tensor ${name}: storage ${t.storage.key} declares ${t.storage.numel} elements but holds ${entry.size} bytes`, { file });
  }
  const n = numElements(t.shape);
  // Highest element index the view touches: offset + Σ (size_i - 1)·stride_i.
  let last = t.storageOffset;
  for (let i = 0; i < t.shape.length; i++) last += (t.shape[i]! - 1) * t.stride[i]!;
  if (n > 0 && last >= t.storage.numel) {
    throw new FormatError('FORMAT_BOUNDS', `tensor ${name}: view [${t.shape.join(', ')}] at offset ${t.storageOffset} reaches element ${last} of a ${t.storage.numel}-element storage`, { file });
  }
  return {
    name,
    storageType: t.storage.storageType,
    type: STORAGE_DTYPE[t.storage.storageType],
    shape: t.shape,
    stride: t.stride,
    storageOffset: t.storageOffset,
    storageKey: t.storage.key,
    byteLength: n * elt,
    contiguous: isContiguous(t.shape, t.stride),
    fileOffset: entry.dataOffset + t.storageOffset * elt,
  };
}
