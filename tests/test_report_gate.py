"""The disclosure gate (evaluation/report/gate.py): every funder output is read back as a funder reads it and any
patient identifier, date of birth, unsuppressed small count or unscreened quote is named by file, row and column."""
from __future__ import annotations

import io
import json
import zipfile

import docx
import openpyxl
import pandas as pd
import pypdf
import pytest
import typst
from PIL import Image
from pptx import Presentation
from pptx.util import Inches

from evaluation.core.errors import EvaluationError
from evaluation.core.params import check
from evaluation.data.synth.redcap import write_redcap
from evaluation.report.contents import STORY_FILE
from evaluation.report.extract import pdf_text, text_operations
from evaluation.report.gate import PAGES, DisclosureError, check_funder_outputs
from evaluation.report.gate_tables import _unmatched


@pytest.fixture
def funder_report(tmp_path, tiny_cohort):
    """A report folder with a clean funder table, and params pointing at the tiny cohort (P001-P003)."""
    out = tmp_path / "report"
    (out / "funder").mkdir(parents=True)
    (out / "tables").mkdir()
    pd.DataFrame({"group": ["all", "track=a"], "n": [40, "<11"], "mean": [7.1, "*"]}).to_csv(out / "funder" / "outcome.csv", index=False)
    (out / "funder" / "suppression.json").write_text(json.dumps(
        {"tables": {"outcome": {"counts": ["n"], "derived": {"mean": ["n"]}, "percentages": {}, "columns": ["group", "n", "mean"]}}}))
    params = check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(out)})
    return out, params


def test_clean_outputs_pass(funder_report):
    out, params = funder_report
    assert check_funder_outputs(out, params).empty


def test_patient_identifier_column_fails(funder_report):
    out, params = funder_report
    pd.DataFrame({"patient_id": ["X9"], "n": [50]}).to_csv(out / "funder" / "leak.csv", index=False)
    with pytest.raises(DisclosureError) as info:
        check_funder_outputs(out, params)
    assert isinstance(info.value, EvaluationError)
    assert "funder/leak.csv, column 'patient_id': patient identifier column" in str(info.value)


def test_patient_identifier_value_fails_with_its_row(funder_report):
    out, params = funder_report
    pd.DataFrame({"team": ["T01", "T02"], "note": ["fine", "see P002"]}).to_csv(out / "funder" / "notes.csv", index=False)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.to_dict("records") == [{"file": "funder/notes.csv", "row": 3, "column": "note",
                                            "problem": "patient identifier 'P002'"}]


def test_date_of_birth_fails(funder_report):
    out, params = funder_report
    pd.DataFrame({"group": ["all"], "date_of_birth": ["1950-01-01"]}).to_csv(out / "funder" / "dob.csv", index=False)
    with pytest.raises(DisclosureError, match="column 'date_of_birth': date-of-birth column"):
        check_funder_outputs(out, params)


def test_unsuppressed_small_count_fails(funder_report):
    out, params = funder_report
    pd.DataFrame({"group": ["all", "track=a"], "n": [40, 7], "mean": [7.1, 6.9]}).to_csv(out / "funder" / "outcome.csv", index=False)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.iloc[0].to_dict() == {"file": "funder/outcome.csv", "row": 3, "column": "n",
                                          "problem": "unsuppressed small count 7 (counts of 1 to 10 must show as <11)"}
    # a count-like column the writer forgot to declare is still checked
    pd.DataFrame({"group": ["all"], "n_patients": [3]}).to_csv(out / "funder" / "other.csv", index=False)
    assert "other.csv" in set(check_funder_outputs(out, params, raise_on_problem=False)["file"].str.replace("funder/", ""))


def test_value_computed_from_a_hidden_count_fails(funder_report):
    out, params = funder_report
    pd.DataFrame({"group": ["all", "track=a"], "n": [40, "<11"], "mean": [7.1, 6.9]}).to_csv(out / "funder" / "outcome.csv", index=False)
    with pytest.raises(DisclosureError, match="row 3, column 'mean': shows a value computed from a suppressed count"):
        check_funder_outputs(out, params)


