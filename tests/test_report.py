"""The performance story and the funder pack (evaluation/report/): findings computed from tables, funder tables
suppressed, figures placed by their section, the HTML page, the DOCX and the figure zip."""
from __future__ import annotations

import html
import json
import re
import zipfile

import docx
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from evaluation.analyses.value.compute import ValueAnalysis
from evaluation.core import figures as figure_io
from evaluation.core.outputs import save_table
from evaluation.core.params import check
from evaluation.report.contents import STORY_FILE, docx_name, figure_manifest, zip_name
from evaluation.report.findings import key_findings
from evaluation.report.funder import funder_tables
from evaluation.report.gate import check_funder_outputs
from evaluation.report.pack import build_funder_pack, verify_pack, write_figure_zip
from test_value import seed_002_cohort


@pytest.fixture
def params(tmp_path, tiny_cohort):
    return check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "title": "Tiny cohort"})


def save_seed_value_tables(params):
    """The value notebook's tables for the seed-002 construction (see test_value.py)."""
    patients, teams, utilization, costs = seed_002_cohort()
    va = ValueAnalysis(as_of="2016-12-31").fit(patients, utilization=utilization, program_costs=costs, teams=teams)
    save_table(va.summary, params, "value")
    save_table(va.rates_, params, "value_utilization")
    save_table(va.roi_, params, "value_roi")
    save_table(va.sensitivity_, params, "value_sensitivity")
    return va


def test_funder_tables_are_suppressed_and_carry_no_identifiers(params):
    """Seed 002 by track: advanced has 6 readmissions after enrollment (< 11), so its counts and rates are hidden,
    initial's counts are hidden as a complement (all = initial + advanced), and so is every dollar figure of both
    tracks; the cohort row (136 and 56) is shown."""
    save_seed_value_tables(params)
    save_table(pd.DataFrame({"measure": ["a1c"], "group": ["all"], "n": [50], "patient_id": ["P001"],
                             "mean_change": [-1.0]}), params, "outcome_change")
    tables = funder_tables(params)
    util = pd.read_csv(params.output_dir / "funder" / "value_utilization.csv", dtype=str).set_index(["kind", "group"])
    assert util.loc[("readmission", "all"), ["pre_events", "post_events"]].tolist() == ["136", "56"]
    assert util.loc[("readmission", "track=advanced"), "post_events"] == "<11"
    assert util.loc[("readmission", "track=initial"), "post_events"] == "*"
    assert util.loc[("readmission", "track=advanced"), "rate_ratio"] == "*"
    roi = pd.read_csv(params.output_dir / "funder" / "value_roi.csv", dtype=str).set_index("group")
    assert roi.at["all", "net_return"] == "486304"
    assert roi.at["track=initial", "net_return"] == "*" and roi.at["track=advanced", "cost_avoided"] == "*"
    assert "patient_id" not in tables["outcome_change"].table.columns
    problems = check_funder_outputs(params.output_dir, params, raise_on_problem=False)
    assert problems["file"].tolist() == ["tables/outcome_change.csv"]  # the funder pack is clean; the analyst table is not


def test_funder_threshold_is_the_params_one(tmp_path, tiny_cohort):
    """A threshold below 11 needs its reason, and the reason is stated on every funder output."""
    reason = "data use agreement 2016-07 with the funder allows counts of 5 or more"
    params = check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(tmp_path / "r"),
                    "as_of": "2016-12-31", "suppress_below": 5, "suppress_below_reason": reason})
    save_seed_value_tables(params)
    tables = funder_tables(params)
    util = tables["value_utilization"].table.set_index(["kind", "group"])
    assert util.at[("readmission", "track=advanced"), "post_events"] == 6  # 6 >= 5: shown
    _export_demo_figures(params)
    build_funder_pack(params, key_findings(params), tables)
    stated = f"Counts from 1 to 4 are shown as <5 (a threshold BELOW the CMS cell-size rule of 11, because: {reason})"
    funder = params.output_dir / "funder"
    assert stated in html.unescape((params.output_dir / STORY_FILE).read_text(encoding="utf-8"))
    assert stated in (funder / "README.txt").read_text(encoding="utf-8")
    assert any(stated in p.text for p in docx.Document(str(funder / docx_name(params))).paragraphs[:4])  # up front
    with zipfile.ZipFile(funder / zip_name(params)) as zf:
        assert stated in zf.read("README.txt").decode("utf-8")
    assert json.loads((funder / "suppression.json").read_text(encoding="utf-8"))["threshold_reason"] == reason


