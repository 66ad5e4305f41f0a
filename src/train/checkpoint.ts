// Training checkpoints: everything a run needs to continue exactly where it stopped — weights,
// AdamW moments and step, the data sampler's RNG state, the resolved training config and the
// tokenizer — in one file written atomically (temporary file, fsync, then rename).
//
// Layout (little-endian), version 2:
//   0  'LTCK'  magic
//   4  u32     version (2)
//   8  u32     header length H (bytes of UTF-8 JSON)
//  12  u32     CRC-32 (IEEE) of every byte from offset 16 to the end of the file
//  16  JSON header (CheckpointHeader), zero-padded to a multiple of 4
//  ..  for each header.tensors entry in order: values, then m, then v, each numel f32
//
// Version 1 (older llama-ts) has no CRC field: the JSON starts at 12. Such a checkpoint still
// loads (it cannot be verified, and `unverified` says so, so callers can warn); a version-2 file
// whose CRC does not match is refused with CHECKPOINT_CORRUPT.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LlamaError } from '../errors.js';
import type { LlamaConfig } from '../model/config.js';
import { writeFileAtomic } from '../formats/file-io.js';
import type { RngState } from './rng.js';
import type { TrainConfig } from './config.js';
import { crc32 } from '../formats/crc32.js';

const MAGIC = 0x4b43544c; // 'LTCK'

export interface CheckpointHeader {
  readonly version: 1 | 2;
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
  const full: CheckpointHeader = { ...header, version: 2, tensors: tensors.map((t) => ({ name: t.name, shape: t.shape })) };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const padded = Math.ceil(json.length / 4) * 4;
  let total = PAYLOAD_V2 + padded;
  for (const t of tensors) total += 3 * t.values.byteLength;
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(2, 4);
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, PAYLOAD_V2);
  let o = PAYLOAD_V2 + padded;
  for (const t of tensors) {
    for (const a of [t.values, t.m, t.v]) {
      buf.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
      o += a.byteLength;
    }
  }
  buf.writeUInt32LE(crc32(buf.subarray(PAYLOAD_V2)), 12);
  writeFileAtomic(path, buf);
}

/** Where the checksummed payload (JSON header, tensors) starts in a version-2 checkpoint. */
const PAYLOAD_V2 = 16;

/** CRC-32 (IEEE 802.3, as zlib/PNG); `crc` continues a previous call's result. */
export { crc32 };

export interface LoadedCheckpoint {
  header: CheckpointHeader;
  tensors: CheckpointTensor[];
  /** true for a version-1 file: it has no checksum, so damage cannot be detected */
  unverified: boolean;
}

export function loadCheckpoint(path: string): LoadedCheckpoint {
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
    const version = head.readUInt32LE(4);
    if (version !== 1 && version !== 2) throw new LlamaError('CHECKPOINT', `checkpoint version ${version} is not supported`, { file: path });
    const start = version === 2 ? PAYLOAD_V2 : 12;
    if (size < start) throw new LlamaError('CHECKPOINT', 'file too short for a checkpoint', { file: path });
    const hlen = head.readUInt32LE(8);
    if (start + hlen > size) throw new LlamaError('CHECKPOINT', `header length ${hlen} runs past the end of the ${size}-byte file`, { file: path });
    const storedCrc = version === 2 ? (() => { const b = Buffer.alloc(4); readSync(fd, b, 0, 4, 12); return b.readUInt32LE(0); })() : 0;
    const padded = Math.ceil(hlen / 4) * 4;
    const jbuf = Buffer.alloc(Math.min(padded, size - start));
    readSync(fd, jbuf, 0, jbuf.length, start);
    let crc = crc32(jbuf);
    const corrupt = (): LlamaError => new LlamaError('CHECKPOINT_CORRUPT', 'the checkpoint is damaged: its CRC-32 does not match its contents', {
      file: path,
      hint: 'the file was changed or damaged after it was written; use another checkpoint of the run (checkpoint-best.bin, checkpoint-STEP.bin) or train again',
    });
    let header: CheckpointHeader;
    try {
      header = JSON.parse(jbuf.subarray(0, hlen).toString('utf8')) as CheckpointHeader;
    } catch {
      if (version === 2) throw corrupt();
      throw new LlamaError('CHECKPOINT', 'checkpoint header is not valid JSON', { file: path });
    }
    if (!Array.isArray(header.tensors)) throw new LlamaError('CHECKPOINT', 'checkpoint header has no tensor list', { file: path });
    let o = start + padded;
    let expected = o;
    for (const t of header.tensors) expected += 12 * t.shape.reduce((a: number, b: number) => a * b, 1);
    if (expected !== size) throw new LlamaError('CHECKPOINT', `tensors need ${expected} bytes in all but the file has ${size}`, { file: path, hint: 'the file is truncated or corrupt' });
    const tensors: CheckpointTensor[] = header.tensors.map((t) => {
      const n = t.shape.reduce((a: number, b: number) => a * b, 1);
      const read = () => {
        const a = new Float32Array(n);
        const bytes = new Uint8Array(a.buffer);
        readSync(fd, bytes, 0, 4 * n, o);
        crc = crc32(bytes, crc);
        o += 4 * n;
        return a;
      };
      const values = read();
      const m = read();
      const v = read();
      return { name: t.name, shape: t.shape, values, m, v };
    });
    if (version === 2 && crc !== storedCrc) throw corrupt();
    return { header, tensors, unverified: version === 1 };
  } finally {
    closeSync(fd);
  }
}
