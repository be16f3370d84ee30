// The report as a list of sections, rendered two ways: one self-contained HTML file (every figure
// embedded as a data URI) and Markdown for a repository (linking the PNGs under figures/).
import type { Table, Tag } from './summary.js';

export interface FigureRef {
  /** File stem under figures/: `<id>.svg` and `<id>.png`. */
  id: string;
  title: string;
  caption: string;
  /** Charts are embedded in HTML as SVG, image grids as PNG. */
  kind: 'chart' | 'image';
  svg: string;
  png: Buffer;
  /** CSS size. */
  width: number;
  height: number;
}

export type Block =
  | { kind: 'p'; text: string }
  | { kind: 'list'; items: { lead?: string; text: string }[] }
  | { kind: 'table'; table: Table; caption?: string; html?: string }
  | { kind: 'figure'; figure: FigureRef }
  | { kind: 'details'; summary: string; text: string }
  | { kind: 'subheading'; text: string };

export interface Section {
  id: string;
  title: string;
  blocks: Block[];
}

export interface ReportDocument {
  title: string;
  subtitle: string;
  sections: Section[];
}

const escapeHtml = (s: string) =>
  s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);

/** A badge: `<span class="tag tag-tta" title="...">TTA</span>`. */
export function tagHtml(tag: Tag): string {
  const slug = tag.text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return `<span class="tag tag-${slug}"${tag.title ? ` title="${escapeHtml(tag.title)}"` : ''}>${escapeHtml(tag.text)}</span>`;
}

