"""The sensitivity summary of a sweep: the long table, the conclusions, the figures and the page, on report folders
written by hand (funder CSVs and provenance.json of three variants) where every answer is known."""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evaluation.report.sensitivity import SweepVariant, write_sensitivity_summary

OUTCOME_HEADER = ("measure,group,n,baseline_mean,followup_mean,mean_change,change_ci_low,change_ci_high,p_value,"
                  "cohen_dz,pct_goal_baseline,pct_goal_followup,mcnemar_p")
TTG_HEADER = "measure,group,n,events,censored,median_days,median_ci_low,median_ci_high,ci_method,logrank_p"
UTIL_HEADER = ("kind,group,patients,pre_events,post_events,pre_rate,post_rate,rate_ratio,ci_low,ci_high,p_value,"
               "change_pct,cost_per_event,cost_avoided")
ROI_HEADER = "group,patients,cost_avoided,program_cost,net_return,net_roi_pct,roi_per_patient"

# base: params as written. a1c-lt7 (overrides goals.a1c): fewer at goal at follow-up than at baseline, systolic
# blood pressure suppressed, median time to goal not reached, ED visits' CI includes 1, no cost data (no ROI CSV).
# ci-log (overrides ci_method): the same conclusions as base.
FUNDER = {
    "base": {
        "outcome_change": [
            "a1c,all,120,8.6,7.8,-0.8,-0.9,-0.7,< 0.001,-0.9,30.0,55.0,< 0.001",
            "a1c,track=advanced,40,8.6,12.0,3.4,3.0,3.8,< 0.001,0.9,10.0,5.0,0.2",  # a subgroup: never a headline
            "sbp,all,100,147.0,140.0,-7.0,-9.0,-5.0,< 0.001,-0.5,40.0,45.0,0.01",
            "bp,all,100,,,,,,,,20.0,30.0,< 0.001",
        ],
        "time_to_goal": ["a1c,all,100,60,40,200.0,150,260,log-log,"],
        "value_utilization": ["ed_visit,all,200,100,80,50.0,40.0,0.8,0.7,0.92,0.002,-20.0,1500,30000"],
        "value_roi": ["all,200,300000,100000,200000,200.0,1000"],
    },
    "a1c-lt7": {
        "outcome_change": [
            "a1c,all,120,8.6,7.9,-0.5,-0.6,-0.4,< 0.001,-0.6,30.0,20.0,< 0.001",
            "sbp,all,<11,*,*,*,*,*,*,*,*,*,*",
            "bp,all,100,,,,,,,,20.0,30.0,< 0.001",
        ],
        "time_to_goal": ["a1c,all,100,40,60,,300,,log-log,"],
        "value_utilization": ["ed_visit,all,200,100,95,50.0,47.5,0.95,0.8,1.12,0.5,-5.0,1500,7500"],
    },
    "ci-log": {
        "outcome_change": [
            "a1c,all,120,8.6,7.8,-0.8,-0.9,-0.7,< 0.001,-0.9,30.0,55.0,< 0.001",
            "sbp,all,100,147.0,140.0,-7.0,-9.0,-5.0,< 0.001,-0.5,40.0,45.0,0.01",
            "bp,all,100,,,,,,,,20.0,30.0,< 0.001",
        ],
        "time_to_goal": ["a1c,all,100,60,40,200.0,140,270,log,"],
        "value_utilization": ["ed_visit,all,200,100,80,50.0,40.0,0.8,0.7,0.92,0.002,-20.0,1500,30000"],
        "value_roi": ["all,200,300000,100000,200000,200.0,1000"],
    },
}
HEADERS = {"outcome_change": OUTCOME_HEADER, "time_to_goal": TTG_HEADER, "value_utilization": UTIL_HEADER,
           "value_roi": ROI_HEADER}
OVERRIDES = {"base": {}, "a1c-lt7": {"goals.a1c": "< 7"}, "ci-log": {"ci_method": "log"}}


def params(name: str) -> dict:
    """The resolved params each variant's provenance records."""
    return {"cohort_id": "c1", "alpha": 0.05, "suppress_below": 11, "title": f"C1 ({name})",
            "ci_method": "log" if name == "ci-log" else "log-log",
            "goals": {"a1c": "< 7" if name == "a1c-lt7" else "< 8", "sbp": "< 140"},
            "windows": {"followup_max_days": 365}, "value": {"rate_model": "poisson_robust"}}


