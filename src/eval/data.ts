// Readers for the benchmark files in their published formats (see ../shared/data/eval/SOURCES.md):
// JSON lines with an aligned labels file (PIQA, SIQA, WinoGrande), JSON lines (HellaSwag, ARC,
// OpenBookQA, BoolQ, TriviaQA, NQ-open, GSM8K), CSV (CrowS-Pairs, TruthfulQA) and TSV (WinoGender).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaError } from '../errors.js';

export function readText(path: string): string {
  if (!existsSync(path)) throw new LlamaError('FILE_NOT_FOUND', `benchmark file ${path} is missing`, { hint: 'pass --data-dir DIR (the folder with one sub-folder per benchmark, e.g. ../shared/data/eval)' });
  return readFileSync(path, 'utf8');
}

export function readJsonl<T = Record<string, unknown>>(path: string): T[] {
  const out: T[] = [];
  const lines = readText(path).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as T);
    } catch {
      throw new LlamaError('DATA', `${path}:${i + 1}: not a JSON object`);
    }
  }
  return out;
}

export function readLines(path: string): string[] {
  return readText(path).split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** CSV rows as objects keyed by the header line */
export function readCsv(path: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(readText(path));
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

export function dataPath(dir: string, ...parts: string[]): string {
  return join(dir, ...parts);
}
