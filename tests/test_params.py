"""Params: keys are closed, goals parse, mistakes read as plain sentences."""
from __future__ import annotations

import base64
import datetime as dt

import numpy as np
import pytest
import yaml

from evaluation import ParamsError, load_params
from evaluation.__main__ import main
from evaluation.core import params as params_module
from evaluation.core.goals import parse_goal
from evaluation.core.params import check, from_namespace, to_dict
from evaluation.core.paths import REPO_ROOT, shown_path
from evaluation.core.schema import OPEN_KEYS, SCHEMA, Setting
from evaluation.data.loading import load_cohort
from evaluation.data.start import resolve_with_data
from evaluation.run.sweep_spec import load_spec


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


@pytest.mark.parametrize("content, problem", [
    (None, "{kind} not found"), ("folder", "is a folder, not a {kind}"),
    (b"cohort_id: [unclosed\n", "not valid YAML: "), (b"title: caf\xe9\n", "not valid YAML: "),
    (b"- a\n- b\n", "a {kind} must be a YAML mapping of keys to values")],
    ids=["missing", "folder", "bad-yaml", "latin-1", "list"])
@pytest.mark.parametrize("kind", ["params file", "sweep spec"])
def test_a_params_file_and_a_sweep_spec_name_the_same_mistakes_alike(tmp_path, content, problem, kind):
    path = tmp_path / "file.yaml"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    read = load_params if kind == "params file" else load_spec
    with pytest.raises(ParamsError) as caught:
        read(path)
    assert str(caught.value).startswith(f"{shown_path(path) if kind == 'sweep spec' else path}: "
                                        f"{problem.format(kind=kind)}")


def test_relative_data_dir_resolves_from_repository_root(tmp_path):

    assert check(base()).data_dir == REPO_ROOT / "data" / "c1"
    assert check(base(data_dir=str(tmp_path))).data_dir == tmp_path


def test_reports_root_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path))
    assert check(base()).output_dir == tmp_path / "c1"


def test_from_namespace_ignores_modules_named_like_sections():
    """A notebook may `from evaluation import survival`; that module is not the `survival` param."""
    p = from_namespace({"cohort_id": "c1", "data_dir": "data/c1", "survival": params_module,
                        "windows": {"baseline_days": 30}})
    assert p.survival["horizons_days"] == [90, 180, 365] and p.windows["baseline_days"] == 30


# --- one schema, every problem at once ---------------------------------------------------------------

BAD_SETTINGS = {  # each a setting the first round accepted and then tripped on minutes into a run
    "spc": {"control_chart": "lanney"},
    "value": {"rate_model": "poison"},
    "engagement": {"weights": {"attendance": -1}},
    "survival": {"measures": ["a1x"]},
    "subgroups": ["track", "region"],
    "suppress_below": 0,
}


def test_every_bad_setting_is_reported_at_once():
    with pytest.raises(ParamsError) as err:
        check(base(**BAD_SETTINGS))
    keys = [key for key, _ in err.value.problems]
    assert keys == ["suppress_below", "subgroups", "engagement.weights.attendance", "spc.control_chart",
                    "value.rate_model", "survival.measures"]
    text = str(err.value)
    assert text.startswith("6 problems in the params:")
    assert "`spc.control_chart` must be one of p, laney; got 'lanney'; did you mean 'laney'?" in text
    assert "`value.rate_model` must be one of poisson_robust, poisson, negative_binomial; got 'poison'; did you mean 'poisson'?" in text
    assert "`subgroups` item 2 must be one of track, condition, setting, state, sex; got 'region'" in text
    assert "`suppress_below` must be a whole number between 2 and 1000; got 0" in text
    assert "got 'a1x'; did you mean 'a1c'?" in text


def _validate(path, raw) -> int:
    """`python -m evaluation validate` on ``raw`` written as a params file at ``path``."""
    path.write_text(yaml.safe_dump(raw))
    return main(["validate", str(path)])


def test_validate_exits_2_with_every_bad_setting(tmp_path, tiny_cohort, capsys):
    path = tmp_path / "bad.yaml"
    assert _validate(path, base(data_dir=str(tiny_cohort), **BAD_SETTINGS)) == 2
    err = capsys.readouterr().err
    assert f"{path}: 6 problems in the params:" in err and err.count("\n  - ") == 6


def test_settings_naming_the_data_are_checked_once_it_is_read(tmp_path, tiny_cohort, capsys):
    """The tiny cohort has no monthly reports, so phases for a team cannot apply: validate says so, exit 2."""
    assert _validate(tmp_path / "phases.yaml", base(data_dir=str(tiny_cohort), spc={"phases": {"T01": ["2015-06"]}})) == 2
    assert "`spc.phases` names teams that have no monthly reports: T01; this cohort has no monthly_reports.csv" in capsys.readouterr().err


def test_resolved_params_round_trip():
    """What the runner hands a notebook (every key) resolves to the same params again."""
    p = check(base(goals={"a1c": "<= 7.5", "inr": {"between": [2, 3]}}, windows={"baseline_days": 60}, as_of="2024-06-30"))
    again = check(to_dict(p))
    assert again == p and to_dict(again) == to_dict(p)
    assert to_dict(p)["goals"] == {"a1c": "<= 7.5", "inr": "2-3"} and to_dict(p)["as_of"] == "2024-06-30"