def write_report(folder: Path, name: str) -> Path:
    (folder / "funder").mkdir(parents=True)
    for table, rows in FUNDER[name].items():
        (folder / "funder" / f"{table}.csv").write_text("\n".join([HEADERS[table], *rows]) + "\n", encoding="utf-8")
    (folder / "provenance.json").write_text(json.dumps({"cohort_id": "c1", "params": params(name)}), encoding="utf-8")
    (folder / "index.html").write_text("<!DOCTYPE html><title>report</title>", encoding="utf-8")
    return folder


@pytest.fixture
def variants(tmp_path: Path) -> list[SweepVariant]:
    return [SweepVariant("c1", name, OVERRIDES[name], write_report(tmp_path / "variants" / "c1" / name, name))
            for name in FUNDER]


@pytest.fixture
def summary(tmp_path: Path, variants) -> Path:
    out = tmp_path / "summary"
    index = write_sensitivity_summary(out, "demo", variants, "Goals and CI methods.")
    assert index == out / "index.html"
    return out


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def row(table: pd.DataFrame, **where) -> pd.Series:
    pick = table
    for k, v in where.items():
        pick = pick[pick[k] == v]
    assert len(pick) == 1, (where, len(pick))
    return pick.iloc[0]


def test_the_long_table_has_a_row_per_variant_and_headline_from_the_all_group(summary):
    t = read(summary / "sensitivity.csv")
    assert list(t.columns) == ["cohort_id", "variant", "goals.a1c", "ci_method", "result", "measure", "label", "n",
                               "estimate", "ci_low", "ci_high", "unit", "method", "shown", "suppressed"]
    base = t[t["variant"] == "base"]
    # 3 measures x (n, % at baseline, % at follow-up) + 2 mean changes (none for the combined bp goal)
    # + 1 median time to goal + 1 rate ratio + 1 ROI
    assert len(base) == 9 + 2 + 1 + 1 + 1
    a1c = row(t, variant="base", result="mean_change", measure="a1c")
    assert (a1c["estimate"], a1c["ci_low"], a1c["ci_high"], a1c["n"]) == ("-0.8", "-0.9", "-0.7", "120")
    assert (a1c["label"], a1c["unit"], a1c["method"]) == ("Mean change in HbA1c (%)", "%", "paired t")
    assert row(t, variant="ci-log", result="median_time_to_goal", measure="a1c")["method"] == "Kaplan-Meier, log CI"
    assert row(t, variant="base", result="median_time_to_goal", measure="a1c")["method"] == "Kaplan-Meier, log-log CI"
    rr = row(t, variant="base", result="rate_ratio", measure="ed_visit")
    assert (rr["estimate"], rr["ci_low"], rr["ci_high"], rr["n"]) == ("0.8", "0.7", "0.92", "200")
    assert rr["method"] == "Poisson rate ratio, robust SE"
    assert row(t, variant="base", result="net_roi_pct", measure="")["estimate"] == "200"
    assert t[(t["result"] == "mean_change") & (t["measure"] == "bp")].empty


def test_swept_settings_come_from_the_override_or_else_the_variants_provenance(summary):
    t = read(summary / "sensitivity.csv")
    settings = t.drop_duplicates("variant").set_index("variant")[["goals.a1c", "ci_method"]]
    assert settings.to_dict("index") == {"base": {"goals.a1c": "< 8", "ci_method": "log-log"},
                                         "a1c-lt7": {"goals.a1c": "< 7", "ci_method": "log-log"},
                                         "ci-log": {"goals.a1c": "< 8", "ci_method": "log"}}


def test_a_suppressed_cell_stays_suppressed(summary):
    t = read(summary / "sensitivity.csv")
    sbp = row(t, variant="a1c-lt7", result="mean_change", measure="sbp")
    assert (sbp["shown"], sbp["estimate"], sbp["ci_low"], sbp["ci_high"], sbp["n"]) == ("*", "", "", "", "<11")
    assert sbp["suppressed"] == "True"
    n = row(t, variant="a1c-lt7", result="n", measure="sbp")
    assert (n["shown"], n["estimate"], n["n"]) == ("<11", "", "<11")
    c = row(read(summary / "conclusions.csv"), result="mean_change", measure="sbp")
    assert (c["in base"], c["in a1c-lt7"], c["in ci-log"], c["holds"], c["differs_in"]) == (
        "fell", "suppressed", "fell", "False", "a1c-lt7")
    page = (summary / "index.html").read_text(encoding="utf-8")
    assert "* (* to *)" in page  # the table shows the marks, as the funder CSV does
    manifest = read(summary / "figures" / "manifest.csv")
    fig = manifest[manifest["file"].str.contains("mean_change_sbp")].iloc[0]
    assert "Not shown: a1c-lt7" in fig["caption"]
    assert "a1c-lt7 suppressed" in fig["alt_text"]


