"""Focus-group coding (notebook 02): code rules, the theme table and its exemplars, presence by team, track
and phase, co-occurrence, inter-rater reliability, the figures and the notebook.

Reliability is checked on hand-built examples with the arithmetic in the docstrings (the statistics
themselves are checked against published values in tests/test_stats_agreement.py).
"""
from __future__ import annotations

import dataclasses
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from evaluation import DataValidationError, ParamsError, load_cohort
from evaluation.analyses.focus_groups import compute as fg_compute
from evaluation.analyses.focus_groups import figures as fg_figures
from evaluation.analyses.focus_groups import findings as fg_findings
from evaluation.analyses.focus_groups import reliability as fg_reliability
from evaluation.core import figures as figure_io
from evaluation.core import outputs
from evaluation.core.params import check
from evaluation.core.paths import REPO_ROOT, REPORTS_ENV, scratch_dir
from evaluation.data import loading, qualitative
from evaluation.data.qualitative import EXCERPT_COLUMNS, normalise
from evaluation.data.refi_qda_writer import export_qdpx
from evaluation.report import funder
from tests.conftest import TINY, run_notebook_cells, write_cohort
from tests.test_stats_agreement import KRIPPENDORFF_C

matplotlib.use("Agg")

QUICK = fg_compute.CodingSettings(bootstrap_samples=0)  # no bootstrap where only point estimates are checked


def make_tables(excerpts, codings, codebook, sources=None, teams=None):
    """QualitativeTables from plain rows: excerpts (id, source, team, text[, exemplar]), codings, codebook."""
    ex = pd.DataFrame([e if len(e) == 5 else (*e, 0) for e in excerpts], columns=EXCERPT_COLUMNS)
    if sources is None:
        sources = [(s, "focus_group", "2015-07-01", None, None) for s in sorted(ex["source_id"].unique())]
    return normalise(pd.DataFrame(sources, columns=["source_id", "kind", "held_on", "team_id", "phase"]), ex,
                     pd.DataFrame(codings, columns=["excerpt_id", "coder", "code"]),
                     pd.DataFrame(codebook, columns=["code", "theme", "definition"]),
                     pd.DataFrame(teams or [("T1", "One", "initial"), ("T2", "Two", "initial"), ("T3", "Three", "advanced")],
                                  columns=["team_id", "team_name", "track"]))


def two_coder_example():
    """50 excerpts of one focus group; code X: both coders 20, only A 5, only B 10, neither 15."""
    excerpts = [(f"E{i:02d}", "S1", "T1", f"turn {i}") for i in range(50)]
    codings = []
    for i in range(50):
        if i < 25:  # E00-E19 both, E20-E24 A only
            codings.append((f"E{i:02d}", "A", "X"))
        if i < 20 or 25 <= i < 35:  # E25-E34 B only
            codings.append((f"E{i:02d}", "B", "X"))
    return make_tables(excerpts, codings, [("X", "Theme", "def")])


# --- inter-rater reliability: hand-computed examples ---------------------------------------------------

def test_kappa_two_coders_fifty_excerpts():
    """Reference: 2x2 table both 20 / A only 5 / B only 10 / neither 15 gives kappa 0.40.

    po = (20 + 15) / 50 = 0.70; A says yes 25/50 = 0.5, B 30/50 = 0.6;
    pe = 0.5 * 0.6 + 0.5 * 0.4 = 0.50; kappa = (0.70 - 0.50) / (1 - 0.50) = 0.40 (Landis-Koch: fair).
    Alpha by hand: n = 100 values, n1 = 55, n0 = 45, 15 disagreeing units give o01 = o10 = 15;
    Do = 30/100 = 0.3, De = 2 * 45 * 55 / (100 * 99) = 0.5, alpha = 1 - 0.3/0.5 = 0.40.
    """
    irr = fg_reliability.inter_rater_reliability(two_coder_example(), QUICK)
    row = irr.summary.set_index("code").loc["X"]
    assert row["n_excerpts"] == 50 and row["n_coders"] == 2
    assert row["percent_agreement"] == pytest.approx(70.0)
    assert row["cohen_kappa"] == pytest.approx(0.40)
    assert row["krippendorff_alpha"] == pytest.approx(0.40)
    assert row["landis_koch"] == "fair"


def test_three_coders_mean_pairwise_kappa_and_alpha():
    """Three coders, six excerpts, one code (hand arithmetic).

    A 1 1 0 0 1 0 | B 1 0 0 0 1 0 | C 1 1 1 0 0 0
    AB: po 5/6, pe .5*(1/3) + .5*(2/3) = .5, kappa 2/3;  AC: po 4/6, pe .5, kappa 1/3;
    BC: po 3/6, pe (1/3)(1/2) + (2/3)(1/2) = .5, kappa 0;  mean (Light 1971) = 1/3.
    All three agree on excerpts 1, 4, 6: 50%.
    Alpha: units 2, 3 and 5 each hold one odd value: (2*1*2)/(3-1) = 2 disagreeing pairs each, 6 in all;
    n = 18, n1 = 8, n0 = 10; Do = 6/18, De = 2*10*8/(18*17) = 160/306; alpha = 1 - (6/18)/(160/306) = 0.3625.
    """
    marks = {"A": "110010", "B": "100010", "C": "111000"}
    excerpts = [(f"E{i}", "S1", "T1", f"turn {i}") for i in range(1, 7)]
    codings = [(f"E{i + 1}", c, "X") for c, m in marks.items() for i, v in enumerate(m) if v == "1"]
    codings += [(f"E{i}", c, "Y") for c in marks for i in range(1, 7)]  # Y: everybody, everywhere
    irr = fg_reliability.inter_rater_reliability(make_tables(excerpts, codings, [("X", "T", "d"), ("Y", "T", "d")]), QUICK)
    row = irr.summary.set_index("code").loc["X"]
    assert row["cohen_kappa"] == pytest.approx(1 / 3)
    assert row["percent_agreement"] == pytest.approx(50.0)
    assert row["krippendorff_alpha"] == pytest.approx(0.3625)
    assert "mean of Cohen's kappa over 3 coder pairs" in row["note"]