def test_threshold_comes_from_params(funder_report, tiny_cohort):
    out, _ = funder_report
    pd.DataFrame({"group": ["all", "track=a"], "n": [40, 7]}).to_csv(out / "funder" / "outcome.csv", index=False)
    params = check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(out), "suppress_below": 5,
                    "suppress_below_reason": "a test of the threshold"})
    assert check_funder_outputs(out, params, raise_on_problem=False).empty


def test_docx_and_zip_are_read(funder_report):
    out, params = funder_report
    document = docx.Document()
    document.add_paragraph("Outcomes improved for P003 and 4 patients died.")
    document.save(out / "funder" / "story.docx")
    with zipfile.ZipFile(out / "funder" / "figures.zip", "w") as zf:
        zf.writestr("manifest.csv", "figure_id,title,caption,alt_text,notebook,files\n"
                                    "f1,Title,Of 3 patients all improved,Bars,00_x,figures/f1.png\n")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    texts = problems["problem"].tolist()
    assert "patient identifier 'P003' in the text" in texts
    assert any("'4 patients'" in t for t in texts)
    zipped = problems[problems["file"] == "funder/figures.zip:manifest.csv"]
    assert zipped[["row", "column"]].values.tolist() == [[2, "caption"]]


def test_analyst_tables_may_not_hold_identifiers(funder_report):
    out, params = funder_report
    pd.DataFrame({"patient_id": ["P001"], "x": [1]}).to_csv(out / "tables" / "per_patient.csv", index=False)
    with pytest.raises(DisclosureError, match="tables/per_patient.csv, column 'patient_id'"):
        check_funder_outputs(out, params)


def test_all_digit_ids_are_looked_for_only_in_identifier_columns(tmp_path):
    """Patient id 1490 must not be confused with a cost of $1,490, but is caught under an id-like column."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "patients.csv").write_text("patient_id,team_id\n1490,T01\n")
    out = tmp_path / "report"
    (out / "funder").mkdir(parents=True)
    pd.DataFrame({"kind": ["ed_visit"], "cost_per_event": [1490]}).to_csv(out / "funder" / "costs.csv", index=False)
    params = check({"cohort_id": "x", "data_dir": str(data), "output_dir": str(out)})
    assert check_funder_outputs(out, params, raise_on_problem=False).empty
    pd.DataFrame({"patient_ref": [1490]}).to_csv(out / "funder" / "refs.csv", index=False)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems[["file", "row", "column"]].values.tolist() == [["funder/refs.csv", 2, "patient_ref"]]


# --- the gate reads what a funder reads: pages, DOCX, figure texts, quotes -------------------------------

def test_index_page_with_a_small_n_fails(funder_report):
    out, params = funder_report
    (out / "index.html").write_text('<html><body><figure><img src="a.png" alt="Curves of T02 (n = 6)">\n'
                                    "<figcaption><b>Time to goal.</b> T01 (n = 7): median 20 days; T03 (n = 30)."
                                    "</figcaption></figure></body></html>")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.to_dict("records") == [
        {"file": "index.html", "row": "line 1", "column": "<img alt>", "problem": "unsuppressed small count in the text: 'n = 6'"},
        {"file": "index.html", "row": "line 2", "column": "<figcaption>", "problem": "unsuppressed small count in the text: 'n = 7'"}]
    (out / "index.html").write_text("<p>T01 (n &lt; 11): median 20 days; 4 of 10 teams</p>")
    assert check_funder_outputs(out, params, raise_on_problem=False).empty


def test_performance_story_is_read_too(funder_report):
    out, params = funder_report
    (out / "performance_story.html").write_text("<ul><li>HbA1c at goal: <b>3 of 40</b> patients</li></ul>")
    with pytest.raises(DisclosureError, match=r"performance_story.html, line 1, column '<li>': .*'3 of 40 patients'"):
        check_funder_outputs(out, params)


def test_docx_paragraph_and_table_cell_with_a_small_n_fail(funder_report):
    out, params = funder_report
    document = docx.Document()
    document.add_paragraph("Fine: 4 of 10 teams.")
    document.add_paragraph("T01 (n = 7): median 20 days.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "measure", "note"
    table.cell(1, 0).text, table.cell(1, 1).text = "a1c", "paired: 5 patients"
    document.save(out / "funder" / "story.docx")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems[["file", "row", "column"]].values.tolist() == [["funder/story.docx", "paragraph 2", ""],
                                                                   ["funder/story.docx (table 1)", 2, "note"]]
    assert "'n = 7'" in problems.at[0, "problem"] and "'5 patients'" in problems.at[1, "problem"]


def test_figure_text_in_the_zip_is_read(funder_report):
    """matplotlib writes each text of an SVG as a comment before its glyphs: that is what a reader extracts."""
    out, params = funder_report
    svg = ('<svg><g id="legend_1"><g id="text_3">\n <!-- T01 (n = 7) -->\n <g transform="scale(0.1)"/></g>'
           '<g id="text_4"><!-- T02 (n = &lt;11) --></g></g></svg>')
    with zipfile.ZipFile(out / "funder" / "figures.zip", "w") as zf:
        zf.writestr("figures/km.svg", svg)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.to_dict("records") == [{"file": "funder/figures.zip:figures/km.svg", "row": "element text_3", "column": "",
                                            "problem": "unsuppressed small count in the figure's text: 'n = 7'"}]


def test_quotes_go_through_the_identifier_screen(funder_report, tiny_cohort):
    """The screen is passed in (any callable like identifiers.screen_quote); the evaluator's approved quotes pass."""
    out, params = funder_report
    pd.DataFrame({"theme": ["Barriers", "Benefits"],
                  "exemplar": ["Mrs. Alvarez could not come in.", "It saved us time."]}).to_csv(out / "funder" / "themes.csv", index=False)

    def screen(text, deny_terms=()):
        return ["name 'Mrs. Alvarez'"] if "Alvarez" in text else []

    problems = check_funder_outputs(out, params, raise_on_problem=False, screen=screen)
    assert problems[["file", "row", "column"]].values.tolist() == [["funder/themes.csv", 2, "exemplar"]]
    assert problems.at[0, "problem"].startswith("quote held back by the identifier screen: name 'Mrs. Alvarez'")
    # the analysts' theme table says which excerpt each exemplar is (for any input: CSV, workbook or REFI-QDA)
    (out / "tables").mkdir(exist_ok=True)
    pd.DataFrame({"theme": ["Barriers", "Benefits"], "exemplar_id": ["X9", "X2"],
                  "exemplar": ["Mrs. Alvarez could not come in.", "It saved us time."]}).to_csv(out / "tables" / "themes.csv", index=False)
    cleared = check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(out),
                     "qualitative": {"approved_quotes": ["X9"]}})
    assert check_funder_outputs(out, cleared, raise_on_problem=False, screen=screen).empty