def test_conclusions_that_hold_and_that_flip(summary):
    c = read(summary / "conclusions.csv")
    assert list(c.columns[:7]) == ["cohort_id", "result", "measure", "label", "conclusion", "holds", "differs_in"]
    expected = {  # (result, measure): (base, a1c-lt7, ci-log)
        ("pct_goal_followup", "a1c"): ("above baseline", "below baseline", "above baseline"),
        ("mean_change", "a1c"): ("fell", "fell", "fell"),
        ("pct_goal_followup", "sbp"): ("above baseline", "suppressed", "above baseline"),
        ("mean_change", "sbp"): ("fell", "suppressed", "fell"),
        ("pct_goal_followup", "bp"): ("above baseline", "above baseline", "above baseline"),
        ("median_time_to_goal", "a1c"): ("reached", "not reached", "reached"),
        ("rate_ratio", "ed_visit"): ("fewer", "no clear change", "fewer"),
        ("net_roi_pct", ""): ("positive", "not available", "positive"),
    }
    got = {(r["result"], r["measure"]): (r["in base"], r["in a1c-lt7"], r["in ci-log"]) for _, r in c.iterrows()}
    assert got == expected
    held = c[c["holds"] == "True"]
    assert set(zip(held["result"], held["measure"])) == {("mean_change", "a1c"), ("pct_goal_followup", "bp")}
    assert set(c.loc[c["holds"] == "False", "differs_in"]) == {"a1c-lt7"}
    assert row(c, result="median_time_to_goal", measure="a1c")["conclusion"] == "reached"


def test_the_page_says_what_holds_and_names_the_flip(summary, tmp_path):
    page = (summary / "index.html").read_text(encoding="utf-8")
    holds = page.split("<h2>What holds across the grid</h2>")[1].split("<h2>What changes</h2>")[0]
    changes = page.split("<h2>What changes</h2>")[1].split("<h2>")[0]
    assert "Mean change in HbA1c (%): fell (CI below 0) in all 3 variants" in holds
    assert "\u22120.80, 95% CI \u22120.90 to \u22120.70" in holds  # the numbers of the variants, with minus signs
    ed = next(li for li in changes.split("<li>") if li.startswith("Rate ratio of ED visits"))
    assert "no clear change (CI includes 1) in a1c-lt7 (0.95, 95% CI 0.80 to 1.12)" in ed
    assert "differs from the base in a1c-lt7" in ed
    assert "Median time to goal, HbA1c (days): reached in base and ci-log" in changes
    assert "not reached in a1c-lt7" in changes
    assert "Goals and CI methods." in page
    assert "<code>&lt; 7</code>" in page  # the grid
    # self-contained, relative links only, no folder of the machine
    assert str(tmp_path) not in page and "http" not in page and "<script" not in page
    for name in FUNDER:
        assert f'href="../variants/c1/{name}/index.html"' in page
    for f in read(summary / "figures" / "manifest.csv")["file"]:
        assert f'src="{f}"' in page


def test_figures_have_numbered_captions_alt_text_and_the_same_bytes_each_time(summary, tmp_path, variants):
    manifest = read(summary / "figures" / "manifest.csv")
    assert list(manifest.columns) == ["file", "caption", "alt_text"]
    # one per result and measure: % at goal (a1c, sbp, bp), mean change (a1c, sbp), time to goal, rate ratio, ROI
    assert len(manifest) == 8
    assert [c.split(".")[0] for c in manifest["caption"]] == [f"Figure {i}" for i in range(1, 9)]
    assert all((summary / f).exists() for f in manifest["file"])
    assert all(a.startswith("Dot plot") for a in manifest["alt_text"])
    again = tmp_path / "again"
    write_sensitivity_summary(again, "demo", variants, "Goals and CI methods.")
    for f in manifest["file"]:
        data = (summary / f).read_bytes()
        assert data == (again / f).read_bytes()
        assert b"Software" not in data and b"Date" not in data
    for name in ("sensitivity.csv", "conclusions.csv", "index.html", "figures/manifest.csv"):
        assert (summary / name).read_bytes() == (again / name).read_bytes()


