// Text widths for DejaVu Sans, the font every chart is drawn in (vega lays out; resvg draws).
// Vega measures labels with a canvas, which Node lacks, and otherwise guesses 0.8 em per character,
// which leaves gaps and misplaced legends; these advance widths (per 1000 em, read from DejaVuSans.ttf
// and DejaVuSans-Bold.ttf 2.37 for ASCII 32..126) let it lay text out as resvg will draw it.

export const CHART_FONT = 'DejaVu Sans';

// prettier-ignore
const REGULAR = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636, 636,
  636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787,
  603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635,
  634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
];
// prettier-ignore
const BOLD = [
  348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696, 696,
  696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850,
  733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716,
  712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
];
/** A few non-ASCII characters the charts use (arrows, ellipsis, minus, times); the same in both weights. */
const OTHER: Record<string, number> = { '\u2192': 838, '\u2026': 1000, '\u2212': 838, '\u00d7': 838 };

const isBold = (weight: unknown) =>
  weight === 'bold' || weight === 'bolder' || (typeof weight === 'number' && weight >= 600) || Number(weight) >= 600;

/** Width in pixels of `text` set in DejaVu Sans at `fontSize` px. */
export function textWidthPx(text: string, fontSize: number, weight: unknown = 'normal'): number {
  const table = isBold(weight) ? BOLD : REGULAR;
  let em = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 32;
    em += c >= 32 && c < 127 ? table[c - 32] : (OTHER[ch] ?? 1000);
  }
  return (em / 1000) * fontSize;
}
