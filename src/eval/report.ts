// Output in lm-evaluation-harness's shapes: the markdown results table (utils.make_table:
// Tasks | Version | Filter | n-shot | Metric | ↑/↓ | Value | ± | Stderr, 4 decimals) and a results
// JSON keyed "metric,filter" / "metric_stderr,filter"; plus an SVG bar chart comparing runs.
import type { TaskResult } from './runner.js';

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(4) : 'N/A';
}

export function formatTable(results: readonly TaskResult[]): string {
  const head = ['Tasks', 'Version', 'Filter', 'n-shot', 'Metric', '', 'Value', '', 'Stderr'];
  const right = [false, true, false, true, false, false, true, false, true];
  const rows: string[][] = [];
  for (const r of results) {
    r.metrics.forEach((m, i) => {
      rows.push([i === 0 ? r.task : '', i === 0 ? r.version : '', m.filter, i === 0 ? String(r.nShot) : '', m.metric, m.higherIsBetter ? '↑' : '↓', fmt(m.value), '±', fmt(m.stderr)]);
    });
  }
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => [...r[c]!].length), 3));
  const pad = (s: string, c: number) => (right[c] ? s.padStart(w[c]!) : s.padEnd(w[c]!));
  const line = (cells: string[]) => '|' + cells.map((s, c) => pad(s, c)).join('|') + '|';
  const sep = '|' + w.map((n, c) => (right[c] ? '-'.repeat(n - 1) + ':' : '-'.repeat(n))).join('|') + '|';
  return [line(head), sep, ...rows.map(line)].join('\n') + '\n';
}

export interface ResultsJson {
  results: Record<string, Record<string, number | string | null>>;
  versions: Record<string, string>;
  'n-shot': Record<string, number>;
  'n-samples': Record<string, number>;
  chance: Record<string, number | null>;
  notes: Record<string, string[]>;
  config: Record<string, unknown>;
}

export function resultsJson(results: readonly TaskResult[], config: Record<string, unknown>): ResultsJson {
  const out: ResultsJson = { results: {}, versions: {}, 'n-shot': {}, 'n-samples': {}, chance: {}, notes: {}, config };
  for (const r of results) {
    const e: Record<string, number | string | null> = { alias: r.task };
    for (const m of r.metrics) {
      e[`${m.metric},${m.filter}`] = m.value;
      e[`${m.metric}_stderr,${m.filter}`] = Number.isFinite(m.stderr) ? m.stderr : 'N/A';
    }
    out.results[r.task] = e;
    out.versions[r.task] = r.version;
    out['n-shot'][r.task] = r.nShot;
    out['n-samples'][r.task] = r.n;
    out.chance[r.task] = Number.isFinite(r.chance) ? r.chance : null;
    if (r.notes.length) out.notes[r.task] = r.notes;
  }
  return out;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Grouped bars: one group per task×metric present in any run, one bar (with ±stderr) per run. */
export function compareSvg(runs: readonly { label: string; json: ResultsJson }[]): string {
  const keys: string[] = [];
  for (const r of runs) {
    for (const [task, e] of Object.entries(r.json.results)) {
      for (const k of Object.keys(e)) {
        if (k === 'alias' || k.includes('_stderr,')) continue;
        const id = `${task} ${k.replace(',none', '')}`;
        if (!keys.includes(id)) keys.push(id);
      }
    }
  }
  const colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];
  const bar = 14;
  const groupH = runs.length * bar + 10;
  const left = 230;
  const width = 720;
  const plotW = width - left - 60;
  const top = 30 + 18 * runs.length;
  const max = 1;
  const val = (r: ResultsJson, id: string): [number, number] | undefined => {
    const [task, metric] = id.split(' ') as [string, string];
    const e = r.results[task];
    if (!e) return undefined;
    const mk = metric.includes(',') ? metric : `${metric},none`;
    const v = e[mk];
    if (typeof v !== 'number') return undefined;
    const [m, f] = mk.split(',');
    const s = e[`${m}_stderr,${f}`];
    return [v, typeof s === 'number' ? s : 0];
  };
  // one shared 0..1 axis: metrics outside it (CrowS-Pairs likelihood_diff, in nats) are listed, not drawn
  const skipped = keys.filter((k) => runs.some((r) => (val(r.json, k)?.[0] ?? 0) > 1));
  keys.splice(0, keys.length, ...keys.filter((k) => !skipped.includes(k)));
  const height = top + keys.length * groupH + 30 + (skipped.length ? 16 : 0);
  const x = (v: number) => left + (Math.min(v, max) / max) * plotW;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`, `<rect width="100%" height="100%" fill="white"/>`];
  runs.forEach((r, i) => parts.push(`<rect x="${left}" y="${10 + 18 * i}" width="12" height="12" fill="${colors[i % colors.length]}"/><text x="${left + 18}" y="${20 + 18 * i}">${esc(r.label)}</text>`));
  keys.forEach((k, g) => {
    const y0 = top + g * groupH;
    parts.push(`<text x="${left - 6}" y="${y0 + groupH / 2}" text-anchor="end">${esc(k)}</text>`);
    runs.forEach((r, i) => {
      const v = val(r.json, k);
      if (!v) return;
      const y = y0 + i * bar;
      parts.push(`<rect x="${left}" y="${y}" width="${(x(v[0]) - left).toFixed(1)}" height="${bar - 2}" fill="${colors[i % colors.length]}"/>`);
      if (v[1] > 0) parts.push(`<line x1="${x(v[0] - v[1]).toFixed(1)}" x2="${x(v[0] + v[1]).toFixed(1)}" y1="${y + bar / 2 - 1}" y2="${y + bar / 2 - 1}" stroke="black"/>`);
      parts.push(`<text x="${(x(v[0] + v[1]) + 4).toFixed(1)}" y="${y + bar - 4}">${v[0].toFixed(3)}</text>`);
    });
  });
  const yAxis = top + keys.length * groupH;
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${yAxis}" y2="${yAxis}" stroke="black"/>`);
  for (let t = 0; t <= 4; t++) parts.push(`<text x="${x((max * t) / 4)}" y="${yAxis + 14}" text-anchor="middle">${((max * t) / 4).toFixed(2)}</text>`);
  if (skipped.length) parts.push(`<text x="10" y="${yAxis + 32}">not drawn (outside 0..1): ${esc(skipped.join(', '))}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
