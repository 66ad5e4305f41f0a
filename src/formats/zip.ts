// The part of the ZIP format that PyTorch's `torch.save` writes: a central directory of stored
// (uncompressed) entries, with ZIP64 records when the archive or an entry passes 4 GiB. We parse the
// central directory ourselves (APPNOTE.TXT 4.3) and locate each entry's data through its local header.
// Compressed or encrypted entries are refused: torch never writes them.
import { FormatError } from '../errors.js';
import { ByteCursor, ByteSource } from './source.js';

export interface ZipEntry {
  readonly name: string;
  /** absolute offset of the entry's data in the archive */
  readonly dataOffset: number;
  readonly size: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

/** Read the central directory of `src` and return its entries by name. */
export function readZipDirectory(src: ByteSource): Map<string, ZipEntry> {
  const file = src.path;
  const corrupt = (msg: string) => new FormatError('FORMAT_CORRUPT', `zip: ${msg}`, { file, hint: 'the archive is damaged or truncated' });
  if (src.size < EOCD_SIZE) throw new FormatError('FORMAT_TRUNCATED', `file has ${src.size} bytes, too short for a zip archive`, { file });

  // The end-of-central-directory record sits at the end, followed only by a comment (< 64 KiB).
  const tailLen = Math.min(src.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = src.size - tailLen;
  const tail = src.read(tailStart, tailLen, 'zip end record');
  const tdv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tdv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tdv.getUint16(i + 20, true) === tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new FormatError('FORMAT_MAGIC', 'no zip end-of-central-directory record: not a PyTorch zip checkpoint (or truncated)', {
      file,
      hint: 'only the zip-based torch.save format (PyTorch >= 1.6) is supported; re-save legacy checkpoints with a recent PyTorch',
    });
  }
  let cdEntries = tdv.getUint16(eocd + 10, true);
  let cdSize = tdv.getUint32(eocd + 12, true);
  let cdOffset = tdv.getUint32(eocd + 16, true);
  if (tdv.getUint16(eocd + 4, true) !== 0 || tdv.getUint16(eocd + 6, true) !== 0) throw new FormatError('FORMAT_UNSUPPORTED', 'zip: multi-disk archives are not supported', { file });

  if (cdEntries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64: a locator 20 bytes before the EOCD points at the ZIP64 end record.
    const locAbs = tailStart + eocd - 20;
    if (locAbs < 0) throw corrupt('ZIP64 markers without a ZIP64 locator');
    const loc = new ByteCursor(src, locAbs);
    if (loc.u32() !== SIG_ZIP64_LOCATOR) throw corrupt('ZIP64 markers without a ZIP64 locator');
    loc.u32();
    const z64Off = loc.u64();
    if (z64Off + 56 > locAbs) throw corrupt(`ZIP64 end record offset ${z64Off} is out of range`);
    const z = new ByteCursor(src, z64Off);
    if (z.u32() !== SIG_ZIP64_EOCD) throw corrupt('bad ZIP64 end record signature');
    z.u64(); z.u16(); z.u16(); z.u32(); z.u32();
    z.u64();
    cdEntries = z.u64();
    cdSize = z.u64();
    cdOffset = z.u64();
  }
  if (cdOffset + cdSize > src.size) {
    throw new FormatError('FORMAT_TRUNCATED', `zip central directory (${cdSize} bytes at ${cdOffset}) extends past the end of the file`, { file });
  }
  if (cdEntries * 46 > cdSize) throw corrupt(`${cdEntries} entries cannot fit in a ${cdSize}-byte central directory`);

  const cd = new ByteCursor(src, cdOffset);
  const cdEnd = cdOffset + cdSize;
  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }); // names are kept byte-exact
  for (let i = 0; i < cdEntries; i++) {
    if (cd.pos + 46 > cdEnd) throw corrupt(`central directory entry ${i} runs past the directory's end`);
    if (cd.u32() !== SIG_CENTRAL) throw corrupt(`central directory entry ${i} has a bad signature`);
    cd.u16(); cd.u16();
    const flags = cd.u16();
    const method = cd.u16();
    cd.u16(); cd.u16(); cd.u32();
    let csize = cd.u32();
    let usize = cd.u32();
    const nlen = cd.u16();
    const xlen = cd.u16();
    const clen = cd.u16();
    cd.u16(); cd.u16(); cd.u32();
    let lho = cd.u32();
    if (cd.pos + nlen + xlen + clen > cdEnd) throw corrupt(`central directory entry ${i} runs past the directory's end`);
    const name = utf8.decode(cd.bytes(nlen));
    const extraStart = cd.pos;
    cd.pos += xlen + clen;
    if (usize === 0xffffffff || csize === 0xffffffff || lho === 0xffffffff) {
      // ZIP64 extended information extra field (id 1): only the fields that overflowed, in this order.
      const x = new ByteCursor(src, extraStart);
      const extraEnd = extraStart + xlen;
      let found = false;
      while (x.pos + 4 <= extraEnd) {
        const id = x.u16();
        const len = x.u16();
        const bodyEnd = x.pos + len;
        if (bodyEnd > extraEnd) throw corrupt(`entry ${name}: extra field runs past its end`);
        if (id === 1) {
          found = true;
          const need = 8 * [usize, csize, lho].filter((v) => v === 0xffffffff).length;
          if (len < need) throw corrupt(`entry ${name}: ZIP64 extra field is too short`);
          if (usize === 0xffffffff) usize = x.u64();
          if (csize === 0xffffffff) csize = x.u64();
          if (lho === 0xffffffff) lho = x.u64();
        }
        x.pos = bodyEnd;
      }
      if (!found) throw corrupt(`entry ${name} has 32-bit overflow markers but no ZIP64 extra field`);
    }
    if (flags & 1) throw new FormatError('FORMAT_UNSUPPORTED', `zip entry ${name} is encrypted`, { file });
    if (method !== 0) {
      throw new FormatError('FORMAT_UNSUPPORTED', `zip entry ${name} is compressed (method ${method}); torch.save writes stored entries only`, {
        file,
        hint: 're-save the checkpoint with torch.save (archives re-zipped by other tools are compressed)',
      });
    }
    if (csize !== usize) throw corrupt(`stored entry ${name} has compressed size ${csize} != size ${usize}`);
    if (lho + 30 > cdOffset) throw corrupt(`entry ${name}: local header offset ${lho} is outside the data area`);
    const lh = new ByteCursor(src, lho);
    if (lh.u32() !== SIG_LOCAL) throw corrupt(`entry ${name}: bad local header signature at ${lho}`);
    lh.pos = lho + 26;
    const lnlen = lh.u16();
    const lxlen = lh.u16();
    const dataOffset = lho + 30 + lnlen + lxlen;
    if (dataOffset + usize > cdOffset) {
      throw new FormatError('FORMAT_BOUNDS', `zip entry ${name}: ${usize} bytes at ${dataOffset} run into the central directory`, { file });
    }
    if (entries.has(name)) throw corrupt(`duplicate entry ${name}`);
    entries.set(name, { name, dataOffset, size: usize });
  }
  return entries;
}