def test_the_performance_story_page_is_one_the_gate_reads():
    assert STORY_FILE in PAGES


# --- the PDF, the workbook and the slides, whatever their names ------------------------------------------

OUTCOME = pd.DataFrame({"group": ["all", "track=a", "track=b", "track=c"], "n": [60, "<11", 25, 28],
                        "mean": [7.1, "*", 6.8, 7.3]})
TITLE = "Blood pressure by group"


@pytest.fixture
def layout_report(funder_report):
    """The funder report with a four-group table titled in suppression.json, as the layouts show it."""
    out, params = funder_report
    OUTCOME.to_csv(out / "funder" / "outcome.csv", index=False)
    (out / "funder" / "suppression.json").write_text(json.dumps({"tables": {"outcome": {
        "counts": ["n"], "derived": {"mean": ["n"]}, "percentages": {}, "columns": ["group", "n", "mean"],
        "title": TITLE, "exempt": []}}}))
    return out, params


def _pdf(path, body: str, title: str = "Performance story") -> None:
    """A Typst document with a title, two headings (bookmarks), a figure with alt text and a caption, and a page break."""
    (path.parent / "bars.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
                                          '<rect width="40" height="20" fill="#0072B2"/></svg>')
    source = path.with_suffix(".typ")
    source.write_text(f'#set document(title: "{title}")\n{body}\n')
    typst.compile(str(source), output=str(path))
    source.unlink()
    (path.parent / "bars.svg").unlink()


CLEAN_PDF = ('= Outcomes\nOf 60 patients, 40 reached goal (n = 60).\n'
             '#figure(image("bars.svg", alt: "Bars of mean blood pressure for 60 patients"), caption: [Mean by group.])\n'
             '#pagebreak()\n= Value\nCosts fell by 12% across 4 teams.')


