"""The performance story as a web page: ``<report>/performance_story.html``, linked first from the report's index.

It lays out the :class:`~evaluation.report.contents.Story`: the title block, the executive summary, the findings
grouped by section, per section its figures (captions, alt text) and labelled tables, methods and limitations,
and the links to the funder pack. :mod:`.story_docx` lays out the same story as a Word file.

Printed (Letter or A4, the reader's printer decides: no page size is fixed), nothing is clipped: a table too
wide for a portrait page goes on a landscape page at a smaller font, and one too wide even for that is printed
in parts of columns, each repeating the row labels (on screen it stays one table that scrolls). Figures and
table rows are never split across pages, headings stay with what follows, and the pack's links are not printed.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

from evaluation.core.outputs import atomic_write
from evaluation.core.params import Params

from .contents import STORY_FILE, Story, StoryFigure, StoryTable, docx_name, pdf_name, slides_name, workbook_name, zip_name
from .funder import FUNDER_DIR

esc = html.escape

# Characters across a printed row (print_width) that fit the narrower of Letter and A4 with 18 mm margins
# (portrait 174 mm, A4; landscape 243 mm, Letter), at each table font: measured in Chromium with DejaVu Sans
# (no cell overflowing up to 110 / 120 / 170 / 190 / 220 characters), less a tenth. Wider than the last, a
# table is printed in parts of columns (PART_FIT).
PRINT_FITS = (("portrait", "f9", 100), ("portrait", "f8", 110), ("landscape", "f8", 150), ("landscape", "f7", 172),
              ("landscape", "f6", 198))
PART_FIT = PRINT_FITS[3]  # each part of a split table: landscape at 7 pt
PROSE_CHARS = 36  # a text column with longer cells (and spaces in them) wraps at this width in print
LEAD_COLUMNS = 2  # at most this many leading text columns (row labels) repeat in each printed part of a wide table
_NUMBER = re.compile("^(?:[\u2212+-]?[$]?[\\d,]*\\.?\\d+%?|<\\s?\\d+(?:\\.\\d+)?|\\*|\u2013|-)$")  # 1,234 / −0.8 / 12% / <11 / * / –

STYLE = """
body { font-family: system-ui, "DejaVu Sans", sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
.muted { color: #666; font-size: 0.9em; }
header.title { border-bottom: 2px solid #1f4e79; padding-bottom: 0.8rem; margin-bottom: 1.2rem; }
header.title .kicker { text-transform: uppercase; letter-spacing: 0.08em; color: #1f4e79; font-size: 0.85em; margin: 0; }
header.title h1 { margin: 0.2rem 0 0.4rem; }
nav.contents { font-size: 0.9em; } nav.contents a { margin-right: 0.8em; white-space: nowrap; }
ul.summary li { margin-bottom: 0.35rem; }
.group h3 { margin-bottom: 0.2rem; } .group ul { margin-top: 0.2rem; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; max-height: 80vh; border: 1px solid #ddd; }
figcaption, caption { font-size: 0.9em; margin-top: 0.3rem; text-align: left; caption-side: top; }
caption { margin-bottom: 0.3rem; }
.table-block { margin: 1.2rem 0; overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 0.85em; }
table.data th, table.data td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: left; vertical-align: top; }
table.data th { background: #f3f3f3; font-weight: 600; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data th.num { white-space: normal; }
.print-parts { display: none; }
dl.methods dt { font-weight: 600; margin-top: 0.5rem; } dl.methods dd { margin-left: 1.2rem; }

@page { margin: 18mm; }
@page wide { size: landscape; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; line-height: 1.35; }
  a { color: inherit; text-decoration: none; }
  .no-print, nav.contents, section.pack { display: none !important; }
  h1, h2, h3, caption, figcaption.lead { break-after: avoid; page-break-after: avoid; }
  h2 { margin-top: 1.2em; }
  figure, .group, dl.methods div, ul.summary li, tr { break-inside: avoid; page-break-inside: avoid; }
  figure img { display: block; max-width: 100%; max-height: 92mm; width: auto; height: auto; margin: 0 auto; }
  figcaption { font-size: 8.5pt; }
  .table-block { overflow: visible; margin: 0.8em 0; }
  .table-block.landscape { page: wide; }
  table.data { width: var(--print-width, 100%); table-layout: fixed; }
  table.data th, table.data td { overflow-wrap: anywhere; padding: 1.5pt 3pt; }
  table.data .num { white-space: normal; }
  thead { display: table-header-group; }
  .f9 table.data { font-size: 8.5pt; } .f8 table.data { font-size: 8pt; }
  .f7 table.data { font-size: 7pt; } .f6 table.data { font-size: 6pt; }
  .table-block.split > table.screen { display: none; }
  .table-block.split > .print-parts { display: block; }
  .print-parts table.data { break-inside: avoid; } .print-parts table.data + table.data { margin-top: 1em; }
}
"""


def pack_links(params: Params) -> list[tuple[str, str]]:
    """(what, file relative to the report folder) of every document of the funder pack, in the order the page
    lists them (the tables' CSVs follow)."""
    return [("Performance story (PDF)", f"{FUNDER_DIR}/{pdf_name(params)}"),
            ("Performance story (Word)", f"{FUNDER_DIR}/{docx_name(params)}"),
            ("Funder tables, one sheet each (Excel)", f"{FUNDER_DIR}/{workbook_name(params)}"),
            ("Headline findings, one slide each (PowerPoint)", f"{FUNDER_DIR}/{slides_name(params)}"),
            ("Every figure (PNG, SVG, PDF) with the manifest (zip)", f"{FUNDER_DIR}/{zip_name(params)}")]


def numeric_columns(t: StoryTable) -> list[bool]:
    """Which columns hold numbers (right-aligned): those the story marks numeric, and those whose every cell
    reads as a number, a suppression mark or a dash (with at least one digit)."""
    out = []
    for i, c in enumerate(t.columns):
        cells = [r[i].strip() for r in t.rows]
        looks = bool(cells) and all(_NUMBER.match(x) for x in cells) and any(ch.isdigit() for x in cells for ch in x)
        out.append(bool(c.numeric) or looks)
    return out


def _need(t: StoryTable, i: int) -> int:
    """Characters column ``i`` needs across: its longest header word or cell, two for padding, as
    ``StoryTable.text_width`` counts them, except that a header word counts a fifth more (bold letters are wider
    than digits) and a column of prose (a quote, a theme's exemplar) wraps at :data:`PROSE_CHARS`."""
    c = t.columns[i]
    word = math.ceil(1.2 * len(max(c.heading.split() or [""], key=len)))
    cells = [r[i] for r in t.rows]
    longest = max((len(x) for x in cells), default=1)
    if any(len(x) > PROSE_CHARS and " " in x for x in cells):
        longest = max(PROSE_CHARS, *(len(w) for x in cells for w in x.split()))
    return max(word, longest) + 2


def print_width(t: StoryTable) -> int:
    """Characters across a printed row of ``t`` (the sum of :func:`_need`)."""
    return sum(_need(t, i) for i in range(len(t.columns)))


def print_fit(t: StoryTable) -> tuple[str, str]:
    """(page, font class) the printed table fits at, or ("landscape", "split") when it fits no page whole."""
    width = print_width(t)
    for page, font, chars in PRINT_FITS:
        if width <= chars:
            return page, font
    return "landscape", "split"


def column_parts(t: StoryTable, chars: int = PART_FIT[2]) -> list[list[int]]:
    """The columns of each printed part of a table too wide for a landscape page: the leading text columns
    (row labels) in every part, the others in order, in as few parts as fit ``chars`` across, of even widths."""
    numeric = numeric_columns(t)
    lead = []
    for i in range(min(LEAD_COLUMNS, len(t.columns) - 1)):
        if numeric[i]:
            break
        lead.append(i)
    room = max(chars - sum(_need(t, i) for i in lead), 1)
    rest = list(range(len(lead), len(t.columns)))
    target = sum(_need(t, i) for i in rest) / max(math.ceil(sum(_need(t, i) for i in rest) / room), 1)
    parts: list[list[int]] = []
    width = 0
    for i in rest:
        need = _need(t, i)
        if not parts or width + need > room or width + need / 2 > target:
            parts.append([])
            width = 0
        parts[-1].append(i)
        width += need
    return [lead + p for p in parts] or [lead]


def _table_html(t: StoryTable, cols: list[int], caption: str, chars: int, cls: str = "") -> str:
    """One ``<table>`` of the columns ``cols`` of ``t``, with its caption and column widths; printed, it is as
    wide as its characters take of the ``chars`` that fit across the page (no wider than the page)."""
    numeric = numeric_columns(t)
    need = [_need(t, i) for i in cols]
    total = sum(need) or 1
    num = {i: ' class="num"' if numeric[i] else "" for i in cols}
    head = "".join(f'<th scope="col"{num[i]}>{esc(t.columns[i].heading)}</th>' for i in cols)
    body = "".join("<tr>" + "".join(f"<td{num[i]}>{esc(r[i])}</td>" for i in cols) + "</tr>" for r in t.rows)
    widths = "".join(f'<col style="width:{100 * n / total:.1f}%">' for n in need)
    share = min(100, math.ceil(100 * total / chars / 0.8))  # room to spare: a fifth of the page
    return (f'<table class="{f"data {cls}".strip()}" style="--print-width:{share}%"><caption>{caption}</caption>'
            f"<colgroup>{widths}</colgroup><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _fit_chars(page: str, font: str) -> int:
    """The characters across a printed row at ``page`` and ``font`` (:data:`PRINT_FITS`; a split table's
    screen version is not printed)."""
    return next((c for p, f, c in PRINT_FITS if (p, f) == (page, font)), PART_FIT[2])


def _table(t: StoryTable) -> str:
    """A story table: one table on screen (it scrolls when wide); printed on the page it fits, or in parts."""
    page, font = print_fit(t)
    title = f"<b>Table {t.number}. {esc(t.title)}.</b> {esc(t.note)}".rstrip()
    caption = f'{title} <a class="no-print" href="{esc(t.csv)}">CSV</a>'
    out = [f'<div class="table-block {page} {font}" id="table-{esc(t.name)}">',
           _table_html(t, list(range(len(t.columns))), caption, _fit_chars(page, font), "screen")]
    if font == "split":
        parts = column_parts(t)
        out.append(f'<div class="print-parts {PART_FIT[1]}">')
        for k, cols in enumerate(parts, 1):
            label = (f"<b>Table {t.number} (part {k} of {len(parts)}). {esc(t.title)}.</b> "
                     + (esc(t.note) if k == 1 else "Continued: the row labels repeat."))
            out.append(_table_html(t, cols, label, PART_FIT[2]))
        out.append("</div>")
    out.append("</div>")
    return "".join(out)


def _figure(f: StoryFigure) -> str:
    files = " ".join(f'<a href="{esc(x)}">{esc(x.rsplit(".", 1)[-1].upper())}</a>' for x in f.files)
    source = f.png or next((x for x in f.files if x.endswith(".svg")), "")
    image = f'<img src="{esc(source)}" alt="{esc(f.alt_text)}">' if source else ""
    return (f'<figure id="{esc(f.figure_id)}">{image}'
            f"<figcaption><b>Figure {f.number}. {esc(f.title)}.</b> {esc(f.caption)} "
            f'<span class="muted no-print">[{files}]</span></figcaption></figure>')


def _title_block(params: Params, story: Story) -> str:
    prepared = (params.report or {}).get("prepared_by")
    who = f" &middot; prepared by {esc(str(prepared))}" if prepared else ""
    return (f'<header class="title"><p class="kicker">Performance story</p><h1>{esc(story.title)}</h1>'
            f'<p>Cohort {esc(story.cohort_id)} &middot; data as of {esc(story.as_of)}{who}</p>'
            '<p class="muted">Every number is computed from the cohort\'s tables by the evaluation workbench.</p>'
            f'<p class="muted">{esc(story.disclosure_note)}</p></header>')


def _contents(story: Story) -> str:
    links = [("summary", "Summary"), ("findings", "Key findings"), *((s.key, s.heading) for s in story.sections),
             ("methods", "Methods and limitations"), ("pack", "Funder pack")]
    return '<nav class="contents" aria-label="Contents">' + " ".join(
        f'<a href="#{esc(k)}">{esc(h)}</a>' for k, h in links) + "</nav>"


def _summary(story: Story) -> str:
    if not story.summary:
        return ""
    items = []
    for h in story.summary:
        fig = story.figure(h.figure_id)
        see = f' <a href="#{esc(fig.figure_id)}">(Figure {fig.number})</a>' if fig else ""
        items.append(f"<li>{esc(h.text)}{see}</li>")
    return f'<section id="summary"><h2>Executive summary</h2><ul class="summary">{"".join(items)}</ul></section>'


def _findings(story: Story) -> str:
    groups = [f'<div class="group"><h3>{esc(g.heading)}</h3><ul>'
              + "".join(f"<li>{esc(s)}</li>" for s in g.sentences) + "</ul></div>"
              for g in story.findings if g.sentences]
    return f'<section id="findings"><h2>Key findings</h2>{"".join(groups)}</section>' if groups else ""


def _methods(story: Story) -> str:
    notes = "".join(f"<div><dt>{esc(m.label)}</dt><dd>{esc(m.text)}</dd></div>" for m in story.methods)
    limits = "".join(f"<li>{esc(x)}</li>" for x in story.limitations)
    return ('<section id="methods"><h2>Methods and limitations</h2>'
            + (f'<dl class="methods">{notes}</dl>' if notes else "")
            + (f"<h3>Limitations</h3><ul>{limits}</ul>" if limits else "") + "</section>")


def _pack(params: Params, story: Story) -> str:
    docs = "".join(f'<li><a href="{esc(f)}">{esc(what)}</a></li>' for what, f in pack_links(params))
    csvs = ", ".join(f'<a href="{FUNDER_DIR}/{esc(n)}.csv">{esc(n)}</a>' for n in story.table_names)
    return (f'<section id="pack" class="pack"><h2>Funder pack</h2><p>{esc(story.disclosure_note)}</p>'
            f"<ul>{docs}" + (f"<li>Tables (CSV, every row and column): {csvs}</li>" if csvs else "") + "</ul></section>")


def story_page(params: Params, story: Story) -> str:
    """The page's HTML."""
    parts = [_title_block(params, story), _contents(story), _summary(story), _findings(story)]
    for section in story.sections:
        parts.append(f'<section id="{esc(section.key)}"><h2>{esc(section.heading)}</h2>')
        parts += [_figure(f) for f in section.figures]
        parts += [_table(t) for t in section.tables]
        parts.append("</section>")
    parts += [_methods(story), _pack(params, story)]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(story.title)}: performance story</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style></head><body>
{chr(10).join(p for p in parts if p)}
</body></html>
"""


def write_story_html(params: Params, story: Story) -> Path:
    """Write ``<report>/performance_story.html``; return its path."""
    path = params.output_dir / STORY_FILE
    atomic_write(path, story_page(params, story).encode("utf-8"))
    return path
