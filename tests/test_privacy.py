"""Small-cell suppression and the funder-output check (evaluation/stats/cell_suppression.py, evaluation/report/gate.py).

Reference rule: CMS cell-size suppression policy (ResDAC, "CMS Cell Size Suppression Policy"): no cell of 1 to
10 may be shown, nor be derivable from other cells (totals, percentages). Recoverability is checked here by hand
algebra on each table, independently of the linear programs the module uses.
"""
from __future__ import annotations

import json
import zipfile

import docx
import pandas as pd
import pytest

from evaluation.core.errors import EvaluationError
from evaluation.core.params import check
from evaluation.core.disclosure import COMPLEMENT_MARK, format_count, is_small, small_counts_in_text, suppress_text
from evaluation.report.gate import DisclosureError, check_funder_outputs
from evaluation.stats.cell_suppression import Relation, SuppressionSpec, pinned_cells, protect_cells, suppress


def shown(st, row: int, col: str):
    return st.table.at[row, col]


# --- primary suppression -----------------------------------------------------------------------------

def test_single_small_cell_is_shown_as_less_than_11():
    df = pd.DataFrame({"group": ["condition=a", "condition=b", "condition=c"], "n": [0, 5, 25]})
    st = suppress(df, SuppressionSpec(counts=("n",)), 11)
    assert list(st.table["n"]) == [0, "<11", 25]  # 0 is shown (CMS suppresses 1-10 only)
    assert st.reasons.to_dict("records") == [{"row": 1, "column": "n", "value": 5, "reason": "small count"}]


@pytest.mark.parametrize("n, expected", [(10, "<11"), (11, 11), (1, "<11")])
def test_the_boundaries_of_the_rule(n, expected):
    st = suppress(pd.DataFrame({"group": ["all"], "n": [n]}), SuppressionSpec(counts=("n",)), 11)
    assert st.table.at[0, "n"] == expected


def test_threshold_param():
    """suppress_below = 5: counts 1-4 are small; 7 is shown; the mark follows the threshold."""
    df = pd.DataFrame({"group": ["condition=a", "condition=b"], "n": [4, 7]})
    st = suppress(df, SuppressionSpec(counts=("n",)), threshold=5)
    assert list(st.table["n"]) == ["<5", 7]
    assert list(suppress(df, SuppressionSpec(counts=("n",)), threshold=11).table["n"]) == ["<11", "<11"]
    with pytest.raises(ValueError, match="suppress_below"):
        suppress(df, SuppressionSpec(counts=("n",)), threshold=0)
    assert format_count(7, 5) == "7" and format_count(4, 5) == "<5" and format_count(1234, 11) == "1,234"


# --- complementary suppression -----------------------------------------------------------------------

def test_small_cell_recoverable_from_a_total_is_protected():
    """all = 32 = track=a 4 + track=b 28: showing 28 would give 4 away (32 - 28), so 28 is hidden too.

    By hand, a reader then knows x + y = 32 with x in 1..10 (<11) and y >= 11 (*): x can be any of 1..10.
    """
    df = pd.DataFrame({"group": ["all", "track=a", "track=b"], "n": [32, 4, 28]})
    st = suppress(df, SuppressionSpec(counts=("n",)), 11)
    assert list(st.table["n"]) == [32, "<11", COMPLEMENT_MARK]
    feasible = [x for x in range(1, 11) if 32 - x >= 11]
    assert len(feasible) == 10


def test_overlapping_subgroups_are_not_totals():
    """Condition strata overlap (a patient can have two), so all != sum: no complementary suppression."""
    df = pd.DataFrame({"group": ["all", "condition=a", "condition=b"], "n": [30, 4, 26]})
    st = suppress(df, SuppressionSpec(counts=("n",)), 11)
    assert list(st.table["n"]) == [30, "<11", 26]


def test_interval_disclosure_is_caught():
    """Parts 1, 11, 20 of a total of 32. Hiding 1 and 11 alone fails: x + y = 12 with x in 1..10 and y >= 11
    forces x = 1, y = 11. So 20 is hidden as well; then x + y + z = 32 with y, z >= 11 leaves x anywhere in 1..10.
    """
    df = pd.DataFrame({"group": ["all", "site=a", "site=b", "site=c"], "n": [32, 1, 11, 20]})
    st = suppress(df, SuppressionSpec(counts=("n",)), 11)
    assert list(st.table["n"]) == [32, "<11", COMPLEMENT_MARK, COMPLEMENT_MARK]
    only_two = [x for x in range(1, 11) if 12 - x >= 11]
    assert only_two == [1]  # what the reader would have learnt with 20 shown
    three = {x for x in range(1, 11) for y in range(11, 32) if 32 - x - y >= 11}
    assert three == set(range(1, 11))


