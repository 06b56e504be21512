// A hand-written SVG bar chart of the summaries: one panel per shape, one horizontal bar per backend (median req/s)
// labelled with req/s and the ratio to bare-shared. No chart library. Not the tables (report.ts).

import type { Summary } from './summary.js';

const WIDTH = 760;
const LABEL_X = 150; // right edge of the backend names
const BAR_X = 160;
const BAR_MAX = 420;
const ROW = 24;
const COLORS: Record<string, string> = {
  product: '#2b6cb0',
  'product-express': '#4a90d9',
  'product-fetch': '#63a4e8',
  'bare-shared': '#4a5568',
  'bare-rr': '#a0aec0',
  uwsgi: '#dd6b20',
  flup: '#d69e2e',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderChart(summaries: Summary[], title: string): string {
  const shapes = [...new Set(summaries.map((s) => s.shape))];
  const out: string[] = [];
  let y = 40;
  for (const shape of shapes) {
    const rows = summaries.filter((s) => s.shape === shape).sort((a, b) => b.rps - a.rps);
    const max = Math.max(...rows.map((r) => r.rps), 1);
    out.push(`<text x="10" y="${y}" font-weight="bold">${esc(shape)}</text>`);
    y += 10;
    const top = y;
    for (const r of rows) {
      const w = Math.max(1, Math.round((r.rps / max) * BAR_MAX));
      const ratio = r.ratioToBareShared === null ? '' : ` · ${r.ratioToBareShared.toFixed(2)}×`;
      out.push(
        `<text x="${LABEL_X}" y="${y + 15}" text-anchor="end">${esc(r.backend)}</text>`,
        `<rect x="${BAR_X}" y="${y + 3}" width="${w}" height="${ROW - 6}" fill="${COLORS[r.backend] ?? '#718096'}"/>`,
        `<text x="${BAR_X + w + 6}" y="${y + 15}">${Math.round(r.rps).toLocaleString('en-US')} req/s${ratio}</text>`,
      );
      y += ROW;
    }
    const bare = rows.find((r) => r.backend === 'bare-shared');
    if (bare) {
      // The floor every backend is compared with: a dashed line at bare-shared's req/s.
      const x = BAR_X + Math.round((bare.rps / max) * BAR_MAX);
      out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${y + 2}" stroke="#1a202c" stroke-dasharray="3,3"/>`);
    }
    y += 22;
  }
  const height = y;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>
${out.join('\n')}
</svg>
`;
}
