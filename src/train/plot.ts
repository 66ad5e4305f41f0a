// An SVG chart of a training log (log.jsonl): train loss, validation loss per source and the
// unigram baselines on the left axis, learning rate on the right axis. Plain SVG 1.1, no scripts.
import { LlamaError } from '../errors.js';

interface Series {
  readonly label: string;
  readonly points: [number, number][];
  readonly color: string;
  readonly dash?: string;
  readonly axis: 'loss' | 'lr';
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function parseLog(text: string, file: string): { train: [number, number][]; lr: [number, number][]; val: Map<string, [number, number][]>; baseline: Map<string, number> } {
  const train = new Map<number, number>();
  const lr = new Map<number, number>();
  const val = new Map<string, Map<number, number>>();
  const baseline = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new LlamaError('FORMAT_CORRUPT', `line ${i + 1} is not JSON`, { file, hint: 'plot the log.jsonl a training run wrote' });
    }
    const step = r.step as number;
    if (r.type === 'train' && typeof r.loss === 'number') {
      train.set(step, r.loss); // resumed runs re-log steps: the later value wins
      if (typeof r.lr === 'number') lr.set(step, r.lr);
    } else if (r.type === 'val' && typeof r.loss === 'number' && typeof r.source === 'string') {
      if (!val.has(r.source)) val.set(r.source, new Map());
      val.get(r.source)!.set(step, r.loss);
    } else if (r.type === 'baseline' && typeof r.unigram === 'number' && typeof r.source === 'string') {
      baseline.set(r.source, r.unigram);
    } else if (r.type === 'resume' && typeof step === 'number') {
      // a resumed run trains again from its checkpoint's step: points logged after that step by
      // the interrupted run (logs written before the trainer truncated them) are superseded
      for (const m of [train, lr, ...val.values()]) for (const s of [...m.keys()]) if (s > step) m.delete(s);
    }
  });
  if (train.size === 0) throw new LlamaError('FORMAT_CORRUPT', 'the log has no training steps', { file });
  const sorted = (m: Map<number, number>) => [...m.entries()].sort((a, b) => a[0] - b[0]);
  return { train: sorted(train), lr: sorted(lr), val: new Map([...val].map(([k, m]) => [k, sorted(m)])), baseline };
}

export function plotSvg(text: string, file: string, title = 'training'): string {
  const log = parseLog(text, file);
  const series: Series[] = [{ label: 'train loss', points: log.train, color: COLORS[0]!, axis: 'loss' }];
  let c = 1;
  for (const [name, pts] of log.val) series.push({ label: `val ${name}`, points: pts, color: COLORS[c++ % COLORS.length]!, axis: 'loss' });
  series.push({ label: 'learning rate', points: log.lr, color: '#ff7f0e', dash: '6 4', axis: 'lr' });
  const maxStep = Math.max(...log.train.map((p) => p[0]));
  const allLoss = series.filter((s) => s.axis === 'loss').flatMap((s) => s.points.map((p) => p[1])).concat([...log.baseline.values()]);
  const lossMax = Math.max(...allLoss) * 1.05;
  const lossMin = Math.min(0, ...allLoss);
  const lrMax = Math.max(1e-30, ...log.lr.map((p) => p[1])) * 1.05;
  const W = 800, H = 440, L = 60, R = 80, T = 40, B = 50;
  // coordinates with one decimal: a pixel tenth is plenty, and 254.00000000000003 is noise in the file
  const r1 = (v: number) => Math.round(v * 10) / 10;
  const x = (s: number) => r1(L + ((W - L - R) * s) / Math.max(1, maxStep));
  const yl = (v: number) => r1(T + (H - T - B) * (1 - (v - lossMin) / (lossMax - lossMin)));
  const yr = (v: number) => r1(T + (H - T - B) * (1 - v / lrMax));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`);
  // axes and ticks
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/><line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="black"/>`);
  for (let i = 0; i <= 5; i++) {
    const s = Math.round((maxStep * i) / 5);
    const lv = lossMin + ((lossMax - lossMin) * i) / 5;
    const rv = (lrMax * i) / 5;
    out.push(`<text x="${x(s)}" y="${H - B + 18}" text-anchor="middle">${s}</text>`);
    out.push(`<text x="${L - 6}" y="${yl(lv) + 4}" text-anchor="end">${lv.toFixed(2)}</text>`);
    out.push(`<text x="${W - R + 6}" y="${yr(rv) + 4}">${rv.toExponential(1)}</text>`);
    out.push(`<line x1="${L}" y1="${yl(lv)}" x2="${W - R}" y2="${yl(lv)}" stroke="#eee"/>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">step</text>`);
  out.push(`<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">loss (nats/token)</text>`);
  out.push(`<text x="${W - 14}" y="${(T + H - B) / 2}" transform="rotate(90 ${W - 14} ${(T + H - B) / 2})" text-anchor="middle">learning rate</text>`);
  for (const [name, v] of log.baseline) {
    out.push(`<line x1="${L}" y1="${yl(v)}" x2="${W - R}" y2="${yl(v)}" stroke="#999" stroke-dasharray="2 3"/><text x="${W - R - 4}" y="${yl(v) - 4}" text-anchor="end" fill="#666">unigram ${escapeXml(name)} ${v.toFixed(3)}</text>`);
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const y = s.axis === 'loss' ? yl : yr;
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
  }
  series.forEach((s, i) => {
    const ly = T + 10 + 16 * i;
    out.push(`<line x1="${W - R - 150}" y1="${ly}" x2="${W - R - 128}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/><text x="${W - R - 122}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[ch]!);
}
