"""Small-cell suppression of a table (evaluation/stats/cell_suppression.py).

Reference rule: CMS cell-size suppression policy (ResDAC, "CMS Cell Size Suppression Policy"): no cell of 1 to
10 may be shown, nor be derivable from other cells (totals, percentages). Recoverability is checked here by hand
algebra on what each suppressed table shows, independently of the linear programs the module uses: a reader
takes ``<11`` for 1 to 10 and ``*`` for 11 or more (:func:`can_be`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from evaluation.core.disclosure import COMPLEMENT_MARK
from evaluation.stats import cell_suppression
from evaluation.stats.cell_suppression import SuppressionSpec, auto_spec, suppress
from evaluation.stats.figure_protection import Relation, pinned_cells


def can_be(shown, threshold: int = 11, top: int = 200) -> range:
    """The counts a reader of a table allows for a cell from what it shows (by hand: a number is itself, ``<11``
    is 1 to 10, ``*`` is 11 or more, up to ``top``)."""
    if shown == f"<{threshold}":
        return range(1, threshold)
    if shown == COMPLEMENT_MARK:
        return range(threshold, top)
    return range(int(shown), int(shown) + 1)


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


# --- complementary suppression -----------------------------------------------------------------------

def test_small_cell_recoverable_from_a_total_is_protected():
    """all = 32 = track=a 4 + track=b 28: showing 28 would give 4 away (32 - 28), so 28 is hidden too.

    By hand, a reader of the table then knows x + y = 32 with x in 1..10 (<11) and y >= 11 (*): x can be any
    of 1..10.
    """
    df = pd.DataFrame({"group": ["all", "track=a", "track=b"], "n": [32, 4, 28]})
    st = suppress(df, SuppressionSpec(counts=("n",)), 11)
    assert list(st.table["n"]) == [32, "<11", COMPLEMENT_MARK]
    total, a, b = st.table["n"]
    assert {x for x in can_be(a) if total - x in can_be(b)} == set(range(1, 11))


def test_overlapping_subgroups_are_not_totals():
    """Condition strata overlap (a patient can have two), so all != sum: no complementary suppression."""
    df = pd.DataFrame({"group": ["all", "condition=a", "condition=b"], "n": [30, 4, 26]})
    st = suppress(df, SuppressionSpec(counts=("n",)), 11)
    assert list(st.table["n"]) == [30, "<11", 26]


def test_interval_disclosure_is_caught():
    """Parts 1, 11, 20 of a total of 32. Hiding 1 and 11 alone fails: x + y = 12 with x in 1..10 and y >= 11
    forces x = 1, y = 11. So 20 is hidden as well; then a reader of the table knows x + y + z = 32 with y, z >= 11,
    which leaves x anywhere in 1..10.
    """
    df = pd.DataFrame({"group": ["all", "site=a", "site=b", "site=c"], "n": [32, 1, 11, 20]})
    st = suppress(df, SuppressionSpec(counts=("n",)), 11)
    assert list(st.table["n"]) == [32, "<11", COMPLEMENT_MARK, COMPLEMENT_MARK]
    total, a, b, c = st.table["n"]
    assert {x for x in can_be(a) for y in can_be(b) if total - x - y in can_be(c)} == set(range(1, 11))
    # what a reader would have learnt with 20 shown: the gate's audit pins the 1
    parts = Relation({"all": 1, "a": -1, "b": -1, "c": -1}, "==", 0.0, "all = a + b + c")
    assert pinned_cells({"all": "32", "a": "<11", "b": COMPLEMENT_MARK, "c": "20"}, [parts], 11) == [("a", 1)]


def test_two_way_table_with_margins():
    """A 2 x 2 table with row totals (column `total`) and column totals (row `all`):

                female  male  total
        all         30    50     80
        initial      4    20     24
        advanced    26    30     56

    4 is small. Its row (24 - 20) and its column (30 - 26) would each give it away, so a cell in each is hidden,
    and then one more to close the rectangle. By hand, a reader of the table with x = initial/female knows
    initial/male = 24 - x, advanced/female = 30 - x, advanced/male = 26 + x; every x in 1..10 keeps each of them
    consistent with what its cell shows.
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
    assert not {(0, "female"), (0, "male"), (1, "total"), (2, "total")} & hidden
    t = st.table
    female, male, initial, advanced = t.at[0, "female"], t.at[0, "male"], t.at[1, "total"], t.at[2, "total"]
    consistent = [x for x in can_be(t.at[1, "female"]) if initial - x in can_be(t.at[1, "male"])
                  and female - x in can_be(t.at[2, "female"]) and advanced - (female - x) in can_be(t.at[2, "male"])
                  and male - (initial - x) in can_be(t.at[2, "male"])]
    assert consistent == list(range(1, 11))


def test_blocks_have_their_own_totals():
    df = pd.DataFrame({"measure": ["a1c"] * 3 + ["sbp"] * 3, "group": ["all", "track=i", "track=a"] * 2,
                       "n": [40, 35, 5, 40, 20, 20]})
    st = suppress(df, SuppressionSpec(counts=("n",), block=("measure",)), 11)
    assert list(st.table["n"]) == [40, COMPLEMENT_MARK, "<11", 40, 20, 20]


def _pinned_one_by_one(values, primary, mask, totals, threshold):
    """The audit written plainly: for every small count, its smallest and largest value consistent with every
    total (two dense linear programs over all hidden cells). The reference for the fast audit."""
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


def test_auto_spec_reads_counts_percentages_and_derived_cells_from_the_names():
    """n and pre_events are counts by name, pct_goal a percentage of the first count, other numbers computed
    from it; exempt columns and the row keys are none of these."""
    df = pd.DataFrame({"measure": ["a1c"], "group": ["all"], "n": [40], "pre_events": [12], "n_teams": [4],
                       "pct_goal": [50.0], "mean_change": [-1.0]})
    spec = auto_spec(df, exempt=("n_teams",), keys=("measure",), block=("measure",))
    assert spec.counts == ("n", "pre_events")
    assert spec.percentages == {"pct_goal": "n"}
    assert spec.derived == {"mean_change": ("n",)}
    assert spec.block == ("measure",)
    assert auto_spec(df, exempt=("n_teams",), derive_rest=False).derived == {}
