"""The disclosure gate (evaluation/report/gate.py): every funder output is read back as a funder reads it and any
patient identifier, date of birth, unsuppressed small count or unscreened quote is named by file, row and column."""
from __future__ import annotations

import json
import zipfile

import docx
import pandas as pd
import pytest

from evaluation.core.errors import EvaluationError
from evaluation.core.params import check
from evaluation.report.contents import STORY_FILE
from evaluation.report.gate import PAGES, DisclosureError, check_funder_outputs


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
    with pytest.raises(DisclosureError, match=r"performance_story.html, row line 1, column '<li>': .*'3 of 40 patients'"):
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