def _workbook(path, rows=None, *, sheet="Table 1", note="Counts of 1 to 10 show as <11.") -> None:
    """An "About" sheet, then the outcome table: title in row 1, labels in row 2 (frozen), data below, a note."""
    book = openpyxl.Workbook()
    about = book.active
    about.title = "About"
    about.append(["About these tables"])
    about.append(["Cohort", "tiny"])
    about.append(["Rule", "Counts from 1 to 10 are shown as <11."])
    ws = book.create_sheet(sheet)
    ws.append([f"Table 1. {TITLE}"])
    ws.append(["Group", "People enrolled", "Mean (mmHg)"])
    for r in rows if rows is not None else [["All", 60, 7.1], ["Track A", "<11", "*"], ["Track B", 25, 6.8],
                                            ["Track C", 28, 7.3]]:
        ws.append(r)
    ws.append([])
    ws.append([note])
    ws.freeze_panes = "A3"
    book.save(path)


def _slides(path, *, notes="Blood pressure fell in every group.", alt="Bars of mean blood pressure by group",
            box="Mean blood pressure fell by 4 mmHg.", cells=(("Group", "Patients"), ("All", "60"), ("Track A", "<11")),
            title="Performance story") -> None:
    """Two slides: a title, then a headline with a text box, a picture (alt text), a table and speaker notes."""
    deck = Presentation()
    deck.core_properties.title = title
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Tiny cohort"
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Blood pressure"
    slide.shapes.add_textbox(Inches(1), Inches(1.5), Inches(6), Inches(1)).text_frame.text = box
    png = io.BytesIO()
    Image.new("RGB", (8, 4), "white").save(png, format="PNG")
    picture = slide.shapes.add_picture(io.BytesIO(png.getvalue()), Inches(1), Inches(3), Inches(2))
    picture._element.nvPicPr.cNvPr.set("descr", alt)
    table = slide.shapes.add_table(len(cells), 2, Inches(5), Inches(3), Inches(3), Inches(1)).table
    for r, row in enumerate(cells):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    slide.notes_slide.notes_text_frame.text = notes
    deck.save(path)


def _where(problems: pd.DataFrame) -> list[list]:
    return problems[["file", "row", "column"]].values.tolist()


def test_clean_pdf_workbook_and_slides_pass(layout_report):
    out, params = layout_report
    _pdf(out / "funder" / "tiny_performance_story.pdf", CLEAN_PDF)
    _workbook(out / "funder" / "tiny_tables.xlsx")
    _slides(out / "funder" / "tiny_headlines.pptx")
    assert check_funder_outputs(out, params).empty


def test_pdf_pages_alt_text_and_properties_are_read(layout_report):
    out, params = layout_report
    body = CLEAN_PDF.replace("[Mean by group.]", "[Mean by group; 5 patients had no reading.]")
    body = body.replace("for 60 patients", "for 3 patients").replace("4 teams.", "4 teams, led by P001.")
    body = body.replace("= Value", "= Value: 2 deaths")
    _pdf(out / "funder" / "story.pdf", body, title="Story (n = 4)")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    found = {(row, column, p) for row, column, p in problems[["row", "column", "problem"]].values.tolist()}
    assert set(problems["file"]) == {"funder/story.pdf"}
    assert ("page 1", "", "unsuppressed small count in the text: '5 patients'") in found
    assert ("page 2", "", "patient identifier 'P001' in the text") in found
    assert ("page 1", "Figure Alt", "unsuppressed small count in the alt text: '3 patients'") in found
    assert ("page 2", "", "unsuppressed small count in the text: '2 deaths'") in found
    assert ("bookmarks", "", "unsuppressed small count in a bookmark: '2 deaths'") in found
    for field in ("/Title", "XMP metadata"):  # the title a viewer shows, in both places a PDF keeps it
        assert ("document properties", field, "unsuppressed small count in the document properties: 'n = 4'") in found
    assert len(problems) == len(found) == 7


