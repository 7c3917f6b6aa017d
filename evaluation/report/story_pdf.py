"""The performance story as a PDF for funders: ``funder/<cohort>_performance_story.pdf``.

It lays out the same :class:`~evaluation.report.contents.Story` as the page and the DOCX: a title page, the
executive summary, the findings grouped by section, every section with its figures (vector SVG, alt text,
caption under it) and tables, then methods and limitations. Typst (its Python binding, in the lock) typesets
it, so a fresh machine needs nothing else.

Every text of the story reaches Typst as data (one JSON value in ``sys.inputs``), never as markup, so a
caption holding ``#``, ``$``, ``*`` or ``//`` prints as written. The only fonts are matplotlib's bundled
DejaVu Sans (system fonts are ignored): the same story gives the same bytes on every machine, with every
font embedded. The document carries no date but the data's as-of date in its text.

Tables are sized here, from the same metrics Typst sets them with: each column gets its share of the width
(:meth:`~evaluation.report.contents.StoryTable.widths`) but never less than its longest word, so no cell
spills into the next. A table wider than a portrait page goes on a landscape page; one too wide for that is
split into parts of columns, each repeating the leading label columns. Header rows repeat on every page.
"""

from __future__ import annotations

import json
import re
import struct
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import matplotlib
import typst
from fontTools.ttLib import TTFont

from evaluation.core.outputs import atomic_write
from evaluation.core.params import Params

from .contents import Story, StoryFigure, StorySection, StoryTable, pdf_name
from .funder import FUNDER_DIR

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"  # DejaVu Sans ships with matplotlib (in the lock)
FONT = "DejaVu Sans"
FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}  # bold? -> file, for measuring cells
PAPERS = {"letter": (612.0, 792.0), "a4": (595.28, 841.89)}  # params.report["paper"] -> page size (pt)
TYPST_PAPERS = {"letter": "us-letter", "a4": "a4"}
MARGIN_PT = 54.0  # 0.75 in on every side
TABLE_FONT_PT = 7.0
CELL_INSET_PT = 3.0  # left and right padding of a table cell
WIDTH_SLACK = 1.04  # kerning and rounding: a word is given 4% more than its summed advances
PORTRAIT_CHARS = 110  # StoryTable.text_width above this, a table whose cells would wrap goes on a landscape page
NOWRAP_PT = 48.0  # a column this narrow unwrapped (about 12 characters) is never wrapped: "< 0.001" stays on a line
MAX_LABEL_COLUMNS = 2  # leading text columns repeated in every part of a split table
FIGURE_HEIGHT_SHARE = 0.72  # a figure is at most this share of the text height (its caption needs the rest)


@lru_cache(maxsize=None)
def _advances(bold: bool) -> tuple[dict[int, int], int, int]:
    """The font's advance width per code point, its units per em and the width of a missing glyph."""
    with TTFont(FONT_DIR / FONT_FILES[bold]) as font:
        metrics = font["hmtx"].metrics
        widths = {cp: metrics[glyph][0] for cp, glyph in font.getBestCmap().items()}
        return widths, font["head"].unitsPerEm, metrics[".notdef"][0]


def text_width(text: str, size: float = TABLE_FONT_PT, *, bold: bool = False) -> float:
    """How wide ``text`` sets in DejaVu Sans at ``size`` points (pt), from the font's advance widths."""
    widths, per_em, missing = _advances(bold)
    return sum(widths.get(ord(ch), missing) for ch in text) * size / per_em * WIDTH_SLACK


def _longest_word(t: StoryTable, i: int) -> float:
    """The widest word of column ``i`` (header words bold) with the cell insets: no cell can be narrower."""
    words = [text_width(w, bold=True) for w in t.columns[i].heading.split()]
    words += [text_width(w) for row in t.rows for w in row[i].split()]
    return max(words, default=0.0) + 2 * CELL_INSET_PT


def natural_width(t: StoryTable, i: int, *, header: bool = False) -> float:
    """How wide column ``i`` is with no cell wrapped, in pt; the header may wrap at its spaces unless ``header``."""
    whole = [text_width(t.columns[i].heading, bold=True) + 2 * CELL_INSET_PT] if header else []
    return max([_longest_word(t, i), *whole, *(text_width(row[i]) + 2 * CELL_INSET_PT for row in t.rows)])