def test_default_threshold_is_stated_as_the_cms_rule(params):
    save_seed_value_tables(params)
    funder_tables(params)
    assert (params.output_dir / "funder" / "README.txt").read_text(encoding="utf-8").startswith(
        "Counts from 1 to 10 are shown as <11 (the CMS cell-size rule)")


def _export(params, figure_id: str, notebook: str, section: str) -> None:
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    figure_io.export_figure(fig, params, figure_id, title=f"{figure_id} title", caption=f"{figure_id} caption.",
                            alt_text=f"{figure_id} alt text.", notebook=notebook, section=section)


def _export_demo_figures(params):
    _export(params, "value_demo", "05_value", "value")
    _export(params, "engagement_demo", "01_engagement", "engagement")


def test_performance_story_page_docx_and_zip(params):
    """The page links every figure (each image file exists), the DOCX holds every figure of the manifest with its
    caption and alt text, the zip holds every figure file and the manifest, and the pack passes the check."""
    save_seed_value_tables(params)
    _export_demo_figures(params)
    findings = key_findings(params)
    tables = funder_tables(params)
    written = build_funder_pack(params, findings, tables)
    assert written["file"].iloc[0] == STORY_FILE
    manifest = figure_io.read_manifest(params.figures_dir)

    page = (params.output_dir / STORY_FILE).read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', page)
    assert sorted(s for s, _ in sources) == sorted(f"figures/{i}.png" for i in manifest["figure_id"])
    assert all((params.output_dir / s).is_file() for s, _ in sources)
    assert "engagement_demo caption." in page and "net return of $486,304" in page
    assert page.index("Engagement in the collaborative") < page.index("Value and return on investment")

    document = docx.Document(str(params.output_dir / "funder" / docx_name(params)))
    assert len(document.inline_shapes) == len(manifest)
    alt = {s._inline.docPr.get("descr") for s in document.inline_shapes}
    assert alt == set(manifest["alt_text"])
    text = "\n".join(p.text for p in document.paragraphs)
    assert all(c in text for c in manifest["caption"])
    assert len(document.tables) == len(tables)

    with zipfile.ZipFile(params.output_dir / "funder" / zip_name(params)) as zf:
        names = set(zf.namelist())
    files = {f for fs in manifest["files"] for f in fs.split(";")}
    assert names == files | {"manifest.csv", "README.txt"}
    assert check_funder_outputs(params.output_dir, params, raise_on_problem=False).empty
    checks = verify_pack(params)
    assert checks["ok"].all() and checks.loc[2, "found"] == 2  # two figures in the DOCX
    (params.output_dir / "figures" / "value_demo.png").unlink()
    assert not verify_pack(params)["ok"].all()  # a missing image is caught


def test_captions_with_small_counts_reach_funders_suppressed(params):
    """Another notebook's caption says "5 patients have no measurement": the page, the DOCX and the zip's
    manifest say "<11 patients"; the analysts' manifest keeps the caption as written."""
    fig, ax = plt.subplots()
    figure_io.export_figure(fig, params, "overview_demo", title="Follow-up", caption="585 patients; 5 patients have no measurement.",
                            alt_text="Histogram. 5 patients have no measurement.", notebook="00_data_quality", section="cohort")
    build_funder_pack(params, key_findings(params), funder_tables(params))
    assert "<11 patients have no measurement" in (params.output_dir / "performance_story.html").read_text(encoding="utf-8").replace("&lt;", "<")
    text = "\n".join(p.text for p in docx.Document(str(params.output_dir / "funder" / docx_name(params))).paragraphs)
    assert "<11 patients have no measurement" in text and not re.search(r"\b5 patients", text)
    with zipfile.ZipFile(params.output_dir / "funder" / zip_name(params)) as zf:
        assert not re.search(r"\b5 patients", zf.read("manifest.csv").decode())
    assert "; <11 patients" in figure_io.read_manifest(params.figures_dir).at[0, "caption"]  # captions are funder prose everywhere
    assert check_funder_outputs(params.output_dir, params, raise_on_problem=False).empty


