// Training checkpoints: everything a run needs to continue exactly where it stopped — weights,
// AdamW moments and step, the data sampler's RNG state, the resolved training config and the
// tokenizer — in one file written atomically (temporary file, then rename).
//
// Layout (little-endian):
//   0  'LTCK'  magic
//   4  u32     version (1)
//   8  u32     header length H (bytes of UTF-8 JSON)
//  12  JSON header (CheckpointHeader), zero-padded to a multiple of 4
//  ..  for each header.tensors entry in order: values, then m, then v, each numel f32
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LlamaError } from '../errors.js';
import type { LlamaConfig } from '../model/config.js';
import { writeAtomic } from './data.js';
import type { RngState } from './rng.js';
import type { TrainConfig } from './config.js';

const MAGIC = 0x4b43544c; // 'LTCK'

export interface CheckpointHeader {
  readonly version: 1;
  /** optimizer steps completed */
  readonly step: number;
  readonly tokensSeen: number;
  readonly rngState: RngState;
  readonly trainConfig: TrainConfig;
  readonly modelConfig: LlamaConfig;
  /** a character tokenizer's JSON, or the path of the tokenizer file */
  readonly tokenizer: unknown;
  readonly tensors: readonly { name: string; shape: readonly number[] }[];
  /** wall-clock seconds spent training so far (for reporting only) */
  readonly elapsed: number;
  /** best mixture-weighted validation loss so far (checkpoint-best.bin), null before the first */
  readonly bestVal?: number | null;
}

export interface CheckpointTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
}

export function saveCheckpoint(path: string, header: Omit<CheckpointHeader, 'tensors' | 'version'>, tensors: readonly CheckpointTensor[]): void {
  const full: CheckpointHeader = { ...header, version: 1, tensors: tensors.map((t) => ({ name: t.name, shape: t.shape })) };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const padded = Math.ceil(json.length / 4) * 4;
  let total = 12 + padded;
  for (const t of tensors) total += 3 * t.values.byteLength;
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(1, 4);
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  let o = 12 + padded;
  for (const t of tensors) {
    for (const a of [t.values, t.m, t.v]) {
      buf.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
      o += a.byteLength;
    }
  }
  writeAtomic(path, buf);
}

export function loadCheckpoint(path: string): { header: CheckpointHeader; tensors: CheckpointTensor[] } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new LlamaError('FILE_NOT_FOUND', 'no checkpoint to resume from', { file: path, hint: 'train without --resume first (checkpoints go to OUTDIR/checkpoint.bin)', cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(12);
    if (size < 12 || readSync(fd, head, 0, 12, 0) !== 12) throw new LlamaError('CHECKPOINT', 'file too short for a checkpoint', { file: path });
    if (head.readUInt32LE(0) !== MAGIC) throw new LlamaError('CHECKPOINT', 'not a llama-ts training checkpoint (no LTCK magic)', { file: path });
    if (head.readUInt32LE(4) !== 1) throw new LlamaError('CHECKPOINT', `checkpoint version ${head.readUInt32LE(4)} is not supported`, { file: path });
    const hlen = head.readUInt32LE(8);
    if (12 + hlen > size) throw new LlamaError('CHECKPOINT', `header length ${hlen} runs past the end of the ${size}-byte file`, { file: path });
    const jbuf = Buffer.alloc(hlen);
    readSync(fd, jbuf, 0, hlen, 12);
    let header: CheckpointHeader;
    try {
      header = JSON.parse(jbuf.toString('utf8')) as CheckpointHeader;
    } catch {
      throw new LlamaError('CHECKPOINT', 'checkpoint header is not valid JSON', { file: path });
    }
    if (!Array.isArray(header.tensors)) throw new LlamaError('CHECKPOINT', 'checkpoint header has no tensor list', { file: path });
    let o = 12 + Math.ceil(hlen / 4) * 4;
    let expected = o;
    for (const t of header.tensors) expected += 12 * t.shape.reduce((a: number, b: number) => a * b, 1);
    if (expected !== size) throw new LlamaError('CHECKPOINT', `tensors need ${expected} bytes in all but the file has ${size}`, { file: path, hint: 'the file is truncated or corrupt' });
    const tensors: CheckpointTensor[] = header.tensors.map((t) => {
      const n = t.shape.reduce((a: number, b: number) => a * b, 1);
      const read = () => {
        const a = new Float32Array(n);
        readSync(fd, new Uint8Array(a.buffer), 0, 4 * n, o);
        o += 4 * n;
        return a;
      };
      const values = read();
      const m = read();
      const v = read();
      return { name: t.name, shape: t.shape, values, m, v };
    });
    return { header, tensors };
  } finally {
    closeSync(fd);
  }
}