def test_three_coders_with_missing_decisions():
    """C coded only focus group S1 (E1-E3), so C has no decision on S2's E4 and E5 (missing, by coder_scope).

         E1 E2 E3 E4 E5
    A     1  0  0  1  0
    B     1  1  0  1  1
    C     1  0  0  .  .
    Alpha: E2 {0,1,0} gives 2*1*2/(3-1) = 2 disagreeing pairs, E5 {0,1} gives 2*1*1/(2-1) = 2: 4 in all;
    n = 13 values, n1 = 7, n0 = 6; Do = 4/13, De = 2*6*7/(13*12) = 84/156; alpha = 1 - 624/1092 = 3/7.
    Kappa pairs: AB over E1-E5 po .6, pe .4*.8 + .6*.2 = .44, kappa .16/.56 = 2/7; AC over E1-E3 po 1,
    pe 1/9 + 4/9 = 5/9, kappa 1; BC over E1-E3 po 2/3, pe 2/9 + 2/9 = 4/9, kappa (2/9)/(5/9) = .4;
    mean (2/7 + 1 + .4)/3 = 0.5619. All reviewers agree on E1, E3, E4: 60%.
    """
    excerpts = [(f"E{i}", "S1" if i <= 3 else "S2", "T1", "t") for i in range(1, 6)]
    codings = [("E1", "A", "X"), ("E4", "A", "X"), ("E1", "B", "X"), ("E2", "B", "X"), ("E4", "B", "X"),
               ("E5", "B", "X"), ("E1", "C", "X")]
    row = fg_reliability.inter_rater_reliability(make_tables(excerpts, codings, [("X", "T", "d")]), QUICK).summary.iloc[0]
    assert (row["code"], row["n_excerpts"], row["n_coders"]) == ("X", 5, 3)
    assert row["krippendorff_alpha"] == pytest.approx(3 / 7)
    assert row["cohen_kappa"] == pytest.approx((2 / 7 + 1 + 0.4) / 3)
    assert row["percent_agreement"] == pytest.approx(60.0)


def test_overall_row_pools_every_decision():
    """Overall pools (excerpt, code) decisions: codes X (kappa .40 example) and Z (nobody) over 50 excerpts.

    100 units: X as in the 2x2 example, Z all 0/0. po = (35 + 50)/100 = .85; A yes 25/100, B yes 30/100;
    pe = .25*.30 + .75*.70 = .60; kappa = (.85 - .60)/(1 - .60) = .625.
    """
    t = two_coder_example()
    t = normalise(t.sources, t.excerpts, t.codings, pd.DataFrame([("X", "Theme", "d"), ("Z", "Theme", "d")],
                                                               columns=["code", "theme", "definition"]), t.teams)
    overall = fg_reliability.inter_rater_reliability(t, QUICK).summary.set_index("code").loc["overall"]
    assert overall["cohen_kappa"] == pytest.approx(0.625)
    assert overall["percent_agreement"] == pytest.approx(85.0)


def test_consensus_coder_is_not_a_rater():
    """Under code_rule consensus the consensus coder's codings are left out of reliability: kappa stays 0.40."""
    t = two_coder_example()
    extra = pd.DataFrame([(f"E{i:02d}", "CONS", "X") for i in range(0, 50, 2)], columns=["excerpt_id", "coder", "code"])
    t = normalise(t.sources, t.excerpts, pd.concat([t.codings, extra]), t.codebook, t.teams)
    s = fg_compute.CodingSettings(code_rule="consensus", consensus_coder="CONS", bootstrap_samples=0)
    row = fg_reliability.inter_rater_reliability(t, s).summary.set_index("code").loc["X"]
    assert row["n_coders"] == 2 and row["cohen_kappa"] == pytest.approx(0.40)
    assert fg_reliability.inter_rater_reliability(t, QUICK).summary.set_index("code").at["X", "n_coders"] == 3


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate():
    """The alpha CI is a percentile bootstrap over excerpts: same seed, same CI; it contains the estimate."""
    t = two_coder_example()
    s = fg_compute.CodingSettings(bootstrap_samples=200, seed=7)
    a = fg_reliability.inter_rater_reliability(t, s).summary.set_index("code").loc["X"]
    b = fg_reliability.inter_rater_reliability(t, s).summary.set_index("code").loc["X"]
    c = fg_reliability.inter_rater_reliability(t, fg_compute.CodingSettings(bootstrap_samples=200, seed=8)).summary.set_index("code").loc["X"]
    assert (a["alpha_ci_low"], a["alpha_ci_high"]) == (b["alpha_ci_low"], b["alpha_ci_high"])
    assert (a["alpha_ci_low"], a["alpha_ci_high"]) != (c["alpha_ci_low"], c["alpha_ci_high"])
    assert a["alpha_ci_low"] < 0.40 < a["alpha_ci_high"]


# --- awkward cases of reliability ---------------------------------------------------------------------

