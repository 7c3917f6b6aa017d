"""The one subgroup parser and the team cap (evaluation/core/groups.py), on tables small enough to count by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.core.errors import ParamsError
from evaluation.core.groups import TeamCap, both_ends, first, group_masks, group_rows, subgroup_members

PATIENTS = pd.DataFrame({
    "patient_id": ["P1", "P2", "P3", "P4"],
    "team_id": ["T2", "T1", "T1", "T2"],
    "sex": ["F", "M", None, "F"],
    "diabetes": [1, 0, 1, 0],
    "hypertension": [1, 1, 0, 0],
    "dyslipidemia": [0, 0, 0, 0],
})
TEAMS = pd.DataFrame({"team_id": ["T1", "T2"], "setting": ["rural", "urban"]})


def test_all_first_then_each_subgroup_sorted_and_overlapping_conditions():
    m = subgroup_members(PATIENTS, TEAMS, ["sex", "condition", "setting", "team"])
    groups = {g: sorted(w) for g, w in m.groupby("group", sort=False)["patient_id"]}
    assert list(groups) == ["all", "sex=F", "sex=M", "condition=diabetes", "condition=hypertension",
                            "setting=rural", "setting=urban", "team=T1", "team=T2"]
    assert groups["all"] == ["P1", "P2", "P3", "P4"]
    assert groups["sex=F"] == ["P1", "P4"] and groups["sex=M"] == ["P2"]  # P3 has no sex: in no sex group
    assert groups["condition=diabetes"] == ["P1", "P3"] and groups["condition=hypertension"] == ["P1", "P2"]
    assert "condition=dyslipidemia" not in groups  # nobody has it
    assert groups["setting=rural"] == ["P2", "P3"]  # joined from teams.csv on team_id
    assert groups["team=T2"] == ["P1", "P4"]


def test_an_unknown_subgroup_names_the_allowed_ones():
    with pytest.raises(ParamsError, match=r"`subgroups` entries must be one of .*sex.*; got 'payer'"):
        subgroup_members(PATIENTS, TEAMS, ["payer"])


def test_group_rows_and_masks_map_groups_onto_rows_with_repeated_patients():
    m = subgroup_members(PATIENTS, TEAMS, ["sex"])
    ids = ["P4", "P1", "P2", "P4", "P9"]  # P4 twice (two measures), P9 not a patient
    rows = dict(group_rows(ids, m))
    assert rows["all"].tolist() == [0, 1, 2, 3]
    assert rows["sex=F"].tolist() == [0, 1, 3] and rows["sex=M"].tolist() == [2]
    masks = dict(group_masks(ids, m, pd.Index([10, 11, 12, 13, 14])))
    assert masks["sex=M"].tolist() == [False, False, True, False, False]
    assert list(masks["all"].index) == [10, 11, 12, 13, 14]


def test_group_masks_keep_all_for_an_empty_table():
    m = subgroup_members(PATIENTS, TEAMS, ["sex"])
    masks = group_masks([], m)
    assert [g for g, _ in masks] == ["all"] and len(masks[0][1]) == 0


def test_team_caps_take_both_ends_or_the_first_and_say_so():
    ranked = [f"T{i:02d}" for i in range(1, 11)]
    cap = both_ends(ranked, 4, rule="the 2 lowest and the 2 highest")
    assert cap.teams == ["T01", "T02", "T09", "T10"] and cap.split == 2 and cap.capped
    assert cap.sentence("x") == " Shown: 4 of 10 teams, the 2 lowest and the 2 highest; every team is in tables/x.csv."
    odd = both_ends(ranked, 5)
    assert odd.teams == ["T01", "T02", "T08", "T09", "T10"]
    assert first(ranked, 3, rule="most excerpts").teams == ["T01", "T02", "T03"]
    whole = first(ranked, 30, rule="most excerpts")
    assert whole == TeamCap(ranked, 10) and not whole.capped and whole.sentence("x") == ""
    assert both_ends(ranked, 4, total=12).total == 12


def test_group_rows_at_scale_matches_a_plain_lookup():
    rng = np.random.default_rng(3)
    n = 3000
    patients = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "team_id": [f"T{i % 37}" for i in range(n)],
                             "sex": rng.choice(["F", "M"], n)})
    m = subgroup_members(patients, None, ["team", "sex"])
    ids = list(rng.choice(patients["patient_id"], 5000))
    got = dict(group_rows(ids, m))
    for group, who in m.groupby("group", sort=False)["patient_id"]:
        expected = [i for i, p in enumerate(ids) if p in set(who)]
        assert got.get(group, np.array([], int)).tolist() == expected, group
