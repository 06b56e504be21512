// A hand-written SVG bar chart of the summaries, no chart library. Per shape two panels of horizontal bars, one per
// backend: median req/s labelled with the ratio to bare-shared (a dashed line marks bare-shared), and the backend's
// CPU µs per request (lower is better; steadier than req/s on a shared machine). Not the tables (report.ts).

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

interface Panel {
  title: string;
  value: (s: Summary) => number;
  label: (s: Summary) => string;
  descending: boolean;
}

const PANELS: Panel[] = [
  {
    title: 'req/s (median of the rounds)',
    value: (s) => s.rps,
    label: (s) => `${Math.round(s.rps).toLocaleString('en-US')} req/s${s.ratioToBareShared === null ? '' : ` · ${s.ratioToBareShared.toFixed(2)}×`}`,
    descending: true,
  },
  {
    title: 'backend CPU µs per request (lower is better)',
    value: (s) => s.backendUsPerReq,
    label: (s) => `${s.backendUsPerReq.toFixed(1)} µs`,
    descending: false,
  },
];

export function renderChart(summaries: Summary[], title: string): string {
  const shapes = [...new Set(summaries.map((s) => s.shape))];
  const under: string[] = []; // drawn first: reference lines stay behind bars and labels
  const over: string[] = [];
  let y = 44;
  for (const shape of shapes) {
    for (const panel of PANELS) {
      const rows = summaries.filter((s) => s.shape === shape && Number.isFinite(panel.value(s)));
      rows.sort((a, b) => (panel.descending ? panel.value(b) - panel.value(a) : panel.value(a) - panel.value(b)));
      if (rows.length === 0) continue;
      const max = Math.max(...rows.map(panel.value), 1e-9);
      over.push(`<text x="10" y="${y}" font-weight="bold">${esc(shape)}: ${esc(panel.title)}</text>`);
      y += 8;
      const top = y;
      for (const r of rows) {
        const w = Math.max(1, Math.round((panel.value(r) / max) * BAR_MAX));
        over.push(
          `<text x="${LABEL_X}" y="${y + 15}" text-anchor="end">${esc(r.backend)}</text>`,
          `<rect x="${BAR_X}" y="${y + 3}" width="${w}" height="${ROW - 6}" fill="${COLORS[r.backend] ?? '#718096'}"/>`,
          `<text x="${BAR_X + w + 6}" y="${y + 15}">${esc(panel.label(r))}</text>`,
        );
        y += ROW;
      }
      const bare = rows.find((r) => r.backend === 'bare-shared');
      if (bare) {
        const x = BAR_X + Math.round((panel.value(bare) / max) * BAR_MAX);
        under.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${y + 2}" stroke="#1a202c" stroke-dasharray="3,3"/>`);
      }
      y += 20;
    }
    y += 6;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>
${under.join('\n')}
${over.join('\n')}
</svg>
`;
}
