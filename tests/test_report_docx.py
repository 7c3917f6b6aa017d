"""The funder DOCX (evaluation/report/story_docx.py), read back as XML: tables that fit their page (every word
of a column within its width, measured with Helvetica's metrics from matplotlib's AFM files), header rows
repeated, numbers right-aligned with true minus signs, landscape only for wide tables, Word captions with SEQ
fields, page numbers, the title page, paper sizes, the user's template, and the same bytes for the same story."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import docx
import matplotlib
import matplotlib.pyplot as plt
import pytest
from docx.shared import Pt
from lxml import etree

from evaluation.core import figures as figure_io
from evaluation.core.errors import ParamsError
from evaluation.core.params import check
from evaluation.report.contents import (FindingGroup, Story, StoryColumn, StoryFigure, StorySection, StoryTable,
                                        performance_story)
from evaluation.report.findings import Headline, key_findings
from evaluation.report.funder import funder_tables
from evaluation.report.gate import check_funder_outputs
from evaluation.report.methods import MethodNote
from evaluation.report.story_docx import write_story_docx
from test_report import save_seed_value_tables

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W, "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"}
NUMBER = re.compile(r"^(<|< |>)?[\u2212]?\$?[\d,]*\.?\d+%?$")  # a number as a reader sees one
RULE = "Counts from 1 to 10 are shown as <11 (the CMS cell-size rule)."


def w(name: str) -> str:
    return f"{{{W}}}{name}"


@pytest.fixture
def params(tmp_path, tiny_cohort):
    return check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "title": "Tiny cohort"})


def _afm(name: str) -> dict[str, int]:
    """Character widths (1/1000 em) from one of matplotlib's AFM font files."""
    text = (Path(matplotlib.get_data_path()) / "fonts" / "afm" / name).read_text(encoding="latin-1")
    return {chr(int(c)): int(wx) for c, wx in re.findall(r"^C (\d+) ; WX (\d+) ;", text, re.M) if int(c) > 0}


BOLD, REGULAR = _afm("phvb8a.afm"), _afm("phvr8a.afm")


def word_twips(word: str, size_pt: float, widths: dict[str, int]) -> float:
    return sum(widths.get(ch, 556) for ch in word) * size_pt / 1000 * 20


def _figure(params, figure_id: str) -> StoryFigure:
    """A figure exported as a notebook does (PNG and manifest row), as the story holds it."""
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot([1, 2, 3], [3, 1, len(figure_id)])
    ax.set_title(figure_id)
    figure_io.export_figure(fig, params, figure_id, title=f"{figure_id} title", caption=f"{figure_id} caption.",
                            alt_text=f"{figure_id} alt text.", notebook="05_value", section="value")
    return StoryFigure(0, figure_id, f"{figure_id} title", f"{figure_id} caption.", f"{figure_id} alt text.",
                       f"figures/{figure_id}.png", ())


def _tables() -> list[StoryTable]:
    """A narrow table (portrait), a wide one (landscape), one too wide for any page (column panels) and one
    whose long quotes would leave its other columns narrower than their words if widths went by shares alone."""
    narrow = StoryTable(1, "narrow", "Narrow", "A note.",
                        [StoryColumn("group", "Group"), StoryColumn("n", "Patients", numeric=True),
                         StoryColumn("change", "Mean change", "mg/dL", numeric=True), StoryColumn("p", "p", numeric=True)],
                        [["All patients", "1,238", "-0.82", "< 0.001"], ["Advanced track", "<11", "\u22121.20", "0.04"],
                         ["Initial track", "*", "\u2013", "0.5"]])
    heads = ["Rate before (per 1,000 patient-months)", "Rate after (per 1,000 patient-months)", "Rate ratio",
             "95% CI low", "95% CI high", "Events before", "Events after", "Cost avoided", "Change (%)",
             "Program cost", "Net return", "Return on investment"]
    wide = StoryTable(2, "wide", "Wide", "", [StoryColumn("kind", "Event"), StoryColumn("group", "Group")]
                      + [StoryColumn(f"c{k}", h, numeric=True) for k, h in enumerate(heads)],
                      [["Readmissions", "Anticoagulation"] + [f"-{k + 1}23,456.7" for k in range(len(heads))]] * 30)
    huge = StoryTable(3, "huge", "Huge", "", [StoryColumn("team", "Team")]
                      + [StoryColumn(f"m{k}", f"Milestone {k} completed", numeric=True) for k in range(40)],
                      [[f"T{r:02d}"] + [f"{r * k}" for k in range(40)] for r in range(12)])
    quote = "We ran out of time every single month, so the calls were what kept us going. " * 4
    quotes = StoryTable(4, "quotes", "Quotes", "", [StoryColumn("theme", "Theme"), StoryColumn("q", "Quote"),
                                                  StoryColumn("n", "Contributions", numeric=True)],
                        [["Barriers", quote, "12"], ["Benefits", quote, "103"]])  # by shares, a narrow last column
    return [narrow, wide, huge, quotes]


