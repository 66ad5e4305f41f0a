// `llama inspect FILE [--json] [--full]`: format, version, metadata (long arrays summarised) and the
// tensor table of any model file a format module can describe.
import { bool } from '../args.js';
import type { Command } from '../command.js';
import { UsageError, formats } from '../../index.js';
const { describe } = formats;
type FileDescription = formats.FileDescription;
type MetadataEntry = formats.MetadataEntry;

/** Arrays longer than this are summarised (first few elements + count). */
const ARRAY_HEAD = 6;
/** Strings longer than this are cut in the text view (chat templates can be kilobytes). */
const STRING_MAX = 120;

export const command: Command = {
  spec: {
    name: 'inspect',
    summary: 'show the format, metadata and tensors of a model file',
    usage: 'FILE [--json] [--full]',
    options: {
      json: { kind: 'boolean', help: 'print machine-readable JSON' },
      full: { kind: 'boolean', help: 'do not summarise long arrays and strings' },
    },
    details: 'Shapes are row-major, outermost first (PyTorch order; GGUF lists them reversed, as ne).',
  },
  async run(args) {
    if (args.positionals.length !== 1) throw new UsageError('inspect takes exactly one FILE', 'usage: llama inspect FILE [--json]');
    const d = describe(args.positionals[0]!);
    const full = bool(args, 'full');
    process.stdout.write(bool(args, 'json') ? JSON.stringify(toJson(d, full), null, 2) + '\n' : toText(d, full));
    return 0;
  },
};

function toJson(d: FileDescription, full: boolean): unknown {
  return {
    file: d.path,
    format: d.format,
    version: d.version ?? null,
    ...d.details,
    metadata: Object.fromEntries(d.metadata.map((m) => [m.key, full ? m.value : jsonSummary(m)])),
    metadata_types: Object.fromEntries(d.metadata.map((m) => [m.key, m.elemType ? `array<${m.elemType}>` : m.type])),
    tensors: d.tensors,
    n_tensors: d.tensors.length,
    total_tensor_bytes: d.tensors.reduce((s, t) => s + t.bytes, 0),
  };
}

/** Long arrays become { length, head } so that the JSON of a 32000-token vocabulary stays small. */
function jsonSummary(m: MetadataEntry): unknown {
  if (Array.isArray(m.value) && m.value.length > ARRAY_HEAD * 2) {
    return { array: m.elemType, length: m.value.length, head: m.value.slice(0, ARRAY_HEAD) };
  }
  return m.value;
}

/** The shortest decimal that reads back as the same float32 (1e-5 rather than 0.000009999999747378752). */
function shortestF32(v: number): string {
  if (!Number.isFinite(v) || Math.fround(v) !== v) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

function showScalar(v: unknown, full: boolean, type?: string): string {
  if (typeof v === 'number' && type === 'f32') return shortestF32(v);
  if (typeof v === 'string') {
    const s = JSON.stringify(v);
    return !full && s.length > STRING_MAX ? `${s.slice(0, STRING_MAX)}…" (${v.length} chars)` : s;
  }
  if (Array.isArray(v)) return showArray(v, undefined, full);
  return String(v);
}

function showArray(values: unknown[], elemType: string | undefined, full: boolean): string {
  const kind = elemType === 'string' ? 'strings' : elemType === 'array' ? 'arrays' : (elemType ?? 'values');
  if (full || values.length <= ARRAY_HEAD * 2) return `[${values.map((x) => showScalar(x, full, elemType)).join(', ')}]`;
  return `[${values.length} ${kind}: ${values.slice(0, ARRAY_HEAD).map((x) => showScalar(x, false, elemType)).join(', ')}, ...]`;
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(2)} ${units[u]}`;
}

function toText(d: FileDescription, full: boolean): string {
  const lines: string[] = [];
  // one column for every label, however long the longest detail name is (headerBytes, archivePrefix)
  const width = Math.max(12, ...Object.keys(d.details).map((k) => k.length + 2));
  const row = (k: string, v: string) => lines.push(`${(k + ':').padEnd(width)}${v}`);
  row('file', d.path);
  row('format', `${d.format}${d.version !== undefined ? ` v${d.version}` : ''}`);
  for (const [k, v] of Object.entries(d.details)) row(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  lines.push('', `metadata (${d.metadata.length} keys):`);
  const keyWidth = Math.min(48, Math.max(0, ...d.metadata.map((m) => m.key.length)));
  for (const m of d.metadata) {
    const type = m.elemType ? `${m.type}<${m.elemType}>` : m.type;
    const value = Array.isArray(m.value) ? showArray(m.value, m.elemType, full) : showScalar(m.value, full, m.type);
    lines.push(`  ${m.key.padEnd(keyWidth)}  ${type.padEnd(13)} ${value}`);
  }
  const total = d.tensors.reduce((s, t) => s + t.bytes, 0);
  lines.push('', `tensors (${d.tensors.length}, ${humanBytes(total)}):`);
  if (d.tensors.length) {
    const rows = d.tensors.map((t) => [t.name, t.type, `[${t.shape.join(', ')}]`, String(t.bytes)]);
    const header = ['name', 'type', 'shape', 'bytes'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]) => `  ${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]!.padEnd(widths[2]!)}  ${r[3]!.padStart(widths[3]!)}`;
    lines.push(fmt(header));
    for (const r of rows) lines.push(fmt(r));
  }
  return lines.join('\n') + '\n';
}
