import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTable, renderReport, writeReport } from '../../engine/evaluate/report.js';

const metrics = {
  popularity: { 'recall@50': 0.1234, 'ndcg@10': 0.05, 'hitrate@10': 0.3, 'recall@10': 0.04, 'coverage@10': 0.001, 'creatorDiversity@10': 0.9, users: 2000, ms: 12.5 },
  'item<Knn>': { 'recall@50': 0.2, 'ndcg@10': 0.08, 'hitrate@10': 0.4, 'recall@10': 0.07, 'coverage@10': 0.2, 'creatorDiversity@10': 0.8, users: 2000, ms: 80, extra: 1.5 },
};
const input = {
  title: 'feedrank run <1>',
  metrics,
  lossCurves: { twoTower: [1.2, 0.9, 0.7, 0.65], ranker: [0.69, 0.5, Number.NaN, 0.45], empty: [] },
  notes: { events: 123456, dataset: 'demo & co' },
};

describe('report', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('writes a self-contained report.html with charts, names and tables', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'feedrank-report-'));
    dirs.push(dir);
    const path = join(dir, 'nested', 'report.html');
    await writeReport(path, input);
    const html = await readFile(path, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect((html.match(/<svg/g) ?? []).length).toBe(5); // 2 bar charts + 3 loss curves
    expect(html).toContain('<polyline');
    expect(html).toContain('<rect');
    expect(html).toContain('popularity');
    expect(html).toContain('item&lt;Knn&gt;'); // escaped, never raw markup
    expect(html).not.toContain('item<Knn>');
    expect(html).toContain('feedrank run &lt;1&gt;');
    expect(html).toContain('demo &amp; co');
    expect(html).toContain('twoTower');
    expect(html).toContain('0.1234');
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    expect(html).not.toMatch(/url\(/i);
  });

  it('renders with no curves and no metrics', () => {
    const html = renderReport({ title: 't', metrics: {}, lossCurves: {}, notes: {} });
    expect(html).toContain('No loss curves');
    expect(html).not.toMatch(/NaN|undefined/);
  });

  it('formatTable shows the headline metrics by default', () => {
    const t = formatTable(metrics);
    expect(t.split('\n')[0]).toMatch(/^\| recommender +\| recall@50 \| +ndcg@10 \| hitrate@10 \| recall@10 \| coverage@10 \| creatorDiversity@10 \| users \| +ms \|$/);
    expect(t).not.toContain('extra');
    expect(formatTable(metrics, ['ms']).split('\n')[2]).toMatch(/^\| popularity +\| +12\.500 \|$/);
  });

  it('formatTable aligns a markdown table with headline metrics first', () => {
    const t = formatTable(metrics, 'all');
    const lines = t.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\| recommender +\| recall@50 \| +ndcg@10 \|/);
    expect(lines[0].trim().endsWith('| extra |')).toBe(true);
    expect(lines[1]).toMatch(/^\|-+\|-+:\|/);
    expect(lines[2]).toContain('0.1234');
    expect(lines[2]).toContain('2000');
    expect(lines[2]).toMatch(/\| +- \|$/); // popularity has no "extra"
    expect(new Set(lines.map((l) => l.length)).size).toBe(1); // aligned
  });
});
