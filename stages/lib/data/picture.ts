/**
 * PNG output for reports: image grids with captions, line plots (training
 * curves) and heat-map overlays (class activation maps). Everything is drawn
 * as raw pixels or SVG and rendered by sharp (librsvg + fontconfig for text;
 * on a machine with no fonts installed the text is simply missing).
 */
import sharp from 'sharp';

const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

/** Cut a caption to about what fits in `width` pixels at `fontSize` (≈ 0.6 em per character). */
function fit(text: string, width: number, fontSize: number): string {
  const max = Math.max(1, Math.floor(width / (fontSize * 0.6)));
  return text.length <= max ? text : text.slice(0, Math.max(1, max - 1)) + '…';
}

function rawInput(pixels: Uint8Array, width: number, height: number) {
  if (pixels.length !== width * height * 3)
    throw new RangeError(`expected ${width}×${height}×3 = ${width * height * 3} bytes, got ${pixels.length}`);
  return {
    input: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.length),
    raw: { width, height, channels: 3 as const },
  };
}

/** Write one RGB raster (`width × height × 3`) as a PNG. */
export async function writeRgbPng(pixels: Uint8Array, width: number, height: number, outPath: string): Promise<void> {
  const { input, raw } = rawInput(pixels, width, height);
  await sharp(input, { raw }).png().toFile(outPath);
}

export interface GridTile {
  /** `size × size × 3` RGB. */
  pixels: Uint8Array;
  size: number;
  caption?: string;
  /** CSS colour of the caption (e.g. 'crimson' for a wrong prediction); default near-black. */
  captionColor?: string;
}

export interface GridOptions {
  title?: string;
  /** Pixels between tiles (default 6). */
  gap?: number;
}