def _story(params, *, tables=None, figures=None) -> Story:
    tables = _tables() if tables is None else tables
    figures = [_figure(params, "value_a"), _figure(params, "value_b")] if figures is None else figures
    figures = [StoryFigure(k, f.figure_id, f.title, f.caption, f.alt_text, f.png, f.files)
               for k, f in enumerate(figures, start=1)]
    return Story("Tiny cohort", "tiny", "2016-12-31", RULE,
                 [Headline("value", "Readmissions fell 59% (from 5.8 to 2.4 per 1,000 patient-months).", "value_b")],
                 [FindingGroup("value", "Value and return on investment",
                               ["Net return $486,304 (net ROI 141%).", "A change of -0.82; one said: \u201cwe lost -5 staff\u201d."])],
                 [StorySection("value", "Value and return on investment", figures, tables)],
                 [MethodNote("Goals", "HbA1c < 8")], ["No comparison group."], [t.name for t in tables])


def _parts(path: Path) -> dict[str, etree._Element]:
    with zipfile.ZipFile(path) as zf:
        return {n: etree.fromstring(zf.read(n)) for n in zf.namelist() if n.endswith(".xml")}


def _tables_by_section(body) -> list[tuple[etree._Element, etree._Element, int]]:
    """(table, the sectPr of its section, the number of the table caption before it), in body order."""
    out, pending, number = [], [], 0
    for child in body:
        if child.tag == w("tbl"):
            pending.append((child, number))
        elif child.tag == w("p"):
            if child.xpath("./w:pPr/w:pStyle[@w:val='Caption']", namespaces=NS):
                found = re.match(r"Table (\d+)", _text(child))
                number = int(found.group(1)) if found else number
            sect = child.find("./w:pPr/w:sectPr", NS)
            if sect is not None:
                out += [(t, sect, n) for t, n in pending]
                pending = []
        elif child.tag == w("sectPr"):
            out += [(t, child, n) for t, n in pending]
    return out


def _text_width(sect) -> int:
    size, margin = sect.find("w:pgSz", NS), sect.find("w:pgMar", NS)
    return int(size.get(w("w"))) - int(margin.get(w("left"))) - int(margin.get(w("right")))


def _cells(tbl) -> list[list[etree._Element]]:
    return [tr.findall("w:tc", NS) for tr in tbl.findall("w:tr", NS)]


def _text(el) -> str:
    return "".join(t.text or "" for t in el.iter(w("t")))