def test_code_applied_by_nobody_or_everybody_is_not_computable():
    """kappa is 0/0 when pe = 1: reported as NaN with the reason, no crash; alpha likewise."""
    excerpts = [(f"E{i}", "S1", "T1", "t") for i in range(4)]
    codings = [(f"E{i}", c, "ALL") for i in range(4) for c in ("A", "B")]
    t = make_tables(excerpts, codings, [("ALL", "T", "d"), ("NONE", "T", "d")])
    table = fg_reliability.inter_rater_reliability(t, fg_compute.CodingSettings(bootstrap_samples=20)).summary.set_index("code")
    for code, why in (("ALL", "every coder applied this code to every excerpt"), ("NONE", "no coder applied this code")):
        assert np.isnan(table.at[code, "cohen_kappa"]) and np.isnan(table.at[code, "krippendorff_alpha"])
        assert why in table.at[code, "note"] and "alpha not computable" in table.at[code, "note"]
        assert table.at[code, "landis_koch"] == "not computable"
        assert table.at[code, "percent_agreement"] == 100.0


def test_single_coder_skips_reliability_with_a_note():
    t = make_tables([("E1", "S1", "T1", "t")], [("E1", "A", "X")], [("X", "T", "d")])
    irr = fg_reliability.inter_rater_reliability(t, QUICK)
    assert irr.note == "Inter-rater reliability skipped: only one coder (A) coded the excerpts; it needs two or more."
    assert list(irr.summary.columns) == fg_reliability.IRR_COLUMNS and irr.summary.empty and not irr.computable
    assert "only one coder" in irr._repr_html_()


def test_coders_who_never_read_the_same_transcript():
    """A coded S1, B coded S2: no excerpt has two coders, so reliability is skipped with that reason."""
    t = make_tables([("E1", "S1", "T1", "t"), ("E2", "S2", "T1", "t")], [("E1", "A", "X"), ("E2", "B", "X")],
                    [("X", "T", "d")])
    assert fg_reliability.inter_rater_reliability(t, QUICK).note.endswith("no excerpt was coded by two or more coders.")


def test_coder_scope_excerpt_counts_only_excerpts_both_coders_coded():
    """With coder_scope = excerpt a coder reviewed only the excerpts they applied some code to.

    In the 50-excerpt example that leaves the 20 excerpts both coded (A-only and B-only excerpts have one
    reviewer; 'neither' excerpts none), on which both said yes: kappa is 0/0, not computable. This is why
    the default scope is the transcript (source).
    """
    irr = fg_reliability.inter_rater_reliability(two_coder_example(), fg_compute.CodingSettings(coder_scope="excerpt", bootstrap_samples=0))
    row = irr.summary.set_index("code").loc["X"]
    assert row["n_excerpts"] == 20
    assert np.isnan(row["cohen_kappa"]) and "every coder applied this code to every excerpt" in row["note"]


# --- theme table, code rules, exemplars -------------------------------------------------------------

def rule_example():
    """Three coders on four excerpts of one focus group; E4 has no team (a coach speaking).

    Code P: E1 by A, B, C; E2 by A, B; E3 by A; E4 by A, B.     Code Q: E2 by C.
    """
    excerpts = [("E1", "S1", "T1", "We share our wins on the call."), ("E2", "S1", "T2", "The calls keep us on track."),
                ("E3", "S1", "T2", "Calls."), ("E4", "S1", None, "Coach: let us hear from everyone.")]
    codings = [("E1", "A", "P"), ("E1", "B", "P"), ("E1", "C", "P"), ("E2", "A", "P"), ("E2", "B", "P"),
               ("E3", "A", "P"), ("E4", "A", "P"), ("E4", "B", "P"), ("E2", "C", "Q")]
    return make_tables(excerpts, codings, [("P", "Design", "d"), ("Q", "Design", "d"), ("R", "Benefits", "d")])


@pytest.mark.parametrize("rule, coder, expected", [
    ("any", None, {"P": 4, "Q": 1}),        # P on E1-E4; Q on E2
    ("all", None, {"P": 1, "Q": 0}),        # only E1 has P from all three
    ("majority", None, {"P": 3, "Q": 0}),   # 3/3 on E1, 2/3 on E2 and E4; 1/3 on E3 is not > 1.5
    ("consensus", "C", {"P": 1, "Q": 1}),   # C applied P to E1 and Q to E2
])
def test_code_rule_decides_what_counts(rule, coder, expected):
    t = fg_compute.theme_table(rule_example(), fg_compute.CodingSettings(code_rule=rule, consensus_coder=coder))
    got = t[t["code"] != fg_compute.THEME_ROW].set_index("code")["n_excerpts"]
    assert got.to_dict() == {**expected, "R": 0}


def test_theme_table_counts_excerpts_and_teams():
    """Rule any. Design: E1-E4 (4 excerpts), teams T1 and T2 (E4 has no team) of the 2 teams that spoke = 100%.

    Codes are listed under their theme, most excerpts first; a code nobody applied has 0 and no exemplar.
    """
    t = fg_compute.theme_table(rule_example(), QUICK)
    assert list(t.columns[:5]) == ["theme", "code", "n_excerpts", "n_teams", "pct_teams"]
    assert list(zip(t["theme"], t["code"])) == [("Design", "all"), ("Design", "P"), ("Design", "Q"),
                                                ("Benefits", "all"), ("Benefits", "R")]
    design = t.iloc[0]
    assert (design["n_excerpts"], design["n_teams"], design["pct_teams"]) == (4, 2, 100.0)
    q = t.set_index("code").loc["Q"]
    assert (q["n_excerpts"], q["n_teams"], q["pct_teams"]) == (1, 1, 50.0)
    r = t.set_index("code").loc["R"]
    assert r["n_excerpts"] == 0 and pd.isna(r["exemplar"])


def test_excerpt_without_team_counts_for_excerpts_not_teams():
    """Only E4 (no team) has code P: 1 excerpt, 0 teams."""
    t = make_tables([("E1", "S1", "T1", "a b"), ("E4", "S1", None, "coach")], [("E4", "A", "P"), ("E1", "A", "Q")],
                    [("P", "X", "d"), ("Q", "X", "d")])
    row = fg_compute.theme_table(t, QUICK).set_index("code").loc["P"]
    assert (row["n_excerpts"], row["n_teams"]) == (1, 0) and pd.isna(row["exemplar_team"])