def test_two_way_table_with_margins():
    """A 2 x 2 table with row totals (column `total`) and column totals (row `all`):

                female  male  total
        all         30    50     80
        initial      4    20     24
        advanced    26    30     56

    4 is small. Its row (24 - 20) and its column (30 - 26) would each give it away, so a cell in each is hidden,
    and then one more to close the rectangle. By hand, with x = initial/female: male = 24 - x, advanced/female =
    30 - x, advanced/male = 26 + x; every x in 1..10 keeps the hidden `*` cells at 11 or more.
    """
    df = pd.DataFrame({"group": ["all", "track=initial", "track=advanced"], "female": [30, 4, 26],
                       "male": [50, 20, 30], "total": [80, 24, 56]})
    spec = SuppressionSpec(counts=("female", "male", "total"), column_totals={"total": ("female", "male")})
    st = suppress(df, spec, 11)
    assert st.table.at[1, "female"] == "<11"
    hidden = {(r, c) for r in range(3) for c in ("female", "male", "total") if st.mask.at[r, c]}
    assert (1, "female") in hidden
    assert any(c != "female" and r == 1 for r, c in hidden)  # something else in its row
    assert any(r != 1 and c == "female" for r, c in hidden)  # something else in its column
    visible = lambda r, c: (r, c) not in hidden  # noqa: E731
    assert visible(0, "female") and visible(0, "male") and visible(1, "total") and visible(2, "total")
    consistent = [x for x in range(1, 11) if min(24 - x, 30 - x, 26 + x) >= 11]
    assert consistent == list(range(1, 11))


def test_blocks_have_their_own_totals():
    df = pd.DataFrame({"measure": ["a1c"] * 3 + ["sbp"] * 3, "group": ["all", "track=i", "track=a"] * 2,
                       "n": [40, 35, 5, 40, 20, 20]})
    st = suppress(df, SuppressionSpec(counts=("n",), block=("measure",)), 11)
    assert list(st.table["n"]) == [40, COMPLEMENT_MARK, "<11", 40, 20, 20]


def _pinned_one_by_one(values, primary, mask, totals, threshold):
    """The audit written plainly: for every small count, its smallest and largest value consistent with every
    total (two dense linear programs over all hidden cells). The reference for the fast audit."""
    import numpy as np
    from scipy.optimize import linprog

    from evaluation.stats import cell_suppression

    hidden = [tuple(c) for c in np.argwhere(mask)]
    index = {c: k for k, c in enumerate(hidden)}
    rows, rhs = [], []
    for t in totals:
        coef, known = np.zeros(len(hidden)), t.residual
        for sign, c in [(1.0, t.total)] + [(-1.0, p) for p in t.parts]:
            if c in index:
                coef[index[c]] += sign
            else:
                known -= sign * values[c]
        if coef.any():
            rows.append(coef)
            rhs.append(known)
    if not rows:
        return []
    bounds = [cell_suppression._bounds(c, values, primary, threshold) for c in hidden]
    pinned = []
    for c in hidden:
        if primary[c]:
            objective = np.zeros(len(hidden))
            objective[index[c]] = 1.0
            low = linprog(objective, A_eq=np.array(rows), b_eq=rhs, bounds=bounds, method="highs")
            high = linprog(-objective, A_eq=np.array(rows), b_eq=rhs, bounds=bounds, method="highs")
            if low.status == 0 and high.status == 0 and -high.fun - low.fun < 0.5:
                pinned.append(c)
    return pinned


