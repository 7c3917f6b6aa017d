"""Params: keys are closed, goals parse, mistakes read as plain sentences."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation import ParamsError, load_params
from evaluation.params import check, parse_goal


def base(**extra):
    return {"cohort_id": "c1", "data_dir": "data/c1", **extra}


def test_demo_params_load():
    p = load_params("params/demo.yaml")
    assert p.cohort_id == "demo" and p.data_dir.name == "demo" and p.ci_method == "log-log"
    assert p.suppress_below == 11 and p.output_dir.name == "demo"
    assert str(p.goals["a1c"]) == "a1c < 8" and str(p.goals["inr"]) == "inr 2-3"


@pytest.mark.parametrize("spec, values, expected", [
    ("< 8", [7.9, 8.0, 8.1, np.nan], [True, False, False, False]),
    ("<= 8", [7.9, 8.0, 8.1], [True, True, False]),
    (">= 60", [59, 60], [False, True]),
    ({"operator": "<", "value": 140}, [139, 140], [True, False]),
    ("2-3", [1.9, 2.0, 3.0, 3.1], [False, True, True, False]),
    ({"between": [2, 3]}, [2.5], [True]),
])
def test_goal_met(spec, values, expected):
    assert parse_goal("m", spec).met(values).tolist() == expected


def test_bad_goal_operator_message():
    with pytest.raises(ParamsError, match="goal operator for `a1c` must be one of <, <=, >, >=; got '=<'"):
        check(base(goals={"a1c": "=< 8"}))


def test_unknown_top_level_key_suggests_the_right_one():
    with pytest.raises(ParamsError, match="unknown key `ci_methd`; did you mean 'ci_method'"):
        check(base(ci_methd="log"))


def test_unknown_section_key_suggests_the_right_one():
    with pytest.raises(ParamsError, match="unknown key `windows.baseline_day`; did you mean 'baseline_days'"):
        check(base(windows={"baseline_day": 60}))


def test_section_values_merge_with_defaults():
    p = check(base(windows={"baseline_days": 60}))
    assert p.windows["baseline_days"] == 60 and p.windows["followup_max_days"] == 365


@pytest.mark.parametrize("raw, text", [
    (base(ci_method="plain"), "`ci_method` must be one of log-log, log; got 'plain'"),
    (base(alpha=1.5), "`alpha` must be a number above 0 and at most 0.5; got 1.5"),
    (base(suppress_below=2.5), "`suppress_below` must be a whole number"),
    ({"data_dir": "x"}, "`cohort_id` is required"),
    (base(as_of="31/12/2016"), "`as_of` must be a date written YYYY-MM-DD"),
    (base(qualitative={"code_rule": "consensus"}), "`qualitative.consensus_coder` must name the coder"),
    (base(combined_goals={"bp": ["sbp", "map"]}), "`combined_goals.bp` needs a goal for map"),
    (base(windows={"followup_min_days": 400}), "`windows.followup_min_days` (400) must not exceed `windows.followup_max_days` (365)"),
])
def test_mistakes_are_named(raw, text):
    with pytest.raises(ParamsError, match=text.replace("(", r"\(").replace(")", r"\)")):
        check(raw)


def test_params_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ParamsError, match=f"{missing}: params file not found"):
        load_params(missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("cohort_id: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_relative_data_dir_resolves_from_repository_root(tmp_path):
    from evaluation.params import REPO_ROOT

    assert check(base()).data_dir == REPO_ROOT / "data" / "c1"
    assert check(base(data_dir=str(tmp_path))).data_dir == tmp_path


def test_reports_root_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path))
    assert check(base()).output_dir == tmp_path / "c1"


def test_from_namespace_ignores_modules_named_like_sections():
    """A notebook may `from evaluation import survival`; that module is not the `survival` param."""
    from evaluation import params as params_module
    from evaluation.params import from_namespace

    p = from_namespace({"cohort_id": "c1", "data_dir": "data/c1", "survival": params_module,
                        "windows": {"baseline_days": 30}})
    assert p.survival["horizons_days"] == [90, 180, 365] and p.windows["baseline_days"] == 30