def test_exemplar_prefers_the_flag_then_agreement():
    """E3 is flagged: it is P's exemplar though one coder applied it. Without flags: E1, applied by all three."""
    t = rule_example()
    assert fg_compute.theme_table(t, QUICK).set_index("code").at["P", "exemplar_id"] == "E1"
    t.excerpts.loc[t.excerpts["excerpt_id"] == "E3", "exemplar"] = 1
    table = fg_compute.theme_table(t, QUICK).set_index("code")
    assert table.at["P", "exemplar_id"] == "E3" and table.at["P", "exemplar"] == "Calls."


def with_text(tables, excerpt_id, text):
    tables.excerpts.loc[tables.excerpts["excerpt_id"] == excerpt_id, "text"] = text
    return tables


def test_exemplar_passes_over_a_quote_with_an_identifier_for_the_next_clean_one():
    """E1 (3 coders) would be P's and Design's exemplar; it names a patient, so the next best is used.

    Next for P by rank: E4 and E2 both have 2 coders; E4 has one code (P), E2 two (P, Q): E4. The theme row
    (excerpts ranked by their best code's coders) falls the same way. E1 is listed for both rows it would have
    illustrated, with what was found and how to clear it.
    """
    t = with_text(rule_example(), "E1", "Mrs. Alvarez said her sugar was better.")
    themes = fg_compute.theme_table(t, QUICK)
    table = themes.set_index("code")
    assert list(fg_compute.THEME_COLUMNS[:8]) == ["theme", "code", "n_excerpts", "n_teams", "pct_teams", "exemplar",
                                          "exemplar_id", "exemplar_team"] and fg_compute.THEME_COLUMNS[-1] == "exemplar_note"
    assert (table.at["P", "exemplar_id"], table.at["P", "exemplar"]) == ("E4", "Coach: let us hear from everyone.")
    assert themes.set_index(["theme", "code"]).at[("Design", "all"), "exemplar_id"] == "E4"
    assert pd.isna(table.at["P", "exemplar_team"])
    assert table.at["P", "exemplar_note"] == "1 better-ranked quote held back by the identifier screen"
    assert pd.isna(table.at["Q", "exemplar_note"]) and table.at["Q", "exemplar_id"] == "E2"
    held = fg_compute.held_back_quotes(t, QUICK)
    assert list(held.columns) == fg_compute.HELD_BACK_COLUMNS
    assert held.values.tolist() == [
        ["E1", "T1", "Design", "all", "name", "name 'Mrs. Alvarez'", "add E1 to qualitative.approved_quotes"],
        ["E1", "T1", "Design", "P", "name", "name 'Mrs. Alvarez'", "add E1 to qualitative.approved_quotes"]]


def test_an_approved_quote_is_used_though_the_screen_flags_it():
    t = with_text(rule_example(), "E1", "Mrs. Alvarez said her sugar was better.")
    cleared = fg_compute.CodingSettings(bootstrap_samples=0, approved_quotes=["E1"])
    row = fg_compute.theme_table(t, cleared).set_index("code").loc["P"]
    assert (row["exemplar_id"], row["exemplar"]) == ("E1", "Mrs. Alvarez said her sugar was better.")
    assert row["exemplar_note"] == ("cleared by the evaluator (qualitative.approved_quotes) although the screen "
                                    "found name")
    assert fg_compute.held_back_quotes(t, cleared).empty


def test_no_clean_quote_leaves_the_exemplar_empty_with_a_note():
    """Q has one excerpt, E2; a deny term in it leaves Q without a quote. P then skips E2 too (E1, E4 clean)."""
    t = rule_example()  # E2: "The calls keep us on track."
    settings = fg_compute.CodingSettings(bootstrap_samples=0, deny_terms=["TRACK"])
    table = fg_compute.theme_table(t, settings).set_index("code")
    q = table.loc["Q"]
    assert pd.isna(q["exemplar"]) and pd.isna(q["exemplar_id"]) and pd.isna(q["exemplar_team"])
    assert q["exemplar_note"] == ("no quote cleared for funders: the identifier screen held back the only quote "
                                  "(see tables/quotes_held_back.csv)")
    assert q["n_excerpts"] == 1  # the counts do not change
    assert table.at["P", "exemplar_id"] == "E1" and pd.isna(table.at["P", "exemplar_note"])  # E2 ranked below E1
    held = fg_compute.held_back_quotes(t, settings)
    assert held[["excerpt_id", "team_id", "code", "found"]].values.tolist() == [["E2", "T2", "Q", "deny_term 'track'"]]
    two = with_text(t, "E3", "Call 555-201-3344.")  # two excerpts for P held back, then the next clean one
    denied = fg_compute.CodingSettings(bootstrap_samples=0, deny_terms=["track", "share"])
    p = fg_compute.theme_table(two, denied).set_index("code").loc["P"]
    # P's rank: E1 (3 coders, "share"), E4 (2 coders, 1 code), E2 (2 coders, "track"), E3 (phone): E4
    assert p["exemplar_id"] == "E4" and p["exemplar_note"] == "1 better-ranked quote held back by the identifier screen"


def test_quotes_settings_come_from_params(tmp_path):
    p = check({"cohort_id": "c", "data_dir": str(tmp_path),
               "qualitative": {"approved_quotes": ["X0007"], "deny_terms": ["Ames", "Lincoln Way"]}})
    s = fg_compute.CodingSettings.from_params(p)
    assert (s.approved_quotes, s.deny_terms) == (("X0007",), ("Ames", "Lincoln Way"))