def check_tables(path: Path) -> list[tuple[etree._Element, etree._Element, int]]:
    """Every table of the DOCX: its grid fits its section's text width, the widths are fixed (table, grid and
    cells agree), the first row repeats as a header and no row splits, header words and cell words fit their
    column at the table's font size, headers have no underscores, numbers are right-aligned (header too) and
    negative numbers carry the minus sign."""
    body = _parts(path)["word/document.xml"].find("w:body", NS)
    found = _tables_by_section(body)
    assert found
    for tbl, sect, _ in found:
        grid = [int(g.get(w("w"))) for g in tbl.findall("w:tblGrid/w:gridCol", NS)]
        assert sum(grid) <= _text_width(sect)
        assert tbl.find("w:tblPr/w:tblLayout", NS).get(w("type")) == "fixed"
        assert int(tbl.find("w:tblPr/w:tblW", NS).get(w("w"))) == sum(grid)
        margin = tbl.find("w:tblPr/w:tblCellMar", NS)
        pad = int(margin.find("w:left", NS).get(w("w"))) + int(margin.find("w:right", NS).get(w("w")))
        rows = tbl.findall("w:tr", NS)
        assert rows[0].find("w:trPr/w:tblHeader", NS) is not None
        assert all(r.find("w:trPr/w:cantSplit", NS) is not None for r in rows)
        assert sum(r.find("w:trPr/w:tblHeader", NS) is not None for r in rows) == 1
        cells = _cells(tbl)
        for k, row in enumerate(cells):
            assert [int(c.find("w:tcPr/w:tcW", NS).get(w("w"))) for c in row] == grid
            for c, width in zip(row, grid):
                size = int(c.find(".//w:rPr/w:sz", NS).get(w("val"))) / 2
                assert size in (7, 8)
                for word in _text(c).split():
                    assert word_twips(word, size, BOLD if k == 0 else REGULAR) + pad <= width, (word, width)
        assert not any("_" in _text(c) for c in cells[0])
        for j in range(len(grid)):
            column = [_text(r[j]) for r in cells[1:]]
            shown = [t for t in column if t not in ("", "\u2013", "*")]
            right = [bool(r[j].xpath("./w:p/w:pPr/w:jc[@w:val='right']", namespaces=NS)) for r in cells]
            if shown and all(NUMBER.match(t) for t in shown):
                assert all(right), (_text(cells[0][j]), column)
            elif any(re.search("[a-z]{3}", t) for t in shown) and not any(NUMBER.match(t) for t in shown):
                assert not any(right), _text(cells[0][j])
            assert not any(re.search(r"(?<![\w.])-\d", t) for t in column)
    return found


def test_tables_fit_repeat_their_header_and_align_numbers(params):
    path = write_story_docx(params, _story(params))
    found = check_tables(path)
    narrow = [t for t, _, n in found if n == 1][0]
    cells = [[_text(c) for c in row] for row in _cells(narrow)]
    assert cells[1][2] == "\u22120.82" and cells[2][2] == "\u22121.20"  # a hyphen-minus becomes a minus sign
    assert cells[0] == ["Group", "Patients", "Mean change (mg/dL)", "p"]
    assert int(narrow.find(".//w:rPr/w:sz", NS).get(w("val"))) == 16  # 8 pt
    header = narrow.find("w:tr/w:tc/w:tcPr/w:shd", NS)
    assert header.get(w("fill")) == "D9D9D9"


def test_landscape_only_for_wide_tables_and_column_panels_for_the_widest(params):
    story = _story(params)
    path = write_story_docx(params, story)
    found = check_tables(path)
    wide = {t.number: t.text_width > 110 for t in story.sections[0].tables}
    assert wide == {1: False, 2: True, 3: True, 4: True}
    for tbl, sect, number in found:
        size = sect.find("w:pgSz", NS)
        landscape = int(size.get(w("w"))) > int(size.get(w("h")))
        assert landscape == wide[number]
        assert (size.get(w("orient")) == "landscape") == landscape
    panels = [tbl for tbl, _, n in found if n == 3]
    assert len(panels) > 1  # 41 columns cannot fit across a Letter page at 7 pt: parts, each led by "Team"
    assert all(_text(_cells(p)[0][0]) == "Team" for p in panels)
    shown = [_text(c) for p in panels for c in _cells(p)[0][1:]]
    assert shown == [f"Milestone {k} completed" for k in range(40)]
    assert {int(p.find(".//w:rPr/w:sz", NS).get(w("val"))) for p in panels} == {14}  # 7 pt
    sections = _parts(path)["word/document.xml"].findall(".//w:sectPr", NS)
    assert [s.find("w:pgSz", NS).get(w("orient")) == "landscape" for s in sections] == [False, True, False]