export function tableHtml(t: Table, caption?: string): string {
  const cls = (i: number) => (t.numeric[i] ? ' class="num"' : '');
  const cell = (c: string, i: number, tags: Tag[]) => {
    if (i > 0 || tags.length === 0) return escapeHtml(c);
    // The badge says it, so the label's own " (TTA)" would repeat it.
    const label = tags.some((g) => g.text === 'TTA') ? c.replace(/ \(TTA\)$/, '') : c;
    return `${escapeHtml(label)} ${tags.map(tagHtml).join(' ')}`;
  };
  return [
    caption ? `<p class="caption">${escapeHtml(caption)}</p>` : '',
    '<div class="table-wrap"><table>',
    `<thead><tr>${t.header.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...t.rows.map((r, k) => {
      const tags = t.tags?.[k] ?? [];
      const tr = tags.length ? '<tr class="tagged">' : '<tr>';
      return `${tr}${r.map((c, i) => `<td${cls(i)}>${cell(c, i, tags)}</td>`).join('')}</tr>`;
    }),
    '</tbody></table></div>',
  ].join('\n');
}

function figureHtml(f: FigureRef): string {
  const src =
    f.kind === 'chart'
      ? `data:image/svg+xml;base64,${Buffer.from(f.svg).toString('base64')}`
      : `data:image/png;base64,${f.png.toString('base64')}`;
  return [
    `<figure id="fig-${f.id}">`,
    `<img src="${src}" width="${Math.round(f.width)}" height="${Math.round(f.height)}" alt="${escapeHtml(f.title)}">`,
    `<figcaption><b>${escapeHtml(f.title)}.</b> ${escapeHtml(f.caption)} ` +
      `<span class="files">(figures/${escapeHtml(f.id)}.svg, .png)</span></figcaption>`,
    '</figure>',
  ].join('\n');
}

function blockHtml(b: Block): string {
  switch (b.kind) {
    case 'p':
      return `<p>${escapeHtml(b.text)}</p>`;
    case 'subheading':
      return `<h3>${escapeHtml(b.text)}</h3>`;
    case 'list':
      return `<ul>${b.items.map((i) => `<li>${i.lead ? `<b>${escapeHtml(i.lead)}:</b> ` : ''}${escapeHtml(i.text)}</li>`).join('\n')}</ul>`;
    case 'table':
      return b.html ?? tableHtml(b.table, b.caption);
    case 'figure':
      return figureHtml(b.figure);
    case 'details':
      return `<details><summary>${escapeHtml(b.summary)}</summary><pre>${escapeHtml(b.text)}</pre></details>`;
  }
}

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; background: #f6f7f9;
  margin: 0; line-height: 1.5; font-size: 15px; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 32px 64px; background: white; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 22px; margin: 40px 0 12px; padding-top: 12px; border-top: 1px solid #e3e5e8; }
h3 { font-size: 17px; margin: 24px 0 8px; }
.subtitle { color: #555; margin: 0 0 16px; }
nav.toc { background: #f0f3f7; border: 1px solid #dde3ea; border-radius: 6px; padding: 8px 20px; display: inline-block; }
nav.toc ol { margin: 6px 0; padding-left: 22px; columns: 2; column-gap: 48px; }
a { color: #1f5fa8; }
.table-wrap { overflow-x: auto; margin: 12px 0; }
table { border-collapse: collapse; font-size: 14px; }
p.caption { color: #555; font-size: 14px; margin: 12px 0 4px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e3e5e8; text-align: left; white-space: nowrap; }
/* Headers may wrap ("Epochs (best)" on two lines), so that a wide table still fits a 1200 px window. */
th { background: #f0f3f7; font-weight: 600; white-space: normal; vertical-align: bottom; }
.tag { display: inline-block; font-size: 11px; font-weight: 600; line-height: 16px; padding: 0 6px; margin-left: 2px;
  border-radius: 8px; vertical-align: 1px; border: 1px solid; }
.tag-ensemble { background: #e6f4ea; color: #1e6b3a; border-color: #b5dcc1; }
.tag-tta { background: #f1eafa; color: #5b3a8c; border-color: #d6c6ee; }
tr.tagged td:first-child { box-shadow: inset 3px 0 #9aa6b2; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:hover td { background: #fafbfc; }
th.group { text-align: center; border-left: 1px solid #dde3ea; }
tr.avg td { background: #f7f8fa; }
tr.avg td:first-child { font-weight: 600; }
table.per-class tr:nth-last-child(2) td { border-top: 2px solid #cfd5dc; }
figure { margin: 16px 0 28px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e5e8; }
figcaption { color: #444; font-size: 14px; margin-top: 6px; max-width: 1000px; }
.files { color: #888; }
ul li { margin: 4px 0; }
details { margin: 8px 0; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 13px; white-space: pre-wrap; }
`;

export function renderHtml(doc: ReportDocument): string {
  const toc = doc.sections.map((s) => `<li><a href="#${s.id}">${escapeHtml(s.title)}</a></li>`).join('\n');
  const body = doc.sections
    .map((s) =>
      [`<section id="${s.id}">`, `<h2>${escapeHtml(s.title)}</h2>`, ...s.blocks.map(blockHtml), '</section>'].join(
        '\n',
      ),
    )
    .join('\n\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${escapeHtml(doc.title)}</h1>
<p class="subtitle">${escapeHtml(doc.subtitle)}</p>
<nav class="toc" aria-label="Contents"><b>Contents</b>
<ol>
${toc}
</ol>
</nav>
${body}
</main>
</body>
</html>
`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function tableMarkdown(t: Table): string {
  const align = t.header.map((_, i) => (t.numeric[i] ? '---:' : ':---'));
  return [
    `| ${t.header.map(mdCell).join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ].join('\n');
}

function blockMarkdown(b: Block): string {
  switch (b.kind) {
    case 'p':
      return b.text;
    case 'subheading':
      return `### ${b.text}`;
    case 'list':
      return b.items.map((i) => `- ${i.lead ? `**${i.lead}:** ` : ''}${i.text}`).join('\n');
    case 'table':
      return (b.caption ? `${b.caption}\n\n` : '') + tableMarkdown(b.table);
    case 'figure':
      return `![${b.figure.title}](figures/${b.figure.id}.png)\n\n*${b.figure.title}.* ${b.figure.caption} ([SVG](figures/${b.figure.id}.svg))`;
    case 'details':
      return `<details><summary>${b.summary}</summary>\n\n\`\`\`\n${b.text}\n\`\`\`\n\n</details>`;
  }
}

/** Markdown anchors as GitHub makes them from a heading. */
export const githubAnchor = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

export function renderMarkdown(doc: ReportDocument): string {
  const toc = doc.sections.map((s, i) => `${i + 1}. [${s.title}](#${githubAnchor(s.title)})`).join('\n');
  const body = doc.sections.map((s) => [`## ${s.title}`, ...s.blocks.map(blockMarkdown)].join('\n\n')).join('\n\n');
  return `# ${doc.title}\n\n${doc.subtitle}\n\n## Contents\n\n${toc}\n\n${body}\n`;
}