def test_zip_is_the_same_for_the_same_figures(params):
    _export_demo_figures(params)
    first = write_figure_zip(params).read_bytes()
    assert write_figure_zip(params).read_bytes() == first


def _docx_figures_by_heading(path) -> dict[str, str]:
    """Figure caption (its "Figure N. title." lead) -> the section heading it is under, in the DOCX."""
    heading, under = "", {}
    for paragraph in docx.Document(str(path)).paragraphs:
        if paragraph.style.name.startswith("Heading"):
            heading = paragraph.text
        elif paragraph.text.startswith("Figure "):
            under[paragraph.text.split(" caption.")[0]] = heading
    return under


def test_figures_are_placed_by_their_section_in_the_page_and_the_docx(params):
    """The outcomes notebook draws a forest plot (section outcomes) and a run chart (section run_charts): the run
    chart lands under "Monthly measures: run charts and interrupted time series" on the page and in the DOCX, not under "Clinical outcomes"
    with its notebook's other figure; figures are numbered in story order, the same in both."""
    _export(params, "run_chart_a1c", "03_outcomes", "run_charts")
    _export(params, "outcome_forest", "03_outcomes", "outcomes")
    _export(params, "patients_per_team", "00_data_quality", "cohort")
    build_funder_pack(params, key_findings(params), funder_tables(params))

    page = (params.output_dir / STORY_FILE).read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section id="([a-z_]+)"><h2>[^<]*</h2>(.*?)</section>', page, re.S))
    assert list(sections) == ["summary", "findings", "cohort", "outcomes", "run_charts", "methods"]
    assert re.findall(r'<figure id="([a-z_0-9]+)"', sections["run_charts"]) == ["run_chart_a1c"]
    assert re.findall(r'<figure id="([a-z_0-9]+)"', sections["outcomes"]) == ["outcome_forest"]
    assert '<section id="run_charts"><h2>Monthly measures: run charts and interrupted time series</h2>' in page
    assert "<b>Figure 3. run_chart_a1c title.</b>" in sections["run_charts"]

    under = _docx_figures_by_heading(params.output_dir / "funder" / docx_name(params))
    assert under == {"Figure 1. patients_per_team title. patients_per_team": "The cohort",
                     "Figure 2. outcome_forest title. outcome_forest": "Clinical outcomes",
                     "Figure 3. run_chart_a1c title. run_chart_a1c": "Monthly measures: run charts and interrupted time series"}
    document = docx.Document(str(params.output_dir / "funder" / docx_name(params)))
    assert [s._inline.docPr.get("descr") for s in document.inline_shapes] == [
        "patients_per_team alt text.", "outcome_forest alt text.", "run_chart_a1c alt text."]


def test_a_manifest_without_sections_falls_back_to_each_notebooks_section(params):
    """A report written before figures named their section: its records have no section, so each figure goes in
    its notebook's section (the run charts of 03_outcomes then stay under outcomes); an unknown notebook's
    figure goes last, under "Other figures"."""
    _export(params, "run_chart_a1c", "03_outcomes", "run_charts")
    _export(params, "engagement_demo", "01_engagement", "engagement")
    _export(params, "misc_demo", "99_misc", "value")
    for record in params.figures_dir.glob("*_demo.json"):
        old = {k: v for k, v in json.loads(record.read_text(encoding="utf-8")).items() if k != "section"}
        record.write_text(json.dumps(old), encoding="utf-8")
    old = json.loads((params.figures_dir / "run_chart_a1c.json").read_text(encoding="utf-8"))
    (params.figures_dir / "run_chart_a1c.json").write_text(json.dumps({**old, "section": None}), encoding="utf-8")
    m = figure_manifest(params)
    assert m[["figure_id", "section"]].values.tolist() == [["engagement_demo", "engagement"],
                                                           ["run_chart_a1c", "outcomes"], ["misc_demo", "other"]]
    build_funder_pack(params, key_findings(params), funder_tables(params))
    page = (params.output_dir / STORY_FILE).read_text(encoding="utf-8")
    assert page.index("Clinical outcomes") < page.index('<section id="other"><h2>Other figures</h2>') < page.index("misc_demo title")


