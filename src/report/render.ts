// The one renderer: Vega-Lite spec -> Vega -> SVG (vega's headless view, no canvas) -> PNG (resvg).
// Raster figures (image grids) come in as PNGs and get an SVG that embeds them, so every figure has both.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import { PNG } from 'pngjs';
import { CHART_FONT, textWidthPx } from './fonts.js';

/** PNGs are drawn at twice the SVG's size so they stay sharp on high-density screens. */
export const PNG_SCALE = 2;

export interface RenderedFigure {
  svg: string;
  png: Buffer;
  /** Size of the SVG in CSS pixels; the PNG is PNG_SCALE times this (or the raster's own size). */
  width: number;
  height: number;
  pngWidth: number;
  pngHeight: number;
}

interface TextItem {
  fontSize?: number;
  fontWeight?: unknown;
  limit?: number;
}

// Vega's text layout without a canvas: measure with DejaVu Sans' real advance widths.
const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics;
metrics.width = (item: TextItem, text: unknown) => {
  const s = text == null ? '' : String(text).trim();
  const size = item.fontSize != null ? +item.fontSize || 0 : 11;
  return textWidthPx(s, size, item.fontWeight);
};

/** Vega-Lite config shared by every chart: one font, readable sizes, white background. */
export const CHART_CONFIG = {
  font: CHART_FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#555', anchor: 'start', offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'bold', labelColor: '#333', titleColor: '#222' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  header: { labelFontSize: 13, labelFontWeight: 'bold', titleFontSize: 13 },
  view: { stroke: '#ccc' },
} as const;

function svgSize(svg: string): { width: number; height: number } {
  const head = svg.slice(0, svg.indexOf('>') + 1);
  const width = Number(/\swidth="([\d.]+)"/.exec(head)?.[1]);
  const height = Number(/\sheight="([\d.]+)"/.exec(head)?.[1]);
  if (!(width > 0 && height > 0)) throw new Error('rendered SVG has no width/height');
  return { width, height };
}

/** SVG -> PNG through resvg, with system fonts and DejaVu Sans as the default family. */
export function svgToPng(svg: string, scale = PNG_SCALE): { png: Buffer; width: number; height: number } {
  const r = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: CHART_FONT, sansSerifFamily: CHART_FONT },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
  });
  const img = r.render();
  return { png: img.asPng(), width: img.width, height: img.height };
}

/** Renders a Vega-Lite spec to SVG and PNG. The spec's own config wins over CHART_CONFIG. */
export async function renderChart(spec: TopLevelSpec): Promise<RenderedFigure> {
  const withConfig = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(withConfig).spec), { renderer: 'none' });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const { width, height } = svgSize(svg);
  const { png, width: pngWidth, height: pngHeight } = svgToPng(svg);
  return { svg, png, width, height, pngWidth, pngHeight };
}

const escapeXml = (s: string) =>
  s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

/** A raster figure (pngjs image) as PNG bytes plus an SVG of the same size that embeds them. */
export function rasterFigure(image: PNG, title: string): RenderedFigure {
  const png = PNG.sync.write(image);
  const { width, height } = image;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" ` +
    `width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<title>${escapeXml(title)}</title>` +
    `<image width="${width}" height="${height}" style="image-rendering:pixelated" ` +
    `xlink:href="data:image/png;base64,${png.toString('base64')}"/></svg>\n`;
  return { svg, png, width, height, pngWidth: width, pngHeight: height };
}