def test_workbook_cells_are_read_and_tied_to_the_funder_csv(layout_report):
    out, params = layout_report
    rows = [["All", 60, 7.1], ["Track A", 7, "*"], ["Track B", 25, 6.8], ["Track C", 28, "=B5*2"]]
    _workbook(out / "funder" / "anything.xlsx", rows, note="P001 and 5 patients were left out.")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert _where(problems) == [["funder/anything.xlsx", "sheet 'Table 1', cell B4", "People enrolled"],
                                ["funder/anything.xlsx", "sheet 'Table 1', cell C6", ""],
                                ["funder/anything.xlsx", "sheet 'Table 1', cell A8", ""],
                                ["funder/anything.xlsx", "sheet 'Table 1', cell A8", ""]]
    assert problems.loc[0, "problem"] == "unsuppressed small count 7 (counts of 1 to 10 must show as <11)"
    assert problems.loc[1, "problem"].startswith("a formula (=B5*2)")
    assert problems.loc[2, "problem"] == "unsuppressed small count in the text: '5 patients'"
    assert problems.loc[3, "problem"] == "patient identifier 'P001' in the text"
    with pytest.raises(DisclosureError, match=r"funder/anything.xlsx, sheet 'Table 1', cell B4, column 'People enrolled'"):
        check_funder_outputs(out, params)


def test_workbook_may_show_no_cell_the_csv_hides(layout_report):
    """A complementary cell (*) shown as a number is no small count, but the CSV of the same table hides it."""
    out, params = layout_report
    rows = [["All", 60, 7.1], ["Track A", "<11", 6.9], ["Track B", 25, 6.8], ["Track C", 28, 7.3]]
    _workbook(out / "funder" / "tables.xlsx", rows)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert _where(problems) == [["funder/tables.xlsx", "sheet 'Table 1', cell C4", "Mean (mmHg)"]]
    assert problems.loc[0, "problem"].startswith("shows a value computed from a suppressed count (n)")
    rows[1] = ["Track A", "<11", "*"]
    rows[2] = ["Track B", 25, 6.8]
    rows[3] = ["Track C", 28, 7.3]
    rows.append(["Track D", 31, 7.0])  # a row the CSV does not have: its numbers are in no cell of the CSV
    _workbook(out / "funder" / "tables.xlsx", rows)
    problems = check_funder_outputs(out, params, raise_on_problem=False).sort_values("row")
    assert _where(problems) == [["funder/tables.xlsx", "sheet 'Table 1', cell B7", "People enrolled"],
                                ["funder/tables.xlsx", "sheet 'Table 1', cell C7", "Mean (mmHg)"]]
    assert problems["problem"].str.startswith("shows 31, a number funder/outcome.csv does not show in 'n'").iloc[0]


def test_a_sheet_is_tied_to_its_table_by_name_or_title(layout_report):
    out, params = layout_report
    rows = [["All", 60, 7.1], ["Track A", 7, "*"], ["Track B", 25, 6.8], ["Track C", 28, 7.3]]
    _workbook(out / "funder" / "tables.xlsx", rows, sheet="outcome")  # by the sheet's name
    assert _where(check_funder_outputs(out, params, raise_on_problem=False)) == [
        ["funder/tables.xlsx", "sheet 'outcome', cell B4", "People enrolled"]]
    book = openpyxl.load_workbook(out / "funder" / "tables.xlsx")  # by the title alone, header not frozen
    sheet = book["outcome"]
    sheet.title, sheet.freeze_panes = "Blood pressure", None
    book.save(out / "funder" / "tables.xlsx")
    assert _where(check_funder_outputs(out, params, raise_on_problem=False)) == [
        ["funder/tables.xlsx", "sheet 'Blood pressure', cell B4", "People enrolled"]]