def test_fast_audit_hides_the_same_cells_as_one_program_per_cell(monkeypatch):
    """Random time-to-goal-like tables (all = tracks = teams per measure; n = events + censored per row, with
    many small counts): the sparse, grouped audit with its pushes hides exactly the cells that the plain audit
    (two linear programs per small count over every hidden cell) hides."""
    import numpy as np

    from evaluation.stats import cell_suppression

    rng = np.random.default_rng(5)
    spec = SuppressionSpec(counts=("n", "events", "censored"), column_totals={"n": ("events", "censored")},
                           block=("measure",))
    for _ in range(15):
        rows = []
        for measure in ("a1c", "bp"):
            k = int(rng.integers(2, 9))
            counts = rng.integers(0, 30, (k, 2))
            n = counts.sum(axis=1) + rng.integers(0, 5, k)  # censored may leave out competing exits: residuals
            track = rng.integers(0, 2, k)
            rows.append({"measure": measure, "group": "all", "n": n.sum(), "events": counts[:, 0].sum(),
                         "censored": counts[:, 1].sum()})
            rows += [{"measure": measure, "group": f"track={t}", "n": n[track == t].sum(),
                      "events": counts[track == t, 0].sum(), "censored": counts[track == t, 1].sum()}
                     for t in (0, 1) if (track == t).any()]
            rows += [{"measure": measure, "group": f"team=T{i}", "n": n[i], "events": counts[i, 0],
                      "censored": counts[i, 1]} for i in range(k)]
        df = pd.DataFrame(rows)
        fast = suppress(df, spec, 11)
        with monkeypatch.context() as m:
            m.setattr(cell_suppression, "_pinned", _pinned_one_by_one)
            plain = suppress(df, spec, 11)
        assert fast.mask.equals(plain.mask)


# --- cells computed from counts ----------------------------------------------------------------------

def test_rates_and_ratios_from_a_hidden_count_are_hidden():
    df = pd.DataFrame({"group": ["condition=a", "condition=b"], "events": [4, 40], "rate": [3.1, 31.0],
                       "months": [1290.0, 1290.0]})
    st = suppress(df, SuppressionSpec(counts=("events",), derived={"rate": ("events",)}), 11)
    assert st.table.at[0, "rate"] == COMPLEMENT_MARK and st.table.at[1, "rate"] == 31.0
    assert st.table.at[0, "months"] == 1290.0  # not computed from the count
    assert "hidden count" in st.reasons.set_index("column").at["rate", "reason"]


def test_percentages():
    """A percentage is hidden when its numerator is hidden, when it implies a small count (5% of 100 = 5), when
    its complement does (95% of 100 leaves 5), and when its denominator is small; 50% of 100 is shown."""
    df = pd.DataFrame({"group": [f"condition={c}" for c in "abcde"], "n": [100, 100, 100, 8, 100],
                       "at_goal": [5, 50, 95, 4, 50], "pct_at_goal": [5.0, 50.0, 95.0, 50.0, 50.0]})
    spec = SuppressionSpec(counts=("n", "at_goal"), derived={"pct_at_goal": ("at_goal",)},
                           percentages={"pct_at_goal": "n"})
    st = suppress(df, spec, 11)
    assert list(st.table["pct_at_goal"]) == [COMPLEMENT_MARK, 50.0, COMPLEMENT_MARK, COMPLEMENT_MARK, 50.0]
    assert list(st.table["at_goal"]) == ["<11", 50, 95, "<11", 50]
    alone = suppress(df[["group", "n", "pct_at_goal"]], SuppressionSpec(counts=("n",), percentages={"pct_at_goal": "n"}), 11)
    assert alone.table.at[0, "pct_at_goal"] == COMPLEMENT_MARK  # 5% of 100 implies 5 even with no count column
    loose = suppress(df[["group", "n", "pct_at_goal"]],
                     SuppressionSpec(counts=("n",), percentages={"pct_at_goal": "n"}, complement_percentages=False), 11)
    assert loose.table.at[2, "pct_at_goal"] == 95.0


def test_hidden_complement_count_protects_a_share():
    """identified 100 = resolved 95 + unresolved 5 (not shown): 5 is small, so 95 must not be shown either."""
    df = pd.DataFrame({"group": ["all"], "identified": [100], "resolved": [95], "unresolved": [5], "pct": [95.0]})
    spec = SuppressionSpec(counts=("identified", "resolved"), hidden=("unresolved",),
                           column_totals={"identified": ("resolved", "unresolved")}, percentages={"pct": "identified"})
    st = suppress(df, spec, 11)
    assert "unresolved" not in st.table.columns
    assert st.table.at[0, "resolved"] == COMPLEMENT_MARK and st.table.at[0, "pct"] == COMPLEMENT_MARK
    assert st.table.at[0, "identified"] == 100


def test_is_small_ignores_text_and_blanks():
    assert list(is_small(["<11", None, "3", 0, 10.0, 11], 11)) == [False, False, True, False, True, False]