def test_a_held_back_quote_never_reaches_the_funder_table_or_the_findings(tmp_path):
    """The theme table written to tables/ is what the report turns into funder/themes.csv and the quoted finding."""
    excerpts = [("E1", "S1", "T1", "Call Mrs. Alvarez at (555) 201-3344 about her MRN 00482913.", 1),
                ("E2", "S1", "T2", "Coaching calls helped us get the pharmacist into huddles.", 0)]
    t = make_tables(excerpts, [("E1", "A", "P"), ("E2", "A", "P")], [("P", "Design", "d")])
    p = check({"cohort_id": "c", "data_dir": str(tmp_path), "as_of": "2016-12-31", "output_dir": str(tmp_path / "out")})
    outputs.save_table(fg_compute.theme_table(t, QUICK), p, "themes")
    themes = funder.funder_tables(p)["themes"].table
    assert set(themes["exemplar"]) == {"Coaching calls helped us get the pharmacist into huddles."}
    said = " ".join(fg_findings.findings_themes(p))
    assert "huddles" in said and "Alvarez" not in said and "201-3344" not in said


def test_codings_to_unknown_excerpts_or_codes_are_errors_and_not_counted(tmp_path):
    """check_references reports them naming file, row and column; the analysis leaves them out."""
    files = {**TINY,
             "qualitative/sources.csv": "source_id,kind,held_on,team_id\nS1,focus_group,2015-07-01,\n",
             "qualitative/excerpts.csv": "excerpt_id,source_id,team_id,text\nE1,S1,T01,We talk.\n",
             "qualitative/codebook.csv": "code,theme,definition\nP,Design,d\n",
             "qualitative/codings.csv": "excerpt_id,coder,code\nE1,A,P\nE9,A,P\nE1,A,NOPE\n"}
    folder = write_cohort(tmp_path / "c", files)
    cohort = load_cohort(folder, as_of="2016-12-31", raise_on_error=False)
    q = cohort.quality
    bad = q[(q["table"] == "qualitative/codings.csv") & (q["severity"] == "error")]
    assert sorted(zip(bad["row"], bad["column"])) == [(3, "excerpt_id"), (4, "code")]
    assert "'E9' is not a excerpt_id in qualitative/excerpts.csv" in set(bad["problem"])
    p = check({"cohort_id": "c", "data_dir": str(folder), "as_of": "2016-12-31", "output_dir": str(tmp_path / "out")})
    tables = loading.load_qualitative(p, cohort)
    assert fg_compute.theme_table(tables, QUICK).set_index("code").at["P", "n_excerpts"] == 1
    assert len(fg_compute.coding_problems(tables, cohort)) == 2


# --- presence, track, co-occurrence, phases --------------------------------------------------------------

def presence_example():
    """Interviews with T1 (end of cycle) and a focus group with T1 and T2 (mid-cycle); T3 never spoke.

    E1 (S1, T1): P      E2 (S1, T2): P and R      E3 (S2, T1): R      E4 (S2, T1): nothing
    """
    sources = [("S1", "focus_group", "2015-07-01", None, None), ("S2", "interview", "2016-01-10", "T1", None)]
    excerpts = [("E1", "S1", "T1", "a"), ("E2", "S1", "T2", "b"), ("E3", "S2", "T1", "c"), ("E4", "S2", "T1", "d")]
    codings = [("E1", "A", "P"), ("E2", "A", "P"), ("E2", "A", "R"), ("E3", "A", "R")]
    return make_tables(excerpts, codings, [("P", "Design", "d"), ("Q", "Design", "d"), ("R", "Benefits", "d")],
                       sources=sources)


def test_theme_presence_by_team_and_track():
    """Design: T1, T2 (one excerpt each); Benefits: T2 (E2), T1 (E3). T3 spoke nowhere.

    By track, among teams that spoke: initial has T1 and T2 (T3 is advanced and silent), so Design 2/2 = 100%;
    advanced has no team that spoke: 0 of 0, no percentage.
    """
    presence = fg_compute.theme_presence(presence_example(), QUICK)
    cell = presence.set_index(["team_id", "theme"])
    assert cell.at[("T1", "Benefits"), "n_excerpts"] == 1 and cell.at[("T3", "Design"), "n_excerpts"] == 0
    assert not cell.at[("T3", "Design"), "spoke"] and cell.at[("T2", "Design"), "voiced"]
    by_track = fg_compute.theme_by_track(presence).set_index(["theme", "group"])
    assert by_track.at[("Design", "all"), "pct_teams"] == 100.0
    assert by_track.at[("Design", "track=initial"), "n_teams"] == 2
    assert "track=advanced" not in {g for _, g in by_track.index}  # no advanced team spoke


def test_cooccurrence_counts_pairs_on_the_same_excerpt():
    """P and R share E2 only: 1 excerpt; Jaccard 1 / (2 + 2 - 1) = 1/3. Diagonal: P on 2 excerpts."""
    co = fg_compute.code_cooccurrence(presence_example(), QUICK).set_index(["code_a", "code_b"])
    assert co.at[("P", "R"), "n_excerpts"] == 1 == co.at[("R", "P"), "n_excerpts"]
    assert co.at[("P", "R"), "jaccard"] == pytest.approx(1 / 3)
    assert co.at[("P", "P"), "n_excerpts"] == 2 and co.at[("Q", "P"), "n_excerpts"] == 0
    assert np.isnan(co.at[("Q", "Q"), "jaccard"])


def test_phase_comparison_uses_the_default_phase_of_each_kind():
    """Blank phase: focus group = mid-cycle (E1, E2), interview = end of cycle (E3, E4).

    Design mid: 2 of 2 excerpts = 100%, teams T1, T2 of 2; end: 0 of 2. Benefits mid 1/2 = 50%; end 1/2 = 50%.
    """
    ph = fg_compute.phase_comparison(presence_example(), QUICK).set_index(["theme", "phase"])
    assert ph.at[("Design", "mid_cycle"), "pct_excerpts"] == 100.0 and ph.at[("Design", "mid_cycle"), "n_teams"] == 2
    assert ph.at[("Design", "end_of_cycle"), "n_excerpts"] == 0
    assert ph.at[("Benefits", "end_of_cycle"), "pct_excerpts"] == 50.0
    assert ph.at[("Benefits", "end_of_cycle"), "phase_teams"] == 1