def test_captions_are_word_captions_with_seq_fields(params):
    story = _story(params)
    path = write_story_docx(params, story)
    body = _parts(path)["word/document.xml"].find("w:body", NS)
    captions = body.xpath("./w:p[w:pPr/w:pStyle/@w:val='Caption']", namespaces=NS)
    labels = []
    for p in captions:
        code = " ".join(" ".join(t.text.split()) for t in p.iter(w("instrText")))
        label, number = re.match(r"(Figure|Table) (\d+)\. ", _text(p)).groups()
        assert code == f"SEQ {label} \\* ARABIC"  # the cached result is the story's number
        labels.append((label, int(number)))
        if label == "Figure":  # under its picture, which keeps with it
            picture = p.getprevious()
            assert picture.find(".//wp:docPr", NS) is not None
            assert picture.find("w:pPr/w:keepNext", NS) is not None
        else:  # above its table
            assert p.getnext().tag == w("tbl") and p.find("w:pPr/w:keepNext", NS) is not None
    assert labels == [("Figure", 1), ("Figure", 2), ("Table", 1), ("Table", 2), ("Table", 3), ("Table", 4)]
    assert len(body.xpath(".//w:instrText[contains(., 'SEQ')]", namespaces=NS)) == 6  # none on a continued part
    document = docx.Document(str(path))
    assert [s._inline.docPr.get("descr") for s in document.inline_shapes] == ["value_a alt text.", "value_b alt text."]
    assert [s._inline.docPr.get("title") for s in document.inline_shapes] == ["value_a title", "value_b title"]
    portrait = document.sections[0].page_width - document.sections[0].left_margin - document.sections[0].right_margin
    assert all(0 < s.width <= portrait for s in document.inline_shapes)


def test_title_page_summary_findings_methods_and_headings(params):
    params = check({**params.raw, "report": {"prepared_by": "Evaluation team, State University"}})
    path = write_story_docx(params, _story(params))
    document = docx.Document(str(path))
    lead = [p.text for p in document.paragraphs[:4]]
    assert lead[0] == "Tiny cohort" and lead[1] == "Performance story"
    assert "data as of 2016-12-31" in lead[2] and "Prepared by Evaluation team, State University" in lead[2]
    assert lead[3] == RULE
    headings = [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [("Heading 1", "Executive summary"), ("Heading 1", "Key findings"),
                        ("Heading 2", "Value and return on investment"), ("Heading 1", "Value and return on investment"),
                        ("Heading 1", "Methods and limitations"), ("Heading 2", "Methods"), ("Heading 2", "Limitations")]
    text = [p.text for p in document.paragraphs]
    assert "Readmissions fell 59% (from 5.8 to 2.4 per 1,000 patient-months). (Figure\u00a02)" in text
    assert "Goals: HbA1c < 8" in text
    bullets = [p.text for p in document.paragraphs if p.style.name == "List Bullet"]
    assert bullets == ["Net return $486,304 (net ROI 141%).",  # a minus sign, but a quotation as it was said
                       "A change of \u22120.82; one said: \u201cwe lost -5 staff\u201d.", "No comparison group."]
    assert document.core_properties.author == "Evaluation team, State University"
    assert document.core_properties.modified.isoformat().startswith("2016-12-31")


def test_footer_numbers_pages_and_header_names_the_cohort(params):
    path = write_story_docx(params, _story(params))
    parts = _parts(path)
    footers = [x for n, x in parts.items() if n.startswith("word/footer")]
    codes = [" ".join(t.text.split()) for x in footers for t in x.iter(w("instrText"))]
    assert "PAGE" in codes and "NUMPAGES" in codes
    assert any(_text(x).strip() == "Page 1 of 1" for x in footers)
    headers = ["".join(x.itertext()).strip() for n, x in parts.items() if n.startswith("word/header")]
    assert "Tiny cohort" in headers
    first = parts["word/document.xml"].findall(".//w:sectPr", NS)[0]
    assert first.find("w:titlePg", NS) is not None  # the title page has no header or footer
    document = docx.Document(str(path))
    assert all(not s.footer.is_linked_to_previous for s in document.sections[:1])
    assert all(s.footer.paragraphs[-1].text == "Page 1 of 1" for s in document.sections)  # landscape pages too


@pytest.mark.parametrize("paper, size, margin", [("letter", (12240, 15840), 1440), ("a4", (11906, 16838), 1417)])
def test_paper_size_and_margins_follow_the_params(params, paper, size, margin):
    params = check({**params.raw, "report": {"paper": paper}})
    path = write_story_docx(params, _story(params, figures=[]))
    check_tables(path)
    sect = _parts(path)["word/document.xml"].findall(".//w:sectPr", NS)[0]
    assert (int(sect.find("w:pgSz", NS).get(w("w"))), int(sect.find("w:pgSz", NS).get(w("h")))) == size
    assert {abs(int(sect.find("w:pgMar", NS).get(w(k))) - margin) <= 1 for k in ("left", "right", "top", "bottom")} == {True}


def test_the_same_story_gives_the_same_bytes(params):
    story = _story(params)
    first = write_story_docx(params, story).read_bytes()
    with zipfile.ZipFile(write_story_docx(params, story)) as zf:  # python-docx dates every part by the clock
        assert {i.date_time for i in zf.infolist()} == {(2016, 12, 31, 0, 0, 0)}  # the data's as-of date, like the XLSX and PPTX
    assert write_story_docx(params, story).read_bytes() == first


def _template(folder: Path) -> Path:
    """A letterhead: Normal in Courier New, a header with a logo and a line of text, and a body to be dropped."""
    folder.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(1, 0.5))
    fig.savefig(folder / "logo.png", dpi=50)
    plt.close(fig)
    template = docx.Document()
    template.styles["Normal"].font.name = "Courier New"
    template.styles["Normal"].font.size = Pt(11)
    header = template.sections[0].header.paragraphs[0]
    header.add_run("Letterhead Inc ")
    header.add_run().add_picture(str(folder / "logo.png"))
    template.add_paragraph("TEMPLATE BODY TEXT")
    fig = plt.figure(figsize=(2, 1))
    fig.savefig(folder / "photo.png", dpi=50)
    plt.close(fig)
    template.add_picture(str(folder / "photo.png"))  # only the body shows it: it goes with the body
    path = folder / "letterhead.docx"
    template.save(str(path))
    return path