def test_small_counts_in_prose():
    assert small_counts_in_text("585 patients; 5 patients have no measurement", 11) == ["5 patients"]
    assert small_counts_in_text("3 of 40 patients reached goal", 11) == ["3 of 40 patients"]
    assert small_counts_in_text("7 of 10 teams; 2.1 per patient; fewer than 11 patients", 11) == []
    assert small_counts_in_text("a pharmacist said \u201cI saw 5 patients\u201d", 11) == []


def test_small_counts_in_prose_are_rewritten_for_funders():
    from evaluation.core.disclosure import suppress_text

    text = "585 patients; 5 patients have no measurement; 3 of 40 patients; 2.1 per patient; \u201c5 patients\u201d"
    assert suppress_text(text, 11) == ("585 patients; <11 patients have no measurement; <11 of 40 patients; "
                                       "2.1 per patient; \u201c5 patients\u201d")
    assert suppress_text("7 deaths", 5) == "7 deaths"


@pytest.mark.parametrize("text, phrases, safe", [
    ("T01 (n = 7): median 20 days", ["n = 7"], "T01 (n < 11): median 20 days"),
    ("T01 (n=7)", ["n=7"], "T01 (n<11)"),
    ("N = 7 in all", ["N = 7"], "N < 11 in all"),
    ("Of them (7 patients) died", ["7 patients"], "Of them (<11 patients) died"),
    ("7 of 40 patients reached goal", ["7 of 40 patients"], "<11 of 40 patients reached goal"),
    ("7/40 patients reached goal", ["7/40 patients"], "<11/40 patients reached goal"),
    ("3 of 7 patients", ["3 of 7 patients"], "<11 of <11 patients"),  # the 7 is a small count too
    ("0 of 7 paired patients", ["0 of 7 paired patients"], "0 of <11 paired patients"),
    ("20 of 25 patients reached goal", ["20 of 25 patients"], "all but <11 of 25 patients reached goal"),  # 5 did not
    ("2 deaths, 3 readmissions, 4 admissions and 5 ED visits", ["2 deaths", "3 readmissions", "4 admissions", "5 ED visits"],
     "<11 deaths, <11 readmissions, <11 admissions and <11 ED visits"),
    ("6 hospitalisations; 8 MTPs; 9 medication therapy problems; 1 beneficiary; 2 people",
     ["6 hospitalisations", "8 MTPs", "9 medication therapy problems", "1 beneficiary", "2 people"],
     "<11 hospitalisations; <11 MTPs; <11 medication therapy problems; <11 beneficiary; <11 people"),
    ("n = 7 patients", ["n = 7"], "n < 11 patients"),  # one phrase, rewritten once
])
def test_small_counts_in_prose_new_phrases(text, phrases, safe):
    assert small_counts_in_text(text, 11) == phrases
    assert suppress_text(text, 11) == safe
    assert small_counts_in_text(safe, 11) == []  # the rewritten text passes the gate


@pytest.mark.parametrize("text", [
    "4 of 10 teams with recorded attendance", "3 month(s) in 2 of 10 teams fall outside the limits",
    "n = 7 teams", "n = 3 coders", "(5 excerpts)", "2 coders", "4 of 16 codes", "10 points", "36 PDSA cycles",
    "7 of 282 offered team-events (2%)", "5 patient-months", "n = 7.5", "T01 (n = <11)", "(n = recorded team-events)",
    "22 of 83 patients reached 60%", "n = 1,234", "fewer than 11 patients", "a pharmacist said \u201cn = 7 of us\u201d",
])
def test_what_is_not_a_small_count_of_patients(text):
    assert small_counts_in_text(text, 11) == []
    assert suppress_text(text, 11) == text


# --- counts drawn in a figure -----------------------------------------------------------------------------