# --- settings and input -----------------------------------------------------------------------------

def test_bad_settings_name_the_parameter_allowed_values_and_bad_value():
    with pytest.raises(ParamsError, match=r"`qualitative.code_rule` must be one of any, all, majority, consensus; got 'most'"):
        fg_compute.CodingSettings(code_rule="most")
    with pytest.raises(ParamsError, match=r"`qualitative.coder_scope` must be one of source, excerpt; got 'team'"):
        fg_compute.CodingSettings(coder_scope="team")
    with pytest.raises(ParamsError, match=r"consensus_coder` must be one of the coders in the codings \(A, B, C\); got 'Z'"):
        fg_compute.theme_table(rule_example(), fg_compute.CodingSettings(code_rule="consensus", consensus_coder="Z"))


def test_settings_from_params(tmp_path):
    p = check({"cohort_id": "c", "data_dir": str(tmp_path), "seed": 11, "alpha": 0.1,
               "qualitative": {"code_rule": "majority", "coder_scope": "excerpt", "bootstrap_samples": 50}})
    assert fg_compute.CodingSettings.from_params(p) == fg_compute.CodingSettings("majority", None, "excerpt", 50, 11, 0.1)


def test_missing_qualitative_files_give_the_loader_note(tiny_cohort, tmp_path):
    p = check({"cohort_id": "c", "data_dir": str(tiny_cohort), "as_of": "2016-12-31", "output_dir": str(tmp_path / "o")})
    cohort = load_cohort(p)
    tables = loading.load_qualitative(p, cohort)
    assert not tables.ok and tables.note == cohort.missing_note(*qualitative.QUALITATIVE_TABLES)
    assert fg_compute.theme_table(tables, QUICK).empty and fg_reliability.inter_rater_reliability(tables, QUICK).note


def test_missing_qdpx_file_is_a_data_error_and_a_params_error(tiny_cohort, tmp_path):
    """Validation stops on it (naming the file); load_qualitative alone says which params key is wrong."""
    p = check({"cohort_id": "c", "data_dir": str(tiny_cohort), "as_of": "2016-12-31",
               "qualitative": {"qdpx": "coding/project.qdpx"}})
    with pytest.raises(DataValidationError, match=r"coding/project.qdpx: the REFI-QDA project named by qualitative.qdpx was not found"):
        load_cohort(p)
    with pytest.raises(ParamsError, match=r"`qualitative.qdpx` names a file that does not exist: .*coding/project.qdpx"):
        loading.load_qualitative(p, load_cohort(p, raise_on_error=False))


# --- figures -------------------------------------------------------------------------------------------

def ticks(ax, axis: str = "y") -> list[str]:
    return [t.get_text() for t in (ax.get_yticklabels() if axis == "y" else ax.get_xticklabels())]


def test_themes_by_team_draws_one_row_per_team_grouped_by_track():
    """presence_example: T3 (advanced, silent) first, then T1 and T2 (initial); themes Benefits, Design (2 excerpts
    each, by name). Cells: T3 0 0; T1 1 (E3) 1 (E1); T2 1 (E2) 1 (E2). Every theme voiced by both teams that spoke."""
    spec = fg_figures.themes_by_team(fg_compute.theme_presence(presence_example(), QUICK))
    ax = spec.figure.axes[0]
    assert (spec.figure_id, spec.section, spec.notebook) == ("qualitative_theme_presence_team", "themes", "02_focus_groups")
    assert ticks(ax) == ["Three (advanced) - did not speak", "One (initial)", "Two (initial)"]
    assert ticks(ax, "x") == ["Benefits", "Design"]
    assert [t.get_text() for t in ax.texts] == ["0", "0", "1", "1", "1", "1"]
    assert [line.get_ydata()[0] for line in ax.lines] == [1]  # one line between the advanced and the initial track
    assert spec.caption == ("Excerpts per team and theme. 2 of 3 teams spoke in a focus group or interview; every "
                            "theme was voiced by 2 of the 2 teams that spoke.")
    assert spec.alt_text.startswith("Heatmap with one row per team (3, grouped by track) and one column per theme (2)")


def test_themes_by_team_draws_the_teams_with_most_excerpts_above_the_cap():
    """60 teams, of which T00-T39 spoke (T39 the most): the heatmap draws the 30 with the most excerpts, the caption
    says so and where every team is; the presence table keeps all 60."""
    rows = []
    for k in range(60):
        for theme in ("Benefits", "Barriers"):
            rows.append({"team_id": f"T{k:02d}", "team_name": f"Team {k}", "track": "initial", "theme": theme,
                         "n_excerpts": k if k < 40 else 0, "voiced": 0 < k < 40, "spoke": k < 40})
    presence = pd.DataFrame(rows)
    cap = fg_compute.presence_teams(presence)
    assert cap.teams == [f"T{k:02d}" for k in range(10, 40)] and cap.total == 60 and cap.capped
    spec = fg_figures.themes_by_team(presence)
    assert ticks(spec.figure.axes[0]) == [f"Team {k} (initial)" for k in range(10, 40)]
    assert spec.caption.endswith(" Shown: 30 of 60 teams, those with the most excerpts; every team is in "
                                 "tables/themes_by_team.csv.")
    assert "one row for each of the 30 of 60 teams with the most excerpts" in spec.alt_text
    few = presence[presence["team_id"] < "T20"]
    assert not fg_compute.presence_teams(few).capped and "Shown:" not in fg_figures.themes_by_team(few).caption


