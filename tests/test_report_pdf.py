"""The performance story as a PDF (evaluation/report/story_pdf.py), read back with pypdf: bookmarks per section,
embedded fonts, vector figures with alt text, tables printed in full (landscape and split when wide, header
repeated when long), hostile text printed verbatim, and the same bytes for the same story."""
from __future__ import annotations

import dataclasses
import io
import json
import re
from collections import Counter

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pypdf
import pytest
import typst

from conftest import TINY, write_cohort
from evaluation.core.params import check
from evaluation.report.contents import FindingGroup, Story, StoryColumn, StoryFigure, StorySection, StoryTable
from evaluation.report.findings import Headline
from evaluation.report.methods import MethodNote
from evaluation.report.contents import pdf_name
from evaluation.report.story_pdf import (CELL_INSET_PT, FONT_DIR, compile_story, fill_widths,
                                         table_parts, write_story_pdf)

HOSTILE = 'Costs #exit() $x^2$ *bold* _it_ `code` <lbl> @ref [a] ] \\ "q" // not a comment /* nor this'
WIDE_COLUMNS = 30
LONG_ROWS = 120


def _save_figure(folder, name: str, formats: tuple[str, ...]) -> tuple[str, ...]:
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot([0, 1, 2], [3, 1, 2])
    ax.set_title(f"Chart {name}")
    folder.mkdir(parents=True, exist_ok=True)
    for ext in formats:
        fig.savefig(folder / f"{name}.{ext}", format=ext, dpi=100)
    plt.close(fig)
    return tuple(f"figures/{name}.{ext}" for ext in formats)


def _table(number: int, name: str, columns: list[StoryColumn], rows: list[list[str]]) -> StoryTable:
    return StoryTable(number, name, f"Table called {name}", f"Note on {name}.", columns, rows)


def make_story(params) -> Story:
    """A story with a vector figure, a PNG-only figure, a narrow, a wide and a long table, and hostile text."""
    folder = params.output_dir / "figures"
    vector = StoryFigure(1, "fig_vector", "Vector chart", HOSTILE, "Line chart falling then rising", "figures/fig_vector.png",
                         _save_figure(folder, "fig_vector", ("png", "svg")))
    raster = StoryFigure(2, "fig_raster", "Raster chart", "A PNG only.", "Raster line chart", "figures/fig_raster.png",
                         _save_figure(folder, "fig_raster", ("png",)))
    narrow = _table(1, "narrow", [StoryColumn("group", "Group"), StoryColumn("n", "Patients", "n", True),
                                  StoryColumn("note", "Comment")],
                    [["All teams", "12,345", HOSTILE], ["Advanced track", "7", "\u2212 0.91 (<11)"], ["Team T03", "<11", "\u2013"]])
    wide = _table(2, "wide", [StoryColumn("team", "Team"), *(StoryColumn(f"m{i}", f"Measure number {i}", "%", True)
                                                             for i in range(WIDE_COLUMNS))],
                  [[f"T{r:02d}", *(f"{(r * 7 + i) % 100}.{i}" for i in range(WIDE_COLUMNS))] for r in range(5)])
    long = _table(3, "long", [StoryColumn("who", "Patients reached by month"), StoryColumn("v", "Value", "days", True)],
                  [[f"Month {r}", f"{r * 3}"] for r in range(LONG_ROWS)])
    return Story(
        title="Tiny cohort", cohort_id="tiny", as_of="2016-12-31",
        disclosure_note="Counts from 1 to 10 are shown as <11.",
        summary=[Headline("outcomes", "HbA1c fell by 0.8 points.", "fig_vector"), Headline("value", "Readmissions fell 56%.")],
        findings=[FindingGroup("outcomes", "Clinical outcomes", ["HbA1c fell by 0.8 points.", HOSTILE]),
                  FindingGroup("value", "Value and return on investment", ["Readmissions fell 56%."])],
        sections=[StorySection("outcomes", "Clinical outcomes", [vector, raster], [narrow]),
                  StorySection("engagement", "Engagement in the collaborative", [], [wide]),
                  StorySection("value", "Value and return on investment", [], [long])],
        methods=[MethodNote("Goals", "HbA1c < 8"), MethodNote("Small numbers", "Counts from 1 to 10 are not shown.")],
        limitations=["No comparison group."], table_names=["narrow", "wide", "long"])