def test_a_count_recovered_from_the_numbers_table_is_protected():
    """The audit's example: n = 22 (in the legend), and at the last tick at risk 0, events 17, censored 5.

    Primary suppression only: 22 = 0 + 17 + censored, so censored = 5. After protection events shows "*"
    (a count of at least 11; zeros are never hidden) and censored "<11" (1 to 10): 22 = 0 + e + c with e >= 11
    and 1 <= c <= 10 allows c = 1 (e = 21) ... c = 10 (e = 12), so neither is pinned.
    """
    at_last_tick = [Relation({"ar": 1, "ev": 1, "ce": 1, "n": -1}, "~=", 0.0, "at risk + events + censored = n")]
    truth = {"n": 22, "ar": 0, "ev": 17, "ce": 5}
    assert pinned_cells({"n": "22", "ar": "0", "ev": "17", "ce": "<11"}, at_last_tick, 11) == [("ce", 5)]
    shown = protect_cells(truth, at_last_tick, 11, locked={"n"})
    assert shown == {"n": "22", "ar": "0", "ev": COMPLEMENT_MARK, "ce": "<11"}
    assert pinned_cells(shown, at_last_tick, 11) == []
    assert pinned_cells(shown, at_last_tick, 11, truth) == []


def test_a_tie_at_one_tick_does_not_hide_a_recovery_at_another():
    """The demo's blood-pressure advanced track: 22 patients, one censored at day 0 (at risk 22 + censored 1 = 23,
    not 22: a tie), and at day 450 at risk 0, events 17, censored <11. A reader drops the day-0 sum (it cannot
    hold) but still takes 22 = 0 + 17 + c at day 450: c = 5."""
    relations = [Relation({"ar0": 1, "ev0": 1, "ce0": 1, "n": -1}, "~="),
                 Relation({"ar450": 1, "ev450": 1, "ce450": 1, "n": -1}, "~="),
                 Relation({"ce0": 1, "ce450": -1}, "<=")]
    shown = {"n": "22", "ar0": "22", "ev0": "0", "ce0": "<11", "ar450": "0", "ev450": "17", "ce450": "<11"}
    assert pinned_cells(shown, relations, 11) == [("ce450", 5)]
    # with events at day 450 hidden: 22 = 0 + e + c, e >= 11, c >= ce0 >= 1 leaves c anywhere in 1..10
    assert pinned_cells({**shown, "ev450": COMPLEMENT_MARK}, relations, 11) == []


def test_a_left_out_cell_between_equal_neighbours_is_pinned():
    """A cell drawn blank still obeys the figure's facts: with a <= b <= c (cumulative counts never fall),
    3 <= b <= 3 puts b at 3, a small count; between 0 and 12 it can be 0 to 12; between 12 and 12 it is 12,
    which is no small count."""
    relations = [Relation({"a": 1, "b": -1}, "<="), Relation({"b": 1, "c": -1}, "<=")]
    assert pinned_cells({"a": "3", "b": "", "c": "3"}, relations, 11) == [("b", 3)]
    assert pinned_cells({"a": "0", "b": "", "c": "12"}, relations, 11) == []
    assert pinned_cells({"a": "12", "b": "", "c": "12"}, relations, 11) == []


# --- the gate ----------------------------------------------------------------------------------------

@pytest.fixture
def report(tmp_path, tiny_cohort):
    """A report folder with a clean funder table, and params pointing at the tiny cohort (P001-P003)."""
    out = tmp_path / "report"
    (out / "funder").mkdir(parents=True)
    (out / "tables").mkdir()
    pd.DataFrame({"group": ["all", "track=a"], "n": [40, "<11"], "mean": [7.1, "*"]}).to_csv(out / "funder" / "outcome.csv", index=False)
    (out / "funder" / "suppression.json").write_text(json.dumps(
        {"tables": {"outcome": {"counts": ["n"], "derived": {"mean": ["n"]}, "percentages": {}, "columns": ["group", "n", "mean"]}}}))
    params = check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(out)})
    return out, params


def test_clean_outputs_pass(report):
    out, params = report
    assert check_funder_outputs(out, params).empty


def test_patient_identifier_column_fails(report):
    out, params = report
    pd.DataFrame({"patient_id": ["X9"], "n": [50]}).to_csv(out / "funder" / "leak.csv", index=False)
    with pytest.raises(DisclosureError) as info:
        check_funder_outputs(out, params)
    assert isinstance(info.value, EvaluationError)
    assert "funder/leak.csv, column 'patient_id': patient identifier column" in str(info.value)


def test_patient_identifier_value_fails_with_its_row(report):
    out, params = report
    pd.DataFrame({"team": ["T01", "T02"], "note": ["fine", "see P002"]}).to_csv(out / "funder" / "notes.csv", index=False)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.to_dict("records") == [{"file": "funder/notes.csv", "row": 3, "column": "note",
                                            "problem": "patient identifier 'P002'"}]