def test_themes_by_track_gives_percent_and_counts_per_group():
    """Among the teams that spoke (T1, T2, both initial), each theme was voiced by 2 of 2: 100% in 'all' and
    'initial'; no advanced team spoke, so there is no advanced column."""
    presence = fg_compute.theme_presence(presence_example(), QUICK)
    spec = fg_figures.themes_by_track(fg_compute.theme_by_track(presence))
    ax = spec.figure.axes[0]
    assert ticks(ax, "x") == ["all teams", "initial track"] and ticks(ax) == ["Benefits", "Design"]
    assert [t.get_text() for t in ax.texts] == ["100%\n(2 of 2)"] * 4
    assert spec.caption.endswith("all teams and by track. 'Benefits' was voiced by 2 of 2 teams.")
    assert "one column per group (all teams, initial)" in spec.alt_text


def test_code_cooccurrence_draws_the_lower_triangle_grouped_by_theme():
    """Codes in theme order: R (Benefits), then P, Q (Design). Lower triangle with the diagonal, row by row:
    R-R 2; P-R 1, P-P 2; Q-R 0, Q-P 0, Q-Q 0. One pair of lines between the themes; P and R share E2."""
    spec = fg_figures.code_cooccurrence(fg_compute.code_cooccurrence(presence_example(), QUICK))
    ax = spec.figure.axes[0]
    assert ticks(ax) == ["R", "P", "Q"] == ticks(ax, "x")
    assert [t.get_text() for t in ax.texts] == ["2", "1", "2", "0", "0", "0"]
    assert len(ax.lines) == 2
    assert spec.caption.endswith("each code's excerpts. The most frequent pair is 'P' with 'R' (1 excerpt).")
    assert spec.alt_text.startswith("Lower-triangle heatmap of 3 codes by the same codes")


