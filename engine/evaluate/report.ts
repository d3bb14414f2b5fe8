/**
 * The training report: one self-contained `report.html` (inline CSS and hand-made inline SVG, no
 * scripts, no external assets, so it opens anywhere, offline, and can be attached to a run), and a
 * plain-text table of the same metrics for the terminal.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface ReportInput {
  readonly title: string;
  /** Recommender name → metric name → value. */
  readonly metrics: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Curve name → value per step (e.g. per epoch). */
  readonly lossCurves: Readonly<Record<string, readonly number[]>>;
  readonly notes: Readonly<Record<string, string | number>>;
}

/** Metrics shown first in tables, in this order; any others follow in first-seen order. */
export const HEADLINE_METRICS: readonly string[] = [
  'recall@50',
  'ndcg@10',
  'hitrate@10',
  'recall@10',
  'coverage@10',
  'creatorDiversity@10',
  'users',
  'ms',
];

/** Bar charts: accuracy metrics on one scale, beyond-accuracy metrics on another. */
const ACCURACY_CHART = ['recall@10', 'recall@50', 'ndcg@10', 'hitrate@10'];
const BEYOND_CHART = ['coverage@10', 'creatorDiversity@10'];

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Column order: headline metrics present, then the rest in first-seen order. */
function metricColumns(metrics: ReportInput['metrics']): string[] {
  const seen = new Set<string>();
  for (const row of Object.values(metrics)) for (const key of Object.keys(row)) seen.add(key);
  const cols = HEADLINE_METRICS.filter((m) => seen.has(m));
  for (const key of seen) if (!cols.includes(key)) cols.push(key);
  return cols;
}

/** Integers as is, others with 4 significant decimals; missing or non-finite as "-". */
function formatNumber(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(1) : a >= 1 ? x.toFixed(3) : x.toFixed(4);
}

/**
 * The metrics as a markdown table (also readable as plain text): one row per recommender, cells
 * padded to align. Columns: the headline metrics present (default), `'all'` (headline first, then
 * the rest), or an explicit list.
 */