def test_slides_text_alt_text_tables_and_notes_are_read(layout_report):
    out, params = layout_report
    _slides(out / "funder" / "deck.pptx", notes="Say: 4 patients did not return.", alt="Bars; 3 patients at goal",
            box="Led by P001.", cells=(("Group", "Patients"), ("All", "60"), ("Track A", "6")), title="P002 headlines")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    records = problems.to_dict("records")
    assert {"file": "funder/deck.pptx", "row": "slide 2, shape 'Picture 3'", "column": "alt text",
            "problem": "unsuppressed small count in the alt text: '3 patients'"} in records
    assert {"file": "funder/deck.pptx", "row": "slide 2, notes", "column": "",
            "problem": "unsuppressed small count in the speaker notes: '4 patients'"} in records
    assert {"file": "funder/deck.pptx", "row": "slide 2, shape 'TextBox 2'", "column": "",
            "problem": "patient identifier 'P001' in the text"} in records
    assert {"file": "funder/deck.pptx", "row": "slide 2, shape 'Table 4', row 3", "column": "Patients",
            "problem": "unsuppressed small count 6 (counts of 1 to 10 must show as <11)"} in records
    assert {"file": "funder/deck.pptx", "row": "docProps/core.xml", "column": "",
            "problem": "patient identifier 'P002' in the document properties"} in records
    assert len(records) == 5


def test_an_identifier_anywhere_in_an_office_file_is_found(layout_report):
    """An id in a part no reader shows (here a slide layout's name) is still found, once."""
    out, params = layout_report
    path = out / "funder" / "deck.pptx"
    _slides(path)
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    layout = "ppt/slideLayouts/slideLayout1.xml"
    parts[layout] = parts[layout].replace(b'<p:cSld name="Title Slide">', b'<p:cSld name="Title Slide P003">')
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    assert _where(check_funder_outputs(out, params, raise_on_problem=False)) == [["funder/deck.pptx", layout, ""]]