def test_themes_by_phase_draws_a_bar_per_theme_and_phase_and_names_what_moved():
    """Benefits 50% (1 of 2 excerpts) at mid-cycle and 50% (1 of 2) at the end; Design 100% (2) and 0% (0)."""
    spec = fg_figures.themes_by_phase(fg_compute.phase_comparison(presence_example(), QUICK))
    ax = spec.figure.axes[0]
    assert ticks(ax) == ["Benefits", "Design"] and len(ax.patches) == 4
    assert [t.get_text() for t in ax.texts] == [" 50% (1)", " 100% (2)", " 50% (1)", " 0% (0)"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Mid-cycle focus groups", "End-of-cycle interviews"]
    assert "'Benefits' rose most (50% to 50% of excerpts) and 'Design' fell most (100% to 0%)" in spec.caption
    one_phase = make_tables([("E1", "S1", "T1", "a")], [("E1", "A", "P")], [("P", "Design", "d")])
    spec = fg_figures.themes_by_phase(fg_compute.phase_comparison(one_phase, QUICK))
    assert len(spec.figure.axes[0].patches) == 1 and "nothing to compare" in spec.caption


def test_irr_by_code_draws_alpha_and_kappa_per_code_with_the_overall_row_last():
    """The 50-excerpt example (alpha = kappa = 0.40 for X) plus Z, which nobody applied (not computable).
    Overall pools X and Z: kappa .625 (see test_overall_row_pools_every_decision)."""
    t = two_coder_example()
    t = normalise(t.sources, t.excerpts, t.codings, pd.DataFrame([("X", "Theme", "d"), ("Z", "Theme", "d")],
                                                               columns=["code", "theme", "definition"]), t.teams)
    irr = fg_reliability.inter_rater_reliability(t, fg_compute.CodingSettings(bootstrap_samples=20))
    spec = fg_figures.irr_by_code(irr)
    ax = spec.figure.axes[0]
    assert ticks(ax) == ["X", "Z", "overall"]
    alpha_dots = next(line for line in ax.lines if line.get_label() == "Krippendorff's alpha")
    assert alpha_dots.get_xdata()[:2] == pytest.approx([0.40, np.nan], nan_ok=True)
    kappa_diamonds = next(line for line in ax.lines if line.get_label() == "Cohen's kappa")
    assert kappa_diamonds.get_xdata()[2] == pytest.approx(0.625)
    assert [x.get_text() for x in ax.texts] == ["not computable"]
    assert spec.caption.startswith("Krippendorff's alpha (nominal) with 95% bootstrap CI, and Cohen's kappa, per code: "
                                   "2 coders, on the 50 excerpts both read. 0 of 2 codes reach alpha >= 0.800")
    assert spec.caption.endswith("; 1 code is not computable.")


def test_show_exports_a_spec_into_the_themes_section(tmp_path, monkeypatch):
    """ev.show writes the files and the manifest row (section themes) and returns id, panels, title and caption."""
    monkeypatch.setenv(figure_io.FORMATS_ENV, "svg")
    spec = fg_figures.themes_by_phase(fg_compute.phase_comparison(presence_example(), QUICK))
    shown = figure_io.show(spec, tmp_path)
    assert repr(shown).split("\n") == ["Figure qualitative_phases (1 panel)", spec.title, spec.caption]
    record = json.loads((tmp_path / "figures" / "qualitative_phases.json").read_text(encoding="utf-8"))
    assert (record["section"], record["notebook"]) == ("themes", "02_focus_groups")
    assert (tmp_path / "figures" / "qualitative_phases.svg").exists()


# --- the notebook ----------------------------------------------------------------------------------------

def test_notebook_runs_without_qualitative_data_and_says_why(tiny_cohort, tmp_path, monkeypatch):
    """The notebook's cells, run in-process on a cohort with no qualitative files, show the skip note (run
    alone, it writes to the cohort's scratch folder: it wrote its tables there, but no themes)."""
    monkeypatch.setenv(REPORTS_ENV, str(tmp_path / "reports"))
    shown, namespace = run_notebook_cells(REPO_ROOT / "notebooks" / "02_focus_groups.ipynb",
                                          data_dir=str(tiny_cohort), as_of="2016-12-31", cohort_id="tiny")
    note = namespace["cohort"].missing_note(*qualitative.QUALITATIVE_TABLES)
    assert sum(isinstance(s, str) and s == note for s in shown) == 13  # every section after the overview
    assert namespace["irr"].note == note and not namespace["irr"].computable
    out = scratch_dir("tiny")
    assert out.is_dir() and not (out / "tables" / "themes.csv").exists()
    assert not list(out.glob("figures/qualitative_*.png"))


def test_qdpx_named_in_params_is_read_and_its_problems_listed(tiny_cohort, tmp_path):
    """qualitative.qdpx (relative to the data folder) replaces the CSVs; a team not in teams.csv is an error row
    naming the file as the params wrote it and the Case element."""
    t = make_tables([("E1", "S1", "T01", "We talk about calls."), ("E2", "S1", "T09", "So do we.")],
                    [("E1", "A", "P"), ("E2", "A", "P")], [("P", "Design", "d")])
    export_qdpx(t, tiny_cohort / "coding" / "p.qdpx")
    p = check({"cohort_id": "c", "data_dir": str(tiny_cohort), "as_of": "2016-12-31",
               "output_dir": str(tmp_path / "o"), "qualitative": {"qdpx": "coding/p.qdpx"}})
    cohort = load_cohort(p, raise_on_error=False)  # validation lists the .qdpx problems with the CSVs' ...
    qdpx_rows = cohort.quality[cohort.quality["table"] == "coding/p.qdpx"]
    assert qdpx_rows[["table", "column", "severity"]].values.tolist() == [["coding/p.qdpx", "Case name='T09'", "error"]]
    tables = loading.load_qualitative(p, cohort)
    problems = fg_compute.coding_problems(tables, cohort)  # ... and the notebook shows them
    assert problems[["table", "column", "severity"]].values.tolist() == [["coding/p.qdpx", "Case name='T09'", "error"]]
    assert fg_compute.theme_table(tables, QUICK).set_index("code").at["P", "n_teams"] == 1  # T09's excerpt voices no team
    assert fg_compute.overview(tables, QUICK).set_index("item").at["read from", "value"] == "coding/p.qdpx"


# --- one code per excerpt: the codebook as one nominal variable -------------------------------------

def krippendorff_c_tables():
    """Krippendorff (2011), section C, as codings: 12 excerpts, coders A-D, values 1-5 as codes c1-c5; a missing
    value is an excerpt the coder did not code (coder_scope excerpt: a coder read only what they coded)."""
    excerpts = [(f"U{u:02d}", "S1", "T1", f"unit {u}") for u in range(1, 13)]
    codings = [(f"U{u + 1:02d}", coder, f"c{int(v)}") for coder, row in zip("ABCD", KRIPPENDORFF_C)
               for u, v in enumerate(row) if v == v]
    return make_tables(excerpts, codings, [(f"c{v}", "Theme", "def") for v in range(1, 6)])


def test_single_code_alpha_reproduces_krippendorff_2011():
    """The nominal alpha of section C is 0.743; unit 12, with one value only, is not pairable (11 excerpts)."""
    settings = fg_compute.CodingSettings(coder_scope="excerpt", bootstrap_samples=200)
    row = fg_reliability.single_code_reliability(krippendorff_c_tables(), settings).iloc[0]
    assert row["krippendorff_alpha"] == pytest.approx(0.743, abs=5e-4)
    assert (row["n_excerpts"], row["n_coders"], row["n_values"], row["left_out_multi_coded"]) == (11, 4, 5, 0)
    assert row["alpha_ci_low"] < row["krippendorff_alpha"] < row["alpha_ci_high"]


def test_single_code_alpha_leaves_out_excerpts_given_two_codes():
    """A gives U01 a second code: A has no single value for U01, so that pair is left out (and counted); B's and
    D's 1 still make U01 pairable."""
    tables = krippendorff_c_tables()
    tables = dataclasses_replace_codings(tables, [("U01", "A", "c2")])
    settings = fg_compute.CodingSettings(coder_scope="excerpt", bootstrap_samples=0)
    row = fg_reliability.single_code_reliability(tables, settings).iloc[0]
    assert row["left_out_multi_coded"] == 1 and "two or more codes" in row["note"]
    assert row["n_excerpts"] == 11  # U01 still has B's and D's 1


def dataclasses_replace_codings(tables, extra):
    more = pd.DataFrame(extra, columns=["excerpt_id", "coder", "code"])
    return dataclasses.replace(tables, codings=pd.concat([tables.codings, more.assign(
        **{c: tables.codings[c].iloc[0] for c in tables.codings.columns if c not in more})], ignore_index=True))


def test_coder_coverage_warns_about_a_coder_with_few_excerpts():
    """Section C's shared excerpts (unit 12, coded by B alone, is not shared): A read 9, B 10, C 10, D 11; with
    min_coder_excerpts 10 only A is warned about."""
    settings = fg_compute.CodingSettings(coder_scope="excerpt", bootstrap_samples=0, min_coder_excerpts=10)
    cover = fg_reliability.coder_coverage(krippendorff_c_tables(), settings).set_index("coder")
    assert cover["excerpts_read"].to_dict() == {"A": 9, "B": 10, "C": 10, "D": 11}
    assert cover.loc["A", "warning"].startswith("A read only 9 of the shared excerpts (fewer than 10)")
    assert (cover.drop(index="A")["warning"] == "").all()