def test_a_notebook_resolves_like_the_runner(tmp_path):
    """`-p params_file`, `-f` (the file's keys injected) and the runner's every-key injection agree; with no
    params at all, the demo's."""
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(base()))
    by_file = from_namespace({"params_file": str(path), "cohort_id": None})
    by_keys = from_namespace(base())
    by_runner = from_namespace({"params_file": str(path), **to_dict(by_file)})
    assert by_file == by_keys == by_runner and by_file.as_of is None
    assert from_namespace({"params_file": str(path), "ci_method": "log"}).ci_method == "log"  # a key overrides the file
    assert from_namespace({}).cohort_id == "demo"


def test_as_of_defaults_to_the_last_recorded_date(tiny_cohort):
    """The tiny cohort's latest recorded date is P002's exit on 2015-09-01 (its readings end 2015-06-01)."""
    p = check(base(data_dir=str(tiny_cohort)))
    assert resolve_with_data(p, load_cohort(p)).as_of == dt.date(2015, 9, 1)
    given = check(base(data_dir=str(tiny_cohort), as_of="2016-12-31"))
    assert resolve_with_data(given, load_cohort(given)).as_of == dt.date(2016, 12, 31)


def test_params_are_data_never_code(tmp_path):
    """A `!!binary` title (bytes that papermill would write unescaped into the parameters cell) is refused with
    its key named, and what the runner hands papermill is plain text, numbers, lists and maps only."""
    payload = base64.b64encode(b'"+str(__import__("os").system("touch X"))+"').decode()
    path = tmp_path / "payload.yaml"
    path.write_text(f"cohort_id: c1\ndata_dir: data/c1\ntitle: !!binary {payload}\n")
    with pytest.raises(ParamsError, match=r"`title` must be a piece of text; got b'"):
        load_params(path)
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("cohort_id: c1\ndata_dir: !!python/object/apply:os.system ['touch X']\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tagged)

    def plain(value) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float, bool))

    assert plain(to_dict(check(base(spc={"phases": {"T01": ["2015-06"]}}, as_of="2016-12-31"))))


def test_output_dir_outside_the_reports_folder_is_refused(tmp_path, monkeypatch):
    """The reports folder is the only place the workbench writes: elsewhere, the folder itself and ``..`` tricks
    are refused; a folder inside it is accepted."""
    root = tmp_path / "reports"
    monkeypatch.setenv("CMM_REPORTS_DIR", str(root))
    for bad in (str(tmp_path / "elsewhere"), str(root), str(root / ".." / "escaped"), "/"):
        with pytest.raises(ParamsError, match="`output_dir` must be a folder inside the reports folder"):
            check({"cohort_id": "c", "data_dir": "data/demo", "output_dir": bad})
    assert check({"cohort_id": "c", "data_dir": "data/demo", "output_dir": str(root / "c-rerun")}).output_dir == root / "c-rerun"


def test_threshold_below_cms_rule_needs_a_reason():
    with pytest.raises(ParamsError, match="`suppress_below` is 5, below the CMS cell-size rule of 11: say why in "
                                          "`suppress_below_reason`"):
        check({"cohort_id": "c", "data_dir": "data/demo", "suppress_below": 5})
    p = check({"cohort_id": "c", "data_dir": "data/demo", "suppress_below": 5, "suppress_below_reason": "DUA 7"})
    assert (p.suppress_below, p.suppress_below_reason) == (5, "DUA 7")
    assert check(to_dict(p)) == p
    assert check({"cohort_id": "c", "data_dir": "data/demo", "suppress_below": 20}).suppress_below == 20  # stricter: fine


def _settings(schema, prefix=""):
    for key, setting in schema.items():
        if isinstance(setting, dict):
            yield from _settings(setting, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", setting


def test_every_key_of_the_schema_says_what_it_means_and_its_default_passes_its_check():
    settings = dict(_settings(SCHEMA))
    assert len(settings) > 40 and all(isinstance(s, Setting) and s.doc for s in settings.values())
    for key, s in settings.items():
        if s.check is None or key in OPEN_KEYS:  # spc.phases has its own reader; goals are checked per measure
            continue
        assert s.check.describe, key
        if s.default is not None:
            assert s.check(s.default) == s.default, key


def test_phase_months_are_written_as_in_the_data():
    """`spc.phases` takes months as a `month` column does: YYYY-MM, or the first of the month."""
    assert check(base(spc={"phases": ["2015-06-01", "2015-09"]})).spc["phases"] == ["2015-06", "2015-09"]
    assert check(base(spc={"phases": {"T01": "2015-06"}})).spc["phases"] == {"T01": ["2015-06"]}
    with pytest.raises(ParamsError, match=r"`spc.phases` item 2 must be a month written YYYY-MM; got '2015-13'"):
        check(base(spc={"phases": ["2015-06", "2015-13"]}))
    with pytest.raises(ParamsError, match=r"`spc.phases.T01` item 1 must be a month written YYYY-MM; got '2015-06-15'"):
        check(base(spc={"phases": {"T01": ["2015-06-15"]}}))


@pytest.mark.parametrize("cohort_id", ["variants", "sweeps", "compare", "scratch", "Variants"])
def test_the_reports_folders_own_names_are_not_cohort_ids(cohort_id):
    """reports/variants/, reports/sweeps/, reports/compare/ and reports/scratch/ hold variants, sweeps, comparisons
    and notebooks run alone: a cohort of that name would publish its report over them (case-blind disks included)."""
    with pytest.raises(ParamsError, match=f"`cohort_id` '{cohort_id}' is reserved: reports/{cohort_id.lower()}/ is "
                                          "the reports folder's own"):
        check(base(cohort_id=cohort_id))
    assert check(base(cohort_id=f"{cohort_id}-2024")).cohort_id == f"{cohort_id}-2024"