def floor_width(t: StoryTable, i: int) -> float:
    """The narrowest column ``i`` is given: its longest word, or its whole cells when they are short."""
    natural = natural_width(t, i)
    return natural if natural <= NOWRAP_PT else _longest_word(t, i)


def fill_widths(shares: list[float], floors: list[float], total: float) -> list[float]:
    """Share ``total`` out by ``shares``, raising a column below its floor to the floor and taking the width
    from the others in proportion (water filling). The floors must fit: ``sum(floors) <= total``."""
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(len(shares)) if i not in fixed]
        room = total - sum(fixed.values())
        weight = sum(shares[i] for i in free) or 1.0
        widths = {i: room * shares[i] / weight for i in free}
        short = [i for i in free if widths[i] < floors[i]]
        if not short:
            return [fixed.get(i, widths.get(i, 0.0)) for i in range(len(shares))]
        fixed.update({i: floors[i] for i in short})


@dataclass(frozen=True)
class TablePart:
    """A table as one block of the PDF: the columns it shows (indices), their widths (pt) and the page."""

    columns: list[int]
    widths: list[float]
    landscape: bool


def table_parts(t: StoryTable, paper: str) -> list[TablePart]:
    """How table ``t`` goes on the page.

    Portrait when its cells fit across unwrapped, or when only long text would wrap and the table is not wide
    (``t.text_width``); else landscape. One part when every column's floor fits across, else parts of columns
    that each repeat the label columns (the leading text columns). Columns are as wide as their cells and
    whole header when the part fits; when only the cells fit, the room left widens the wrapping headers;
    else the width is shared out by ``t.widths()`` above the floors."""
    page_w, page_h = PAPERS[paper]
    n = len(t.columns)
    floors = [floor_width(t, i) for i in range(n)]
    portrait = page_w - 2 * MARGIN_PT
    fits = sum(natural_width(t, i) for i in range(n)) <= portrait
    landscape = not fits and (t.text_width > PORTRAIT_CHARS or sum(floors) > portrait)
    across = page_h - 2 * MARGIN_PT if landscape else portrait
    if sum(floors) <= across:
        groups = [list(range(n))]
    else:
        labels: list[int] = []
        for i, c in enumerate(t.columns[:MAX_LABEL_COLUMNS]):
            if c.numeric or sum(floors[j] for j in labels) + floors[i] > across / 3:
                break
            labels.append(i)
        groups, current = [], list(labels)
        for i in range(len(labels), n):
            if len(current) > len(labels) and sum(floors[j] for j in current) + floors[i] > across:
                groups.append(current)
                current = list(labels)
            current.append(i)
        groups.append(current)
    shares = t.widths()
    parts = []
    for cols in groups:
        unwrapped = [natural_width(t, i, header=True) for i in cols]
        natural = [natural_width(t, i) for i in cols]
        if sum(unwrapped) <= across:
            widths = unwrapped
        elif sum(natural) <= across:  # the cells fit: the room left goes to the headers that wrap, by how much
            extra = [u - w for u, w in zip(unwrapped, natural)]
            widths = [w + (across - sum(natural)) * e / sum(extra) for w, e in zip(natural, extra)]
        else:
            widths = fill_widths([shares[i] for i in cols], [floors[i] for i in cols], across)
        parts.append(TablePart(cols, widths, landscape))
    return parts


def _sentence(text: str) -> str:
    """``text`` ending with a full stop (a title inside a caption)."""
    text = text.strip()
    return text if not text or text[-1] in ".?!" else f"{text}."


def _table_data(t: StoryTable, paper: str) -> dict:
    parts = table_parts(t, paper)
    out = []
    for k, part in enumerate(parts, start=1):
        label = f"Table {t.number}." if len(parts) == 1 else f"Table {t.number} (part {k} of {len(parts)})."
        shown = [t.columns[i] for i in part.columns]
        out.append({
            "label": f"{label} {_sentence(t.title)}",
            "note": t.note if k == 1 else "Continued: the first columns repeat so each row can be read across.",
            "widths": [round(w, 2) for w in part.widths],
            "align": ["right" if c.numeric else "left" for c in shown],
            "header": [c.heading for c in shown],
            "rows": [[row[i] for i in part.columns] for row in t.rows],
        })
    return {"landscape": parts[0].landscape, "parts": out}