def test_links_point_where_the_summary_is_published(tmp_path, variants):
    staging, published = tmp_path / "staging" / "x", tmp_path / "sweeps" / "demo"
    write_sensitivity_summary(staging, "demo", variants, published_dir=published)
    shutil.copytree(staging, published)
    page = (published / "index.html").read_text(encoding="utf-8")
    for name in FUNDER:
        href = page.split(f">{name}</a>")[0].rsplit('href="', 1)[1].split('"')[0]
        assert (published / href).resolve() == (tmp_path / "variants" / "c1" / name / "index.html").resolve()


def test_a_cohort_without_a_csv_gives_no_rows_for_it(tmp_path):
    names = ("base", "ci-log")
    vs = []
    for name in names:
        folder = write_report(tmp_path / name, name)
        (folder / "funder" / "value_roi.csv").unlink()
        (folder / "funder" / "time_to_goal.csv").unlink()
        vs.append(SweepVariant("c1", name, OVERRIDES[name], folder))
    out = tmp_path / "out"
    write_sensitivity_summary(out, "two", vs)
    t = read(out / "sensitivity.csv")
    assert not set(t["result"]) & {"net_roi_pct", "median_time_to_goal"}
    c = read(out / "conclusions.csv")
    assert list(c.columns[7:]) == ["in base", "in ci-log"]
    assert (c["holds"] == "True").all()  # ci-log changes no conclusion here
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "No conclusion changes" in page


def test_on_a_real_report_the_headlines_are_the_funder_csvs_all_row(small_report, tmp_path):
    """The small cohort's published report as the base and as a variant: the rows match its funder CSVs."""
    report = small_report.parent / "reports" / "small"
    variant = tmp_path / "variant"
    shutil.copytree(report, variant)
    vs = [SweepVariant("small", "base", {}, report), SweepVariant("small", "a1c7", {"goals.a1c": "< 7"}, variant)]
    out = tmp_path / "out"
    write_sensitivity_summary(out, "small", vs)
    t = read(out / "sensitivity.csv")
    with open(report / "funder" / "outcome_change.csv", newline="", encoding="utf-8") as fh:
        funder = [r for r in csv.DictReader(fh) if r["group"] == "all"]
    for r in funder:
        got = row(t, variant="base", result="pct_goal_followup", measure=r["measure"])
        assert got["shown"] == r["pct_goal_followup"]
        if r["mean_change"] and r["mean_change"] not in ("*",) and not r["mean_change"].startswith("<"):
            got = row(t, variant="base", result="mean_change", measure=r["measure"])
            assert math.isclose(float(got["estimate"]), float(r["mean_change"]))
            assert math.isclose(float(got["ci_low"]), float(r["change_ci_low"]))
    assert t.loc[t["variant"] == "a1c7", "goals.a1c"].unique().tolist() == ["< 7"]
    assert t.loc[t["variant"] == "base", "goals.a1c"].unique().tolist() == ["< 8"]  # from its provenance
    c = read(out / "conclusions.csv")
    assert (c["holds"] == "True").all()  # the same report twice: nothing flips
    assert len(read(out / "figures" / "manifest.csv")) > 0


def test_without_a_base_the_most_common_conclusion_is_the_reference_and_cohorts_are_kept_apart(tmp_path, variants):
    """A second cohort whose variants are named x, y, z (no base): y reads as a1c-lt7 did, x and z as the base."""
    same_as = {"x": "ci-log", "y": "a1c-lt7", "z": "base"}
    second = [SweepVariant("c2", name, {"windows.followup_max_days": 180 if name == "y" else 365},
                           write_report(tmp_path / "c2" / name, data)) for name, data in same_as.items()]
    out = tmp_path / "out"
    write_sensitivity_summary(out, "two-cohorts", variants + second)
    c = read(out / "conclusions.csv")
    c2 = c[c["cohort_id"] == "c2"].set_index(["result", "measure"])
    assert c2.loc[("pct_goal_followup", "a1c"), ["conclusion", "holds", "differs_in"]].tolist() == [
        "above baseline", "False", "y"]
    assert c2.loc[("net_roi_pct", ""), ["in x", "in y", "in z", "differs_in"]].tolist() == [
        "positive", "not available", "positive", "y"]
    assert (c.loc[c["cohort_id"] == "c2", "in base"] == "").all()  # a variant the cohort has not: no conclusion
    t = read(out / "sensitivity.csv")
    # a key only the second cohort's variants set: the first cohort's values come from their provenance
    assert t.drop_duplicates(["cohort_id", "variant"])["windows.followup_max_days"].tolist() == [
        "365", "365", "365", "365", "180", "365"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Cohort c2, median time to goal, HbA1c (days): reached in x and z" in page
    assert "differs from the most common conclusion in y" in page