/** Compose tiles row by row, `cols` per row, each with its caption underneath, into one PNG. */
export async function writeGrid(
  tiles: readonly GridTile[],
  cols: number,
  outPath: string,
  opts: GridOptions = {},
): Promise<void> {
  if (tiles.length === 0) throw new RangeError('writeGrid: no tiles to draw');
  if (!Number.isInteger(cols) || cols < 1)
    throw new RangeError(`writeGrid: cols must be a positive integer, got ${cols}`);
  const gap = opts.gap ?? 6;
  const cell = Math.max(...tiles.map((t) => t.size));
  const fontSize = Math.max(10, Math.min(16, Math.round(cell / 14)));
  const captionHeight = tiles.some((t) => t.caption) ? Math.round(fontSize * 1.7) : 0;
  const titleHeight = opts.title ? Math.round(fontSize * 2.4) : 0;
  const columns = Math.min(cols, tiles.length);
  const rows = Math.ceil(tiles.length / columns);
  const width = gap + columns * (cell + gap);
  const height = titleHeight + gap + rows * (cell + captionHeight + gap);

  const texts: string[] = [];
  if (opts.title) {
    texts.push(
      `<text x="${width / 2}" y="${titleHeight * 0.7}" font-family="${FONT}" font-size="${fontSize * 1.25}" font-weight="bold" text-anchor="middle" fill="#111">${escapeXml(fit(opts.title, width, fontSize * 1.25))}</text>`,
    );
  }
  const composites: sharp.OverlayOptions[] = tiles.map((t, k) => {
    const left = gap + (k % columns) * (cell + gap) + Math.floor((cell - t.size) / 2);
    const top = titleHeight + gap + Math.floor(k / columns) * (cell + captionHeight + gap);
    if (t.caption) {
      const cx = gap + (k % columns) * (cell + gap) + cell / 2;
      texts.push(
        `<text x="${cx}" y="${top + cell + fontSize * 1.25}" font-family="${FONT}" font-size="${fontSize}" text-anchor="middle" fill="${escapeXml(t.captionColor ?? '#222')}">${escapeXml(fit(t.caption, cell, fontSize))}</text>`,
      );
    }
    return { ...rawInput(t.pixels, t.size, t.size), left, top };
  });
  if (texts.length > 0) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join('')}</svg>`;
    composites.push({ input: Buffer.from(svg), left: 0, top: 0 });
  }
  await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(composites)
    .png()
    .toFile(outPath);
}

export interface LineSeries {
  name: string;
  values: readonly number[];
  /** x of each value; default 1, 2, 3, … (epochs). */
  x?: readonly number[];
  color?: string;
  dashed?: boolean;
}

export interface PlotLabels {
  title: string;
  xLabel: string;
  yLabel: string;
}

/** Round tick steps: 1, 2, 2.5, 5 × 10^k, about `count` of them over [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function formatTick(v: number): string {
  return Number(v.toPrecision(6)).toString();
}

/** An SVG line plot (axes, ticks, grid, legend) of `width × height`. */
export function linePlotSvg(series: readonly LineSeries[], labels: PlotLabels, width = 640, height = 420): string {
  const points = series.map((s) =>
    s.values
      .map((v, i) => [s.x?.[i] ?? i + 1, v] as const)
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  );
  const all = points.flat();
  if (all.length === 0) throw new RangeError(`linePlot "${labels.title}": no finite values to plot`);
  let [xMin, xMax] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [yMin, yMax] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (yMin === yMax) [yMin, yMax] = [yMin - (Math.abs(yMin) || 1) * 0.1, yMax + (Math.abs(yMax) || 1) * 0.1];
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;

  const m = { left: 70, right: 20, top: 44, bottom: 56 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => m.top + (1 - (y - yMin) / (yMax - yMin)) * ph;
  const parts: string[] = [`<rect width="${width}" height="${height}" fill="#ffffff"/>`];

  for (const t of ticks(yMin, yMax, 6)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    parts.push(
      `<text x="${m.left - 6}" y="${y}" dy="0.35em" font-family="${FONT}" font-size="12" text-anchor="end" fill="#333">${formatTick(t)}</text>`,
    );
  }
  const xTicks = ticks(xMin, xMax, 8).filter((t) => Number.isInteger(t) || xMax - xMin < 8);
  for (const t of xTicks) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    parts.push(
      `<text x="${x}" y="${m.top + ph + 18}" font-family="${FONT}" font-size="12" text-anchor="middle" fill="#333">${formatTick(t)}</text>`,
    );
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#555"/>`);

  points.forEach((pts, k) => {
    const s = series[k];
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const d = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    if (pts.length > 1) {
      parts.push(
        `<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
    }
    if (pts.length <= 60) {
      for (const [x, y] of pts)
        parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    }
  });

  // Legend in whichever inside corner covers the fewest data points.
  const lw = Math.max(...series.map((s) => s.name.length)) * 7.5 + 40;
  const lh = series.length * 18 + 8;
  const corners = [
    [m.left + pw - lw - 8, m.top + 8],
    [m.left + pw - lw - 8, m.top + ph - lh - 8],
    [m.left + 8, m.top + 8],
    [m.left + 8, m.top + ph - lh - 8],
  ] as const;
  const covered = ([cx, cy]: readonly [number, number]) =>
    all.filter(([x, y]) => sx(x) >= cx - 4 && sx(x) <= cx + lw + 4 && sy(y) >= cy - 4 && sy(y) <= cy + lh + 4).length;
  const [lx, ly] = corners.reduce((best, c) => (covered(c) < covered(best) ? c : best));
  parts.push(
    `<rect x="${lx}" y="${ly}" width="${lw}" height="${lh}" fill="#ffffff" fill-opacity="0.85" stroke="#bbb"/>`,
  );
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const y = ly + 14 + k * 18;
    parts.push(
      `<line x1="${lx + 8}" x2="${lx + 30}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    parts.push(
      `<text x="${lx + 36}" y="${y}" dy="0.35em" font-family="${FONT}" font-size="12" fill="#222">${escapeXml(s.name)}</text>`,
    );
  });

  parts.push(
    `<text x="${width / 2}" y="26" font-family="${FONT}" font-size="16" font-weight="bold" text-anchor="middle" fill="#111">${escapeXml(labels.title)}</text>`,
  );
  parts.push(
    `<text x="${m.left + pw / 2}" y="${height - 14}" font-family="${FONT}" font-size="13" text-anchor="middle" fill="#222">${escapeXml(labels.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" font-family="${FONT}" font-size="13" text-anchor="middle" fill="#222">${escapeXml(labels.yLabel)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/** One line plot as a PNG (e.g. loss and val_loss per epoch). */
export async function writeLinePlot(series: readonly LineSeries[], labels: PlotLabels, outPath: string): Promise<void> {
  await sharp(Buffer.from(linePlotSvg(series, labels)))
    .png()
    .toFile(outPath);
}

/** Several plots side by side in one PNG (e.g. loss | accuracy). */
export async function writeLinePlots(
  panels: readonly { series: readonly LineSeries[]; labels: PlotLabels }[],
  outPath: string,
): Promise<void> {
  if (panels.length === 0) throw new RangeError('writeLinePlots: no panels');
  const [w, h] = [640, 420];
  const inner = panels.map(
    (p, k) =>
      `<g transform="translate(${k * w} 0)">${linePlotSvg(p.series, p.labels, w, h).replace(/^<svg[^>]*>|<\/svg>$/g, '')}</g>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w * panels.length}" height="${h}">${inner.join('')}</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(outPath);
}