def _image_size(path: Path) -> tuple[float, float]:
    """An image's natural width and height in pt: the SVG's own size, or a 300 dpi PNG's pixels."""
    if path.suffix == ".svg":
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
        found = re.search(r'<svg[^>]*?\swidth="([\d.]+)(pt|px)?"[^>]*?\sheight="([\d.]+)(pt|px)?"', head, re.S)
        if found:
            scale = 0.75 if found.group(2) == "px" else 1.0
            return float(found.group(1)) * scale, float(found.group(3)) * scale
        return 460.0, 345.0  # matplotlib's default figure size
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the PNG IHDR chunk
    return width * 72 / 300, height * 72 / 300


def _figure_data(params: Params, f: StoryFigure, paper: str) -> dict:
    """A figure for the template: its file (the SVG, else the PNG; none in a draft run), width and texts."""
    files = [x for x in f.files if x.endswith(".svg")] or [x for x in f.files if x.endswith(".png")]
    image, width = None, 0.0
    if files:
        path = params.output_dir / files[0]
        if not path.is_file():
            raise FileNotFoundError(f"figure {f.figure_id!r}: {files[0]} is in the manifest but not in the report folder")
        page_w, page_h = PAPERS[paper]
        w, h = _image_size(path)
        across, tall = page_w - 2 * MARGIN_PT, (page_h - 2 * MARGIN_PT) * FIGURE_HEIGHT_SHARE
        image, width = "/" + files[0], round(min(w, across, tall * w / h if h else across), 2)
    return {"anchor": f"figure-{f.figure_id}", "image": image, "width": width, "alt": f.alt_text or f.title,
            "label": f"Figure {f.number}. {_sentence(f.title)}", "caption": f.caption}


def _section_data(params: Params, s: StorySection, paper: str) -> dict:
    return {"heading": s.heading, "figures": [_figure_data(params, f, paper) for f in s.figures],
            "tables": [_table_data(t, paper) for t in s.tables]}


def story_data(params: Params, story: Story) -> dict:
    """Everything the PDF prints, as plain JSON data for the template (no markup anywhere in it)."""
    paper = params.report.get("paper") or "letter"
    summary = []
    for h in story.summary:
        f = story.figure(h.figure_id)
        summary.append({"text": h.text, "anchor": f"figure-{f.figure_id}" if f else None,
                        "figure": f"Figure {f.number}" if f else None})
    prepared_by = params.report.get("prepared_by")
    return {
        "paper": TYPST_PAPERS[paper], "margin": MARGIN_PT, "table_size": TABLE_FONT_PT,
        "title": story.title, "document_title": f"{story.title}: performance story",
        "author": prepared_by or "CMM evaluation workbench",
        "facts": [["Cohort", story.cohort_id], ["Data as of", story.as_of],
                  *([["Prepared by", prepared_by]] if prepared_by else [])],
        "disclosure": story.disclosure_note, "footer": f"{story.title} \u00b7 data as of {story.as_of}",
        "summary": summary,
        "findings": [{"heading": g.heading, "sentences": g.sentences} for g in story.findings if g.sentences],
        "sections": [_section_data(params, s, paper) for s in story.sections],
        "methods": [[m.label, m.text] for m in story.methods], "limitations": story.limitations,
    }


