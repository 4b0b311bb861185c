/** Line charts as inline SVG strings: no scripts, no external assets. */

export interface Series {
  name: string;
  points: Array<[number, number]>;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Log-scale x (for params such as a learning rate spanning decades). */
  logX?: boolean;
}

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];
const W = 560;
const H = 320;
const M = { left: 64, right: 16, top: 32, bottom: 48 };

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function seriesColor(index: number): string {
  return PALETTE[index % PALETTE.length];
}

/** Round tick values: 1, 2 or 5 × 10^k steps. */
function ticks(min: number, max: number, count = 5): number[] {
  if (min === max) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const label = (v: number) => String(Number(v.toPrecision(4)));

export function lineChart(spec: ChartSpec): string {
  const all = spec.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logX || x > 0));
  const head = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(spec.title)}">`;
  const title = `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeHtml(spec.title)}</text>`;
  if (all.length === 0)
    return `${head}${title}<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#777">no data</text></svg>`;
  const fx = (x: number) => (spec.logX ? Math.log10(x) : x);
  let [x0, x1] = [Math.min(...all.map(([x]) => fx(x))), Math.max(...all.map(([x]) => fx(x)))];
  let [y0, y1] = [Math.min(...all.map(([, y]) => y)), Math.max(...all.map(([, y]) => y))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const px = (x: number) => M.left + ((fx(x) - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const parts: string[] = [head, title];
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#ccc"/>`,
  );
  for (const t of ticks(y0, y1)) {
    const y = py(t).toFixed(1);
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${label(t)}</text>`,
    );
  }
  const xTicks = spec.logX
    ? ticks(Math.floor(x0), Math.ceil(x1), 4)
        .filter((t) => Number.isInteger(t) && t >= x0 - 1e-9 && t <= x1 + 1e-9)
        .map((t) => 10 ** t)
    : ticks(x0, x1);
  const seen = new Set(all.map(([x]) => x));
  for (const t of spec.logX ? [...new Set([...xTicks, ...seen])].sort((a, b) => a - b) : xTicks) {
    const x = px(t).toFixed(1);
    parts.push(`<text x="${x}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${label(t)}</text>`);
  }
  parts.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${escapeHtml(spec.xLabel)}${spec.logX ? ' (log scale)' : ''}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeHtml(spec.yLabel)}</text>`,
  );
  spec.series.forEach((series, i) => {
    const points = series.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logX || x > 0))
      .sort((a, b) => a[0] - b[0]);
    if (points.length === 0) return;
    const color = seriesColor(i);
    const d = points.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"><title>${escapeHtml(series.name)}</title></path>`,
    );
    for (const [x, y] of points)
      parts.push(
        `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"><title>${escapeHtml(`${series.name}: ${label(x)} → ${label(y)}`)}</title></circle>`,
      );
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Colour key for the series of a chart, as an HTML list. */
export function legend(names: string[]): string {
  return `<ul class="legend">${names.map((name, i) => `<li><span style="background:${seriesColor(i)}"></span>${escapeHtml(name)}</li>`).join('')}</ul>`;
}