/** The classic "jet" colour map: 0 → dark blue, 0.5 → green/yellow, 1 → dark red. Components in [0, 1]. */
export function jet(v: number): [number, number, number] {
  const c = (x: number) => Math.min(1, Math.max(0, x));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1))];
}

/**
 * Blend a heat map (`h × w`, row-major, any range: min–max normalised) over a
 * `size × size × 3` image: bilinear upsampling (pixel-centre aligned), jet
 * colours, `alpha` weight of the colour. A flat map colours nothing (all 0 → blue).
 */
export function overlayHeatmap(
  pixels: Uint8Array,
  size: number,
  heat: Float32Array,
  h: number,
  w: number,
  alpha = 0.45,
): Uint8Array {
  if (pixels.length !== size * size * 3) throw new RangeError(`expected ${size}×${size}×3 bytes, got ${pixels.length}`);
  if (heat.length !== h * w) throw new RangeError(`heat map has ${heat.length} values, expected ${h}×${w} = ${h * w}`);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of heat) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi > lo ? 1 / (hi - lo) : 0;
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = jet(i / 255);
    lut[i * 3] = Math.round(r * 255);
    lut[i * 3 + 1] = Math.round(g * 255);
    lut[i * 3 + 2] = Math.round(b * 255);
  }
  const out = new Uint8Array(pixels.length);
  for (let y = 0; y < size; y++) {
    const hy = Math.min(h - 1, Math.max(0, ((y + 0.5) * h) / size - 0.5));
    const y0 = Math.floor(hy);
    const y1 = Math.min(h - 1, y0 + 1);
    const fy = hy - y0;
    for (let x = 0; x < size; x++) {
      const hx = Math.min(w - 1, Math.max(0, ((x + 0.5) * w) / size - 0.5));
      const x0 = Math.floor(hx);
      const x1 = Math.min(w - 1, x0 + 1);
      const fx = hx - x0;
      const v =
        (1 - fy) * ((1 - fx) * heat[y0 * w + x0] + fx * heat[y0 * w + x1]) +
        fy * ((1 - fx) * heat[y1 * w + x0] + fx * heat[y1 * w + x1]);
      const k = Math.round((v - lo) * scale * 255) * 3;
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) out[o + ch] = Math.round((1 - alpha) * pixels[o + ch] + alpha * lut[k + ch]);
    }
  }
  return out;
}