def _params(folder, **report):
    """Params of the tiny cohort writing into ``folder`` (checked with ``folder`` as the reports root)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CMM_REPORTS_DIR", str(folder))
        return check({"cohort_id": "tiny", "data_dir": str(write_cohort(folder / "tiny", TINY)),
                      "output_dir": str(folder / "report"), "as_of": "2016-12-31", "title": "Tiny cohort",
                      **({"report": report} if report else {})})


@pytest.fixture
def params(tmp_path):
    return _params(tmp_path, paper="a4", prepared_by="Evaluation team, State QI office")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    """The story and its PDF, read back (written once: every reading test shares it)."""
    params = _params(tmp_path_factory.mktemp("pdf"), paper="a4", prepared_by="Evaluation team, State QI office")
    story = make_story(params)
    return story, pypdf.PdfReader(write_story_pdf(params, story)), params


def _words(text: str) -> list[str]:
    return text.split()


def _page_texts(reader) -> list[str]:
    return [p.extract_text() or "" for p in reader.pages]


def _outline_titles(items) -> list[str]:
    out = []
    for item in items:
        out += _outline_titles(item) if isinstance(item, list) else [item.title]
    return out


def test_written_to_funder_folder(params):
    path = write_story_pdf(params, make_story(params))
    assert path == params.output_dir / "funder" / pdf_name(params) == params.output_dir / "funder" / "tiny_performance_story.pdf"
    assert path.read_bytes().startswith(b"%PDF-")


def test_every_section_heading_is_a_bookmark(pdf):
    story, reader, _ = pdf
    titles = _outline_titles(reader.outline)
    expected = ["Executive summary", "Key findings", *(g.heading for g in story.findings),
                *(s.heading for s in story.sections), "Methods and limitations", "Limitations"]
    assert not [h for h in expected if h not in titles]
    top = [item.title for item in reader.outline if not isinstance(item, list)]
    assert top == ["Executive summary", "Key findings", *(s.heading for s in story.sections), "Methods and limitations"]


def _fonts(obj, seen: set, found: list) -> None:
    """Every font dictionary reachable from ``obj`` (page resources, forms of vector figures)."""
    obj = obj.get_object()
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, pypdf.generic.DictionaryObject):
        if obj.get("/Type") == "/Font":
            found.append(obj)
        for key, value in obj.items():
            if key not in ("/Parent", "/P", "/Pg", "/K"):
                _fonts(value, seen, found)
    elif isinstance(obj, pypdf.generic.ArrayObject):
        for value in obj:
            _fonts(value, seen, found)


def test_every_font_is_embedded(pdf):
    _, reader, _ = pdf
    found: list = []
    seen: set = set()
    for page in reader.pages:
        _fonts(page["/Resources"], seen, found)
    assert found
    descriptors = []
    for font in found:
        if font.get("/Subtype") == "/Type0":
            continue  # its descendant CID font (also found) carries the descriptor
        descriptor = font.get("/FontDescriptor")
        assert descriptor is not None, f"font {font.get('/BaseFont')} has no descriptor (not embedded)"
        descriptors.append(descriptor.get_object())
    assert all({"/FontFile", "/FontFile2", "/FontFile3"} & set(d.keys()) for d in descriptors)
    assert {re.sub(r"^[A-Z]{6}\+", "", d["/FontName"][1:]) for d in descriptors} <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_title_page_summary_and_page_numbers(pdf):
    story, reader, _ = pdf
    pages = _page_texts(reader)
    first = " ".join(pages[0].split())
    for text in ("Tiny cohort", "Performance story", "Cohort tiny", "Data as of 2016-12-31",
                 "Prepared by Evaluation team, State QI office", story.disclosure_note):
        assert text in first
    assert "Page 1 of" not in pages[0]  # the title page carries no number
    assert all(f"Page {i} of {len(pages)}" in t for i, t in enumerate(pages[1:], start=2))
    summary = " ".join(pages[1].split())
    assert "HbA1c fell by 0.8 points. (Figure 1)" in summary and "Readmissions fell 56%." in summary
    width, height = (float(x) for x in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # params.report["paper"] == "a4"


def test_letter_paper_and_no_prepared_by(tmp_path):
    params = _params(tmp_path)
    reader = pypdf.PdfReader(write_story_pdf(params, make_story(params)))
    assert [round(float(x)) for x in reader.pages[0].mediabox[2:]] == [612, 792]
    assert "Prepared by" not in reader.pages[0].extract_text()


def _struct_alts(node, out: list) -> list:
    node = node.get_object()
    if isinstance(node, pypdf.generic.DictionaryObject):
        if "/Alt" in node:
            out.append(str(node["/Alt"]))
        if "/K" in node:
            _struct_alts(node["/K"], out)
    elif isinstance(node, pypdf.generic.ArrayObject):
        for child in node:
            _struct_alts(child, out)
    return out


def _xobject_subtypes(page) -> Counter:
    xobjects = page["/Resources"].get("/XObject", {})
    return Counter(str(x.get_object()["/Subtype"]) for x in xobjects.values())


def _images(reader) -> int:
    return sum(_xobject_subtypes(p)["/Image"] for p in reader.pages)


def test_figures_vector_with_alt_text_and_caption(pdf):
    story, reader, params = pdf
    alts = _struct_alts(reader.trailer["/Root"]["/StructTreeRoot"], [])
    assert "Line chart falling then rising" in alts and "Raster line chart" in alts
    # the SVG figure is drawn as vector paths: only the PNG-only figure is a bitmap, until the SVG is taken away
    assert _images(reader) == 1
    section = story.sections[0]
    png_only = dataclasses.replace(section.figures[0], files=("figures/fig_vector.png",))
    story_png = dataclasses.replace(story, sections=[dataclasses.replace(section, figures=[png_only, section.figures[1]]),
                                                     *story.sections[1:]])
    assert _images(pypdf.PdfReader(io.BytesIO(compile_story(params, story_png)))) == 2
    text = " ".join(" ".join(_page_texts(reader)).split())
    assert f"Figure 1. Vector chart. {' '.join(HOSTILE.split())}" in text  # caption under the figure, in full
    assert "Figure 2. Raster chart. A PNG only." in text


def test_hostile_text_prints_verbatim(pdf):
    _, reader, _ = pdf
    text = " ".join(" ".join(_page_texts(reader)).split())
    hostile = " ".join(HOSTILE.split())
    assert text.count(hostile) >= 3  # the caption, a finding and a table cell


def test_every_table_cell_is_printed(pdf):
    story, reader, _ = pdf
    words = Counter(w for t in _page_texts(reader) for w in _words(t))
    for t in (t for s in story.sections for t in s.tables):
        need = Counter(w for row in [t.header, *t.rows] for cell in row for w in _words(cell))
        missing = {w: n for w, n in need.items() if words[w] < n}
        assert not missing, f"table {t.name}: words not printed {missing}"


def test_wide_table_goes_landscape_and_splits_with_its_label_column(pdf):
    story, reader, _ = pdf
    wide = story.sections[1].tables[0]
    pages = _page_texts(reader)
    parts = [i for i, t in enumerate(pages) if re.search(r"Table 2 \(part \d of \d\)", t)]
    assert parts
    for i in parts:
        width, height = (float(x) for x in reader.pages[i].mediabox[2:])
        assert width > height
    text = " ".join(pages[parts[0]: parts[-1] + 1])
    n_parts = len(re.findall(r"Table 2 \(part \d of (\d)\)", text))
    assert n_parts >= 2
    assert all(text.count(row[0]) == n_parts for row in wide.rows)  # the team column repeats in each part
    portrait = [i for i, t in enumerate(pages) if "Table 1." in t]
    assert portrait and all(float(reader.pages[i].mediabox[2]) < float(reader.pages[i].mediabox[3]) for i in portrait)


def test_long_table_breaks_across_pages_and_repeats_its_header(pdf):
    _, reader, _ = pdf
    pages = _page_texts(reader)
    with_rows = [i for i, t in enumerate(pages) if re.search(r"\bMonth \d+\b", t)]
    assert len(with_rows) >= 2
    assert all("Patients reached by month (days)" not in pages[i] for i in with_rows)  # the unit goes with the value
    assert all("Patients reached by month Value (days)" in " ".join(pages[i].split()) for i in with_rows)


def test_numbers_right_aligned_text_left_aligned(pdf):
    _, reader, _ = pdf
    page = next(p for p in reader.pages if "Table 1." in (p.extract_text() or ""))
    starts: dict[str, float] = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            starts.setdefault(text.strip(), cm[4] + tm[4] * cm[0])

    page.extract_text(visitor_text=visit)
    assert starts["7"] > starts["12,345"] + 10  # right-aligned: the short number starts further right
    assert abs(starts["All teams"] - starts["Advanced track"]) < 0.5  # left-aligned: same start


def _typst_widths(words: list[tuple[str, bool]], size: float) -> list[float]:
    """Each word's width as Typst sets it (measured by the compiler itself, not by the layout's metrics)."""
    items = ", ".join(f'measure(text(font: "DejaVu Sans", size: {size}pt, weight: {"700" if bold else "400"}, '
                      f'"{w.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}")).width.pt()'
                      for w, bold in words)
    source = f"#context [#metadata(({items},)) <m>]".encode()
    found = typst.query(source, "<m>", field="value", one=True, font_paths=[str(FONT_DIR)], ignore_system_fonts=True)
    return json.loads(found)


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_no_word_is_wider_than_its_column(params, paper):
    story = make_story(params)
    page_w, page_h = {"letter": (612, 792), "a4": (595.28, 841.89)}[paper]
    for t in (t for s in story.sections for t in s.tables):
        for part in table_parts(t, paper):
            words = [[(w, True) for w in t.columns[c].heading.split()] + [(w, False) for r in t.rows for w in r[c].split()]
                     for c in part.columns]
            measured = iter(_typst_widths([w for column in words for w in column], 7.0))
            for j, column in enumerate(words):
                widest = max(next(measured) for _ in column)
                assert part.widths[j] - 2 * CELL_INSET_PT >= widest, (t.name, t.columns[part.columns[j]].heading)
            assert sum(part.widths) <= (page_h if part.landscape else page_w) - 2 * 54 + 0.01


def test_fill_widths_keeps_floors_and_shares_the_rest():
    # shares 0.5/0.25/0.25 of 100 give 50/25/25; a floor of 40 on the last takes 15 from the others by share
    assert fill_widths([0.5, 0.25, 0.25], [0, 0, 0], 100) == [50, 25, 25]
    widths = fill_widths([0.5, 0.25, 0.25], [0, 0, 40], 100)
    assert widths[2] == 40 and widths[0] == pytest.approx(40) and widths[1] == pytest.approx(20)


def test_same_story_same_bytes(params):
    story = make_story(params)
    first, second = compile_story(params, story), compile_story(params, story)
    assert first == second
    assert b"/CreationDate" not in first and b"/ModDate" not in first


def test_missing_figure_file_is_named(params):
    story = make_story(params)
    (params.output_dir / "figures" / "fig_vector.svg").unlink()
    with pytest.raises(FileNotFoundError, match="fig_vector"):
        write_story_pdf(params, story)
