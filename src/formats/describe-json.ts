// JSON side files (config.json, params.json) as inspect metadata entries: nested objects are
// flattened to dotted keys so that the text view shows every value.
import { existsSync, readFileSync } from '../platform/fs.js';
import type { MetadataEntry } from './describe.js';

export function jsonEntries(prefix: string, value: unknown, out: MetadataEntry[] = [], depth = 0): MetadataEntry[] {
  // real configs nest 2-3 levels; deeper objects are shown whole rather than recursed into
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < 8) {
    for (const [k, v] of Object.entries(value)) jsonEntries(`${prefix}.${k}`, v, out, depth + 1);
    return out;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    out.push({ key: prefix, type: 'string', value: '(nested object)' });
    return out;
  }
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  out.push({ key: prefix, type, value });
  return out;
}

/** Entries for a JSON file beside a model, if it exists and parses; a note entry if it does not parse. */
export function sideFileEntries(path: string, prefix: string): MetadataEntry[] {
  if (!existsSync(path)) return [];
  try {
    return jsonEntries(prefix, JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return [{ key: prefix, type: 'string', value: '(not valid JSON)' }];
  }
}