def test_a_template_gives_its_styles_header_and_logo(params, tmp_path):
    _template(tmp_path / "brand")
    params_file = tmp_path / "brand" / "tiny.yaml"
    params = check({**params.raw, "report": {"docx_template": "letterhead.docx"}}, path=str(params_file))
    path = write_story_docx(params, _story(params))
    parts = _parts(path)
    normal = parts["word/styles.xml"].find("w:style[@w:styleId='Normal']", NS)
    assert normal.find("w:rPr/w:rFonts", NS).get(w("ascii")) == "Courier New"
    assert normal.find("w:rPr/w:sz", NS).get(w("val")) == "22"  # the template's 11 pt, not the blank file's 10 pt
    body = parts["word/document.xml"]
    assert "TEMPLATE BODY TEXT" not in "".join(body.itertext())
    margin = body.find(".//w:sectPr/w:pgMar", NS)
    assert (margin.get(w("left")), margin.get(w("top"))) == ("1800", "1440")  # the template's page, unless told
    headers = [x for n, x in parts.items() if n.startswith("word/header")]
    assert any("Letterhead Inc" in "".join(x.itertext()) and x.find(".//w:drawing", NS) is not None for x in headers)
    assert not any("Tiny cohort" in "".join(x.itertext()) for x in headers)  # the letterhead is not overwritten
    assert any(t.text.strip() == "PAGE" for n, x in parts.items() if n.startswith("word/footer")
               for t in x.iter(w("instrText")))
    document = docx.Document(str(path))
    assert len(document.inline_shapes) == 2  # the story's figures; the template's body picture is gone
    with zipfile.ZipFile(path) as zf:
        assert len([n for n in zf.namelist() if n.startswith("word/media/")]) == 3  # the logo and the two figures
    check_tables(path)


def test_a_missing_template_is_a_params_error_naming_it(params, tmp_path):
    params = check({**params.raw, "report": {"docx_template": "brand/none.docx"}}, path=str(tmp_path / "tiny.yaml"))
    with pytest.raises(ParamsError, match=r"report\.docx_template.*brand/none\.docx.*does not exist") as err:
        write_story_docx(params, _story(params, figures=[]))
    assert err.value.key == "report.docx_template"
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "none.docx").write_text("not a Word file", encoding="utf-8")
    with pytest.raises(ParamsError, match="is not a Word .docx file"):
        write_story_docx(params, _story(params, figures=[]))


def test_the_story_of_a_report_passes_every_check_and_the_gate(params):
    """The real path: seed-002 value tables and two figures, the story from the findings and funder tables."""
    save_seed_value_tables(params)
    _figure(params, "value_a")
    tables = funder_tables(params)
    story = performance_story(params, key_findings(params), tables)
    path = write_story_docx(params, story)
    found = check_tables(path)
    assert len({n for _, _, n in found}) == len(tables)
    cells = [_text(c) for tbl, _, _ in found for row in _cells(tbl)[1:] for c in row]
    assert any(c.startswith("\u2212") for c in cells)  # the sensitivity table's negative net returns
    assert check_funder_outputs(params.output_dir, params, raise_on_problem=False).empty