def test_docx_table_with_reader_labels_is_tied_to_its_csv(layout_report):
    out, params = layout_report
    document = docx.Document()
    table = document.add_table(rows=5, cols=3)
    for r, row in enumerate([["Group", "People enrolled", "Mean (mmHg)"], ["All", "60", "7.1"], ["Track A", "7", "*"],
                             ["Track B", "25", "6.8"], ["Track C", "28", "7.3"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.save(out / "funder" / "story.docx")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert _where(problems) == [["funder/story.docx (table 1)", 3, "People enrolled"]]


def test_pdf_text_skips_drawings_but_not_text(tmp_path):
    """A page's paths are dropped before the text is extracted (a vector figure is a hundred thousand of them):
    the text is the one pypdf reads from the whole page, and the stream is far shorter."""
    paths = "".join(f'<path d="M{i} 0 L{i + 1} 20 L{i + 2} 5" stroke="black" fill="none"/>' for i in range(400))
    (tmp_path / "lines.svg").write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="20">{paths}'
                                        '<text x="5" y="15" font-size="8">Number at risk</text></svg>')
    (tmp_path / "s.typ").write_text('= Outcomes\nBefore the figure (ET) "quoted" text.\n#figure(image("lines.svg"), '
                                    'caption: [After it.])\n#table(columns: 2, [Group], [Patients], [All], [60])\n'
                                    '#pagebreak()\n#rotate(90deg)[Turned text] and more.')
    typst.compile(str(tmp_path / "s.typ"), output=str(tmp_path / "s.pdf"))
    reader = pypdf.PdfReader(str(tmp_path / "s.pdf"))
    assert pdf_text(tmp_path / "s.pdf").pages == [page.extract_text() for page in reader.pages]
    content = reader.pages[0].get_contents().get_data()
    assert len(text_operations(content)) < len(content) / 5
    assert text_operations(b"q 1 0 0 1 5 5 cm 0 0 m 5 5 l S Q q 2 0 0 2 0 0 cm BT /F1 9 Tf (a \\) ET b) Tj ET Q") == (
        b"q\n2 0 0 2 0 0 cm\nBT /F1 9 Tf (a \\) ET b) Tj ET\nQ")


def test_a_sheet_of_identifiers_fails_by_its_labels(layout_report):
    """Reader's labels are read as names: "Patient ID" is an identifier column, "Date of birth" a date of birth."""
    out, params = layout_report
    book = openpyxl.Workbook()
    book.active.title = "Extra"
    book.active.append(["Patient ID", "Date of birth", "Note"])
    book.active.append(["P001", "1950-01-01", "fine"])
    book.save(out / "funder" / "extra.xlsx")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.to_dict("records") == [
        {"file": "funder/extra.xlsx", "row": "sheet 'Extra', column A", "column": "Patient ID", "problem": "patient identifier column"},
        {"file": "funder/extra.xlsx", "row": "sheet 'Extra', column B", "column": "Date of birth", "problem": "date-of-birth column"},
        {"file": "funder/extra.xlsx", "row": "sheet 'Extra', cell A2", "column": "Patient ID", "problem": "patient identifier 'P001'"}]


def test_a_rounded_cell_does_not_take_the_number_of_another_row():
    """Found on a 2022 cohort: a workbook showing -0.8 (stored -0.80) and -0.84 in a column the CSV partly
    suppresses; each shown number is the CSV's own, so nothing is flagged, whatever the order."""
    assert _unmatched([(0, -0.8), (1, -0.84)], [-0.84, -0.8]) == []
    assert _unmatched([(0, -0.84), (1, -0.8)], [-0.8, -0.84]) == []
    assert _unmatched([(0, -0.8), (1, -0.84), (2, -0.81)], [-0.84, -0.8]) == [(2, -0.81)]


# --- a REDCap export's ids, identifier fields and identifying values -------------------------------------

@pytest.fixture
def redcap_report(tmp_path, tiny_cohort):
    """The tiny cohort as a REDCap export (no patients.csv: its ids are the export's records), a clean report,
    and the made-up identifiers its patients instrument holds (Identifier? = y)."""
    data = write_redcap(tiny_cohort, tmp_path / "redcap")
    records = pd.read_csv(data / "redcap_records.csv", dtype=str, keep_default_na=False)
    names = [v for v in records["patient_name"] if v]
    phones = [v for v in records["patient_phone"] if v]
    out = tmp_path / "report"
    (out / "funder").mkdir(parents=True)
    (out / "tables").mkdir()
    pd.DataFrame({"group": ["all"], "n": [40]}).to_csv(out / "funder" / "outcome.csv", index=False)
    (out / "funder" / "suppression.json").write_text(json.dumps(
        {"tables": {"outcome": {"counts": ["n"], "derived": {}, "percentages": {}, "columns": ["group", "n"]}}}))
    params = check({"cohort_id": "tiny", "data_dir": str(data), "output_dir": str(out)})
    return out, params, names, phones


def test_an_exports_patient_ids_are_known_without_a_patients_csv(redcap_report):
    out, params, _, _ = redcap_report
    assert check_funder_outputs(out, params).empty
    (out / "funder" / "note.txt").write_text("P002 stayed at goal.")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.to_dict("records") == [{"file": "funder/note.txt", "row": "", "column": "",
                                            "problem": "patient identifier 'P002'"}]


def test_an_identifier_field_is_an_identifier_column_in_any_table(redcap_report):
    out, params, _, _ = redcap_report
    pd.DataFrame({"patient_phone": ["x"], "n": [50]}).to_csv(out / "tables" / "contacts.csv", index=False)
    pd.DataFrame({"patient_name": ["x"], "n": [50]}).to_csv(out / "funder" / "names.csv", index=False)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert sorted(map(tuple, problems[["file", "column"]].values.tolist())) == [
        ("funder/names.csv", "patient_name"), ("tables/contacts.csv", "patient_phone")]


def test_identifying_values_are_found_in_cells_and_in_prose_whatever_joins_their_words(redcap_report):
    out, params, names, phones = redcap_report
    first, last = names[0].split(" ")
    digits = "".join(c for c in phones[1] if c.isdigit())
    spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}"  # the same number written with other separators
    pd.DataFrame({"team": ["T01", "T02"], "contact": ["fine", names[2]]}).to_csv(out / "funder" / "contacts.csv", index=False)
    document = docx.Document()
    document.add_paragraph(f"We thank {first}   {last}, who can be reached on {spaced}.")
    document.add_paragraph(f"{first} alone is a first name, not looked for in prose.")
    document.save(out / "funder" / "story.docx")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    found = {(p["file"].split(":")[0], p["problem"]) for p in problems.to_dict("records")}
    assert ("funder/contacts.csv", f"patient identifier '{names[2]}'") in found
    assert ("funder/story.docx", f"patient identifier '{names[0]}' in the text") in found
    assert ("funder/story.docx", f"patient identifier '{phones[1]}' in the text") in found
    assert not any(f"'{first}'" in problem for _, problem in found)