export function formatTable(metrics: ReportInput['metrics'], columns: readonly string[] | 'all' | 'headline' = 'headline'): string {
  const all = metricColumns(metrics);
  const headline = all.filter((c) => HEADLINE_METRICS.includes(c));
  const cols = columns === 'all' ? all : columns === 'headline' ? (headline.length > 0 ? headline : all) : columns;
  const header = ['recommender', ...cols];
  const rows = Object.entries(metrics).map(([name, row]) => [name, ...cols.map((c) => formatNumber(row[c]))]);
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A "nice" tick step ≥ x: 1, 2, 2.5 or 5 times a power of ten. */
function niceStep(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 2.5, 5]) if (m * p >= x * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/** Ticks covering [lo, hi] with about `count` nice steps. */
function niceTicks(lo: number, hi: number, count: number): number[] {
  const step = niceStep((hi - lo) / count);
  const start = Math.floor(lo / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let t = start; t < hi + step * (1 - 1e-9); t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Short bar label: 3 significant digits. */
const fmtShort = (x: number) => String(Number(x.toPrecision(3)));

const fmtTick = (x: number) => (Math.abs(x) >= 1000 || (Math.abs(x) < 0.001 && x !== 0) ? x.toExponential(1) : String(Number(x.toPrecision(3))));

/** A line plot of one curve over its steps (non-finite values are skipped). */
export function lineChartSvg(name: string, values: readonly number[], color = PALETTE[0]): string {
  const W = 460;
  const H = 240;
  const m = { l: 56, r: 16, t: 28, b: 36 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const pts = values.map((y, x) => [x, y] as const).filter(([, y]) => Number.isFinite(y));
  const parts: string[] = [];
  parts.push(`<svg class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(name)}">`);
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" class="title">${escapeHtml(name)}</text>`);
  if (pts.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="muted">no data</text></svg>`);
    return parts.join('');
  }
  let lo = Math.min(...pts.map((p) => p[1]));
  let hi = Math.max(...pts.map((p) => p[1]));
  if (hi === lo) {
    const pad = Math.abs(hi) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const yTicks = niceTicks(lo, hi, 4);
  lo = yTicks[0];
  hi = yTicks[yTicks.length - 1];
  const xMax = Math.max(1, values.length - 1);
  const sx = (x: number) => m.l + (x / xMax) * pw;
  const sy = (y: number) => m.t + ph - ((y - lo) / (hi - lo)) * ph;
  parts.push(`<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" class="axis"/>`);
  parts.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + ph}" class="axis"/>`);
  for (const y of yTicks) {
    const py = sy(y).toFixed(1);
    parts.push(`<line x1="${m.l}" y1="${py}" x2="${m.l + pw}" y2="${py}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" class="tick">${fmtTick(y)}</text>`);
  }
  const xStep = Math.max(1, Math.ceil(niceStep(xMax / 6)));
  for (let x = 0; x <= xMax; x += xStep) {
    parts.push(`<text x="${sx(x).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle" class="tick">${x}</text>`);
  }
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 4}" text-anchor="middle" class="muted">step</text>`);
  const d = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
  parts.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
  if (pts.length <= 60) for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Grouped bars: one group per metric, one bar per recommender, a shared legend; values labelled. */
export function groupedBarChartSvg(title: string, metrics: ReportInput['metrics'], metricNames: readonly string[]): string {
  const recs = Object.keys(metrics);
  const names = metricNames.filter((mn) => recs.some((r) => Number.isFinite(metrics[r][mn])));
  const groupW = Math.max(60, recs.length * 22 + 20);
  const m = { l: 52, r: 16, t: 64, b: 44 }; // tall top margin: rotated value labels
  const W = Math.max(m.l + m.r + Math.max(1, names.length) * groupW, 300);
  const legendCols = Math.max(1, Math.floor((W - m.l - m.r) / 110));
  const legendH = 18 * Math.ceil(recs.length / legendCols);
  const H = 300 + legendH;
  const ph = H - m.t - m.b - legendH;
  const parts: string[] = [];
  parts.push(`<svg class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">`);
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" class="title">${escapeHtml(title)}</text>`);
  if (names.length === 0 || recs.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="muted">no data</text></svg>`);
    return parts.join('');
  }
  let max = 0;
  for (const r of recs) for (const mn of names) if (Number.isFinite(metrics[r][mn])) max = Math.max(max, metrics[r][mn]);
  const yTicks = niceTicks(0, max > 0 ? max : 1, 4);
  const top = yTicks[yTicks.length - 1];
  const sy = (y: number) => m.t + ph - (Math.max(0, y) / top) * ph;
  for (const y of yTicks) {
    const py = sy(y).toFixed(1);
    parts.push(`<line x1="${m.l}" y1="${py}" x2="${W - m.r}" y2="${py}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" class="tick">${fmtTick(y)}</text>`);
  }
  const barW = (groupW - 20) / recs.length;
  names.forEach((mn, g) => {
    const gx = m.l + g * groupW + 10;
    recs.forEach((r, i) => {
      const val = metrics[r][mn];
      if (!Number.isFinite(val)) return;
      const x = gx + i * barW;
      const y = sy(val);
      const h = m.t + ph - y;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeHtml(`${r} ${mn} = ${formatNumber(val)}`)}</title></rect>`,
      );
      const lx = x + (barW - 2) / 2;
      parts.push(`<text x="${lx.toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="start" transform="rotate(-60 ${lx.toFixed(1)} ${(y - 3).toFixed(1)})" class="val">${fmtShort(val)}</text>`);
    });
    parts.push(`<text x="${(gx + (groupW - 20) / 2).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle" class="tick">${escapeHtml(mn)}</text>`);
  });
  parts.push(`<line x1="${m.l}" y1="${m.t + ph}" x2="${W - m.r}" y2="${m.t + ph}" class="axis"/>`);
  recs.forEach((r, i) => {
    const lx = m.l + (i % legendCols) * 110;
    const ly = m.t + ph + 32 + Math.floor(i / legendCols) * 18;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/>`);
    parts.push(`<text x="${lx + 14}" y="${ly}" class="tick">${escapeHtml(r)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function htmlTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f6f6f6}tbody th{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart{background:#fcfcfc;border:1px solid #eee}
.chart .title{font-weight:600;font-size:13px}.chart .tick{font-size:11px;fill:#444}.chart .val{font-size:10px;fill:#333}
.chart .muted,.muted{fill:#888;color:#888;font-size:12px}
.chart .axis{stroke:#888}.chart .grid{stroke:#eee}
`;

/** Renders the report as one HTML string (no external references). */
export function renderReport(input: ReportInput): string {
  const cols = metricColumns(input.metrics);
  const metricRows = Object.entries(input.metrics).map(([name, row]) => [name, ...cols.map((c) => formatNumber(row[c]))]);
  const curves = Object.entries(input.lossCurves);
  const noteRows = Object.entries(input.notes).map(([k, v]) => [k, typeof v === 'number' ? formatNumber(v) : v]);
  const lossSection =
    curves.length === 0
      ? '<p class="muted">No loss curves recorded.</p>'
      : `<div class="charts">${curves.map(([name, vals], i) => lineChartSvg(name, vals, PALETTE[i % PALETTE.length])).join('\n')}</div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(input.title)}</h1>
<h2>Offline evaluation</h2>
<div class="charts">
${groupedBarChartSvg('Accuracy (hold-out day)', input.metrics, ACCURACY_CHART)}
${groupedBarChartSvg('Coverage and diversity of the top 10', input.metrics, BEYOND_CHART)}
</div>
${htmlTable(['recommender', ...cols], metricRows)}
<h2>Training loss</h2>
${lossSection}
<h2>Notes</h2>
${noteRows.length ? htmlTable(['', 'value'], noteRows) : '<p class="muted">None.</p>'}
</body>
</html>
`;
}

/** Writes the report to `path` (creating its directory). */
export async function writeReport(path: string, input: ReportInput): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderReport(input), 'utf8');
}