def test_date_of_birth_fails(report):
    out, params = report
    pd.DataFrame({"group": ["all"], "date_of_birth": ["1950-01-01"]}).to_csv(out / "funder" / "dob.csv", index=False)
    with pytest.raises(DisclosureError, match="column 'date_of_birth': date-of-birth column"):
        check_funder_outputs(out, params)


def test_unsuppressed_small_count_fails(report):
    out, params = report
    pd.DataFrame({"group": ["all", "track=a"], "n": [40, 7], "mean": [7.1, 6.9]}).to_csv(out / "funder" / "outcome.csv", index=False)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.iloc[0].to_dict() == {"file": "funder/outcome.csv", "row": 3, "column": "n",
                                          "problem": "unsuppressed small count 7 (counts of 1 to 10 must show as <11)"}
    # a count-like column the writer forgot to declare is still checked
    pd.DataFrame({"group": ["all"], "n_patients": [3]}).to_csv(out / "funder" / "other.csv", index=False)
    assert "other.csv" in set(check_funder_outputs(out, params, raise_on_problem=False)["file"].str.replace("funder/", ""))


def test_value_computed_from_a_hidden_count_fails(report):
    out, params = report
    pd.DataFrame({"group": ["all", "track=a"], "n": [40, "<11"], "mean": [7.1, 6.9]}).to_csv(out / "funder" / "outcome.csv", index=False)
    with pytest.raises(DisclosureError, match="row 3, column 'mean': shows a value computed from a suppressed count"):
        check_funder_outputs(out, params)


def test_threshold_comes_from_params(report, tiny_cohort):
    out, _ = report
    pd.DataFrame({"group": ["all", "track=a"], "n": [40, 7]}).to_csv(out / "funder" / "outcome.csv", index=False)
    params = check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(out), "suppress_below": 5,
                    "suppress_below_reason": "a test of the threshold"})
    assert check_funder_outputs(out, params, raise_on_problem=False).empty


def test_docx_and_zip_are_read(report):
    out, params = report
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


def test_analyst_tables_may_not_hold_identifiers(report):
    out, params = report
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

def test_index_page_with_a_small_n_fails(report):
    out, params = report
    (out / "index.html").write_text('<html><body><figure><img src="a.png" alt="Curves of T02 (n = 6)">\n'
                                    "<figcaption><b>Time to goal.</b> T01 (n = 7): median 20 days; T03 (n = 30)."
                                    "</figcaption></figure></body></html>")
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.to_dict("records") == [
        {"file": "index.html", "row": "line 1", "column": "<img alt>", "problem": "unsuppressed small count in the text: 'n = 6'"},
        {"file": "index.html", "row": "line 2", "column": "<figcaption>", "problem": "unsuppressed small count in the text: 'n = 7'"}]
    (out / "index.html").write_text("<p>T01 (n &lt; 11): median 20 days; 4 of 10 teams</p>")
    assert check_funder_outputs(out, params, raise_on_problem=False).empty


def test_performance_story_is_read_too(report):
    out, params = report
    (out / "performance_story.html").write_text("<ul><li>HbA1c at goal: <b>3 of 40</b> patients</li></ul>")
    with pytest.raises(DisclosureError, match=r"performance_story.html, row line 1, column '<li>': .*'3 of 40 patients'"):
        check_funder_outputs(out, params)


def test_docx_paragraph_and_table_cell_with_a_small_n_fail(report):
    out, params = report
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


def test_figure_text_in_the_zip_is_read(report):
    """matplotlib writes each text of an SVG as a comment before its glyphs: that is what a reader extracts."""
    out, params = report
    svg = ('<svg><g id="legend_1"><g id="text_3">\n <!-- T01 (n = 7) -->\n <g transform="scale(0.1)"/></g>'
           '<g id="text_4"><!-- T02 (n = &lt;11) --></g></g></svg>')
    with zipfile.ZipFile(out / "funder" / "figures.zip", "w") as zf:
        zf.writestr("figures/km.svg", svg)
    problems = check_funder_outputs(out, params, raise_on_problem=False)
    assert problems.to_dict("records") == [{"file": "funder/figures.zip:figures/km.svg", "row": "element text_3", "column": "",
                                            "problem": "unsuppressed small count in the figure's text: 'n = 7'"}]


def test_quotes_go_through_the_identifier_screen(report, tiny_cohort):
    """The screen is passed in (any callable like identifiers.screen_quote); the evaluator's approved quotes pass."""
    out, params = report
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