def test_funder_tables_show_what_was_suppressed_and_say_when_one_is_missing(params):
    """The notebook shows the funder tables as one row per table (rows and cells suppressed by reason)."""
    save_seed_value_tables(params)
    tables = funder_tables(params)
    overview = tables.overview().set_index("table")
    assert list(overview.index) == ["value_utilization", "value_roi", "value_sensitivity"]
    util = tables["value_utilization"].reasons["reason"]
    assert overview.at["value_utilization", "small_counts"] == (util == "small count").sum() > 0
    assert overview.at["value_utilization", "file"] == "funder/value_utilization.csv"
    assert repr(tables) == repr(tables.overview())
    assert tables.table_or_note("value_utilization") is tables["value_utilization"]
    assert tables.table_or_note("themes") == "No themes table: tables/themes.csv was not produced for this cohort."


def test_the_story_names_measures_and_event_kinds_as_a_reader_does(params):
    """The page and the DOCX show "HbA1c (%)" (a mean change is in the measure's unit) and "Readmissions" where the
    funder CSV keeps the codes."""
    save_seed_value_tables(params)
    save_table(pd.DataFrame({"measure": ["a1c"], "group": ["all"], "n": [50], "baseline_mean": [9.0], "followup_mean": [8.0],
                             "mean_change": [-1.0], "change_ci_low": [-1.3], "change_ci_high": [-0.7], "p_value": [0.001]}),
               params, "outcome_change")
    build_funder_pack(params, key_findings(params), funder_tables(params))
    page = (params.output_dir / STORY_FILE).read_text(encoding="utf-8")
    assert "<td>HbA1c (%)</td>" in page and "<td>a1c</td>" not in page and "<td>Readmissions</td>" in page
    cells = {c.text for t in docx.Document(str(params.output_dir / "funder" / docx_name(params))).tables
             for row in t.rows for c in row.cells}
    assert {"HbA1c (%)", "Readmissions", "ED visits"} <= cells and "a1c" not in cells
    assert pd.read_csv(params.output_dir / "funder" / "outcome_change.csv")["measure"].tolist() == ["a1c"]


def test_long_funder_tables_show_summary_rows_in_the_pack(params):
    """A statewide time-to-goal table (1,000 team rows per measure): the funder CSV keeps every row; the page and
    the DOCX show the cohort and track rows and say where the team rows are."""
    teams = [f"team=T{k:04d}" for k in range(1000)]
    groups = ["all", "track=advanced", "track=initial"] + teams
    n = [100_000, 40_000, 60_000] + [100] * 1000
    events = [50_000, 20_000, 30_000] + [50] * 1000
    save_table(pd.DataFrame({"measure": "a1c", "group": groups, "n": n, "events": events,
                             "censored": [a - b for a, b in zip(n, events)], "median_days": 120.0,
                             "median_ci_low": 100.0, "median_ci_high": 140.0, "ci_method": "log-log",
                             "logrank_p": 0.01}), params, "time_to_goal")
    tables = funder_tables(params)
    build_funder_pack(params, key_findings(params), tables)
    assert len(pd.read_csv(params.output_dir / "funder" / "time_to_goal.csv")) == 1003
    page = (params.output_dir / STORY_FILE).read_text(encoding="utf-8")
    assert "The 1,000 team rows are left out (3 of 1,003 rows); every row is in funder/time_to_goal.csv." in page
    assert "team=T0001" not in page
    document = docx.Document(str(params.output_dir / "funder" / docx_name(params)))
    assert [len(t.rows) for t in document.tables] == [1 + 3]
    assert check_funder_outputs(params.output_dir, params, raise_on_problem=False).empty


def test_a_theme_without_a_cleared_quote_says_so_to_funders(params):
    save_table(pd.DataFrame({"theme": ["Barriers", "Barriers"], "code": ["all", "time"], "n_excerpts": [12, 12],
                             "n_teams": [4, 4], "pct_teams": [40.0, 40.0], "exemplar": [None, "We ran out of time."],
                             "exemplar_id": [None, "E7"], "exemplar_team": [None, "T02"],
                             "exemplar_note": ["no quote cleared for funders: 3 held back", ""]}), params, "themes")
    funder_tables(params)
    themes = pd.read_csv(params.output_dir / "funder" / "themes.csv", keep_default_na=False)
    assert themes["exemplar"].tolist() == ["no quote cleared for funders", "We ran out of time."]
    assert "exemplar_id" not in themes.columns and "exemplar_note" not in themes.columns