# The layout. Every text comes from `story` (sys.inputs): a string placed as content prints as written.
TEMPLATE = r"""
#let story = json(bytes(sys.inputs.story))
#set document(title: story.document_title, author: story.author, date: none)
#set text(font: "DejaVu Sans", size: 10pt, lang: "en")
#set par(leading: 0.62em, spacing: 0.9em)
#set page(paper: story.paper, margin: story.margin * 1pt, footer: context {
  let n = counter(page).get().first()
  if n > 1 {
    set text(size: 8pt, fill: luma(80))
    story.footer
    h(1fr)
    [Page #n of #counter(page).final().first()]
  }
})
#set heading(numbering: none)
#show heading.where(level: 1): set text(size: 16pt)
#show heading.where(level: 2): set text(size: 12pt)
#show heading: set block(above: 1.4em, below: 0.8em)
#show figure.caption: set align(left)
#show figure.caption: set text(size: 9pt)
#show figure: set block(above: 1.2em, below: 1.6em)
#set list(spacing: 0.8em)

#let story-figure(f) = [#figure(
  if f.image == none { [] } else { image(f.image, width: f.width * 1pt, alt: f.alt) },
  caption: [#strong(f.label) #f.caption],
  numbering: none,
  kind: image,
  supplement: none,
) #label(f.anchor)]

#let story-part(p) = {
  block(sticky: true, below: 0.6em, text(size: 9pt, [#strong(p.label) #p.note]))
  set text(size: story.table_size * 1pt)
  set par(leading: 0.45em)
  table(
    columns: p.widths.map(w => w * 1pt),
    align: p.align.map(a => if a == "right" { right + top } else { left + top }),
    inset: (x: 3pt, y: 2.5pt),
    stroke: (x, y) => (bottom: if y == 0 { 0.8pt + luma(60) } else { 0.3pt + luma(190) }),
    fill: (x, y) => if y == 0 { luma(235) },
    table.header(repeat: true, ..p.header.map(h => strong(h))),
    ..p.rows.flatten(),
  )
  v(1.2em)
}

#let story-table(t) = if t.landscape {
  page(flipped: true, t.parts.map(story-part).join())
} else {
  t.parts.map(story-part).join()
}

#page(footer: none)[
  #v(18%)
  #text(size: 26pt, weight: "bold", story.title)
  #v(0.4em)
  #text(size: 16pt, fill: luma(60), "Performance story")
  #v(2.5em)
  #grid(columns: (auto, 1fr), column-gutter: 1.2em, row-gutter: 0.8em,
    ..story.facts.map(((k, v)) => (strong(k), v)).flatten())
  #v(1fr)
  #block(width: 100%, inset: 10pt, stroke: 0.5pt + luma(150), radius: 2pt)[
    #strong("Small numbers") #h(0.4em) #story.disclosure
  ]
]

#outline(title: "Contents", depth: 1)

= Executive summary
#list(..story.summary.map(s => if s.anchor == none { s.text } else {
  [#s.text (#link(label(s.anchor), s.figure))]
}))

#pagebreak(weak: true)
= Key findings
#for g in story.findings [
  == #g.heading
  #list(..g.sentences)
]

#for s in story.sections {
  pagebreak(weak: true)
  let tables = s.tables
  if s.figures.len() == 0 and tables.len() > 0 and tables.first().landscape {
    // a section opening on a landscape table: its heading goes on that page, not alone on a portrait one
    page(flipped: true, heading(level: 1, s.heading) + tables.first().parts.map(story-part).join())
    tables = tables.slice(1)
  } else {
    heading(level: 1, s.heading)
  }
  for f in s.figures { story-figure(f) }
  for t in tables { story-table(t) }
}

#pagebreak(weak: true)
= Methods and limitations
#terms(separator: [: ], ..story.methods.map(((k, v)) => terms.item(k, v)))
== Limitations
#list(..story.limitations)
== About these numbers
#story.disclosure
"""


def compile_story(params: Params, story: Story) -> bytes:
    """The PDF of ``story`` as bytes (figures read from the report folder, ``params.output_dir``)."""
    data = json.dumps(story_data(params, story), ensure_ascii=False, sort_keys=True)
    pdf, notes = typst.compile_with_warnings(TEMPLATE.encode("utf-8"), root=str(params.output_dir),
                                             font_paths=[str(FONT_DIR)], ignore_system_fonts=True,
                                             sys_inputs={"story": data})
    for note in notes:
        warnings.warn(f"performance story PDF: {note.message}", stacklevel=2)
    return pdf


def write_story_pdf(params: Params, story: Story) -> Path:
    """Write ``funder/<cohort>_performance_story.pdf``; return its path."""
    path = params.output_dir / FUNDER_DIR / pdf_name(params)
    atomic_write(path, compile_story(params, story))
    return path
