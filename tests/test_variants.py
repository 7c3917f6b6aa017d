"""Variants: the params file with some keys set on the command line, published beside the main report (never over
it), saying in its title, index page and provenance what differs from the params file as written."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evaluation import ParamsError
from evaluation.__main__ import main
from evaluation.core.params import apply_overrides, load_params, parse_overrides
from evaluation.run import runner
from tests.test_runner import one_notebook  # noqa: F401  (a fixture: only the data-quality notebook runs)


def quiet(_: str) -> None:
    pass


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def tiny_params(tmp_path: Path, data_dir: Path, text: str = "") -> Path:
    """A params file of the tiny cohort that leaves as_of out (so it is the last date in the data, 2015-09-01)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(f"cohort_id: tiny\ndata_dir: {data_dir}\n{text}")
    return path


# --- reading --set --------------------------------------------------------------------------------------------

def test_set_values_are_read_as_yaml():
    given = ["goals.a1c=< 7", "suppress_below=7", "subgroups=[a, b]", "ci_method=log-log", "goals.sbp=> 130",
             "as_of=2016-12-31", "title=Goal 7 rerun", "spc.measures="]
    assert parse_overrides(given) == {"goals.a1c": "< 7", "suppress_below": 7, "subgroups": ["a", "b"],
                                      "ci_method": "log-log", "goals.sbp": "> 130", "as_of": dt.date(2016, 12, 31),
                                      "title": "Goal 7 rerun", "spc.measures": None}


@pytest.mark.parametrize("given, text", [
    (["goals.a1c"], "`--set goals.a1c` must be written KEY=VALUE"),
    (["=7"], "`--set =7` must be written KEY=VALUE"),
    (["subgroups=[track, sex"], "`--set subgroups`: '[track, sex' is not a YAML value"),
    (["alpha=0.1", "alpha=0.2"], "`--set alpha` is given twice"),
])
def test_a_set_that_cannot_be_read_is_named(given, text):
    with pytest.raises(ParamsError, match=text.replace("[", r"\[")) as info:
        parse_overrides(given, path="params/x.yaml")
    assert str(info.value).startswith("params/x.yaml: ")


# --- checking the params with the overrides ---------------------------------------------------------------------

def test_a_bad_key_is_named_with_the_set_and_the_params_file(tmp_path):
    path = tiny_params(tmp_path, tmp_path)
    with pytest.raises(ParamsError) as info:
        load_params(path, {"windows.baseline_day": 60}, variant="v")
    assert str(info.value) == (f"{path}: `--set windows.baseline_day`: unknown key `windows.baseline_day`; "
                               "did you mean 'windows.baseline_days'?")
    with pytest.raises(ParamsError) as info:  # nothing close: the keys of that section are listed
        load_params(path, {"windows.zzz": 1}, variant="v")
    assert ("`--set windows.zzz`: unknown key `windows.zzz`; known keys of `windows`: windows.baseline_days, "
            "windows.followup_max_days, windows.followup_min_days, windows.grace_days, windows.utilization_post_days, "
            "windows.utilization_pre_days") in str(info.value)
    with pytest.raises(ParamsError, match="`--set alpha.low`: unknown key `alpha.low`: `alpha` has no keys of its own"):
        load_params(path, {"alpha.low": 0.1}, variant="v")
    with pytest.raises(ParamsError, match="`--set cohort_id`: `cohort_id` cannot be set"):
        load_params(path, {"cohort_id": "other"}, variant="v")


def test_a_bad_value_is_named_with_the_set(tmp_path):
    path = tiny_params(tmp_path, tmp_path)
    with pytest.raises(ParamsError) as info:
        load_params(path, {"ci_method": "plain", "goals.a1c": "=< 7", "alpha": 0.1}, variant="v")
    assert info.value.problems == [
        ("ci_method", "`--set ci_method`: `ci_method` must be one of log-log, log; got 'plain'"),
        ("goals.a1c", "`--set goals.a1c`: goal operator for `a1c` must be one of <, <=, >, >=; got '=<'")]
    # a rule joining two settings names the override that broke it
    with pytest.raises(ParamsError, match=r"`--set windows.followup_max_days`: `windows.followup_min_days` \(90\) "
                                          r"must not exceed `windows.followup_max_days` \(60\)"):
        load_params(path, {"windows.followup_max_days": 60}, variant="v")


def test_an_override_changes_one_setting_and_keeps_the_rest(tmp_path):
    """`--set goals.a1c` on a file that leaves goals out changes the a1c goal only: the other four default goals
    and the bp combination stay. The params file as written is not changed in memory either."""
    path = tiny_params(tmp_path, tmp_path, "windows:\n  baseline_days: 60\n")
    p = load_params(path, {"goals.a1c": "< 7", "windows.grace_days": 10}, variant="v")
    assert {m: g.spec for m, g in p.goals.items()} == {"a1c": "< 7", "sbp": "< 140", "dbp": "< 90", "ldl": "< 100",
                                                       "inr": "2-3"}
    assert p.combined_goals == {"bp": ["sbp", "dbp"]}
    assert (p.windows["baseline_days"], p.windows["grace_days"], p.windows["followup_max_days"]) == (60, 10, 365)
    raw = {"cohort_id": "c", "windows": {"baseline_days": 60}}
    merged = apply_overrides(raw, {"windows.grace_days": 10})
    assert raw == {"cohort_id": "c", "windows": {"baseline_days": 60}}
    assert merged == {"cohort_id": "c", "windows": {"baseline_days": 60, "grace_days": 10}}
    with pytest.raises(ParamsError, match="`--set windows.grace_days`: `windows` is 5 in the params, not a mapping"):
        apply_overrides({"windows": 5}, {"windows.grace_days": 10})


def test_a_variant_is_titled_and_placed_beside_the_main_report(tmp_path, reports_root):
    path = tiny_params(tmp_path, tmp_path, f"title: Tiny pilot\noutput_dir: {reports_root / 'final'}\n")
    main_params = load_params(path)
    assert main_params.title == "Tiny pilot" and main_params.output_dir.name == "final"
    p = load_params(path, {"ci_method": "log"}, variant="log-ci.2")
    assert p.title == "Tiny pilot (variant log-ci.2)"
    assert p.output_dir == reports_root / "variants" / "tiny" / "log-ci.2"  # not the file's output_dir: the main report's
    elsewhere = reports_root / "sweeps" / "s1" / "variants" / "tiny" / "v"
    assert load_params(path, {"output_dir": str(elsewhere)}, variant="v").output_dir == elsewhere
    for bad in (".hidden", "a/b", "../up", "", "sp ace"):
        with pytest.raises(ParamsError, match="`--variant` must be letters, digits, -, _ and ."):
            load_params(path, variant=bad)


# --- the command line -------------------------------------------------------------------------------------------

def test_set_without_variant_is_refused(tmp_path, tiny_cohort, reports_root, capsys):
    path = tiny_params(tmp_path, tiny_cohort)
    assert main(["run", str(path), "--set", "goals.a1c=< 7"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: --set (goals.a1c) needs --variant NAME" in err
    assert not reports_root.exists()  # nothing written: not even the reports root
    assert main(["run", str(path), "--set", "goal.a1c=< 7", "--variant", "a1c7"]) == 2
    assert "`--set goal.a1c`: unknown key `goal.a1c`; did you mean 'goals.a1c'?" in capsys.readouterr().err
    assert main(["run", str(path), "--variant", "../a1c7"]) == 2
    assert "`--variant` must be letters" in capsys.readouterr().err
    assert not reports_root.exists()


# --- runs ---------------------------------------------------------------------------------------------------------

def test_a_variant_report_beside_the_main_one_is_reused_like_any_run(tmp_path, small_report, reports_root):
    """The small cohort's main report is copied in; a variant with the a1c goal at < 7 and a shorter follow-up goes
    to reports/variants/small/a1c7/, leaving every byte of the main report as it was; its provenance lists the
    two resolved settings that differ; a second identical run reuses every notebook."""
    shutil.copytree(small_report.parent / "reports", reports_root)
    main_report = reports_root / "small"
    before = file_hashes(main_report)
    overrides = {"goals.a1c": "< 7", "windows.followup_max_days": 180}
    result = runner.run(small_report, overrides=overrides, variant="a1c7", in_process=True, say=quiet)
    report = reports_root / "variants" / "small" / "a1c7"
    assert result.ok and result.report_dir == report
    assert file_hashes(main_report) == before
    assert (report / "index.html").exists() and (report / "funder").is_dir()
    goal = {folder: pd.read_csv(folder / "tables" / "outcome_change.csv").query("measure == 'a1c' and group == 'all'")
            ["goal"].item() for folder in (main_report, report)}
    assert goal == {main_report: "a1c < 8", report: "a1c < 7"}  # the analyses ran with the variant's goal
    assert "<h1>Cohort small (variant a1c7)</h1>" in (report / "performance_story.html").read_text()

    prov = json.loads((report / "provenance.json").read_text())
    assert prov["variant"] == {
        "name": "a1c7", "base_params_file": str(small_report), "overrides": overrides,
        "differs_from_base": [{"key": "goals.a1c", "base": "< 8", "variant": "< 7"},
                              {"key": "windows.followup_max_days", "base": 365, "variant": 180}]}
    assert prov["params"]["title"] == "Cohort small (variant a1c7)"
    assert prov["params"]["output_dir"] == "reports/variants/small/a1c7"
    assert prov["params_as_written"] == {"cohort_id": "small", "data_dir": str(small_report.parent / "data")}
    assert "variant" not in json.loads((main_report / "provenance.json").read_text())
    page = (report / "index.html").read_text()
    assert "<h1>Cohort small (variant a1c7)</h1>" in page and "<h2>Variant a1c7</h2>" in page
    assert "<tr><td><code>goals.a1c</code></td><td>&lt; 8</td><td>&lt; 7</td></tr>" in page
    assert "<tr><td><code>windows.followup_max_days</code></td><td>365</td><td>180</td></tr>" in page
    assert "Variant" not in (main_report / "index.html").read_text()

    again = runner.run(small_report, overrides=overrides, variant="a1c7", in_process=True, say=quiet)
    assert again.notebooks and {r.status for r in again.notebooks} == {"reused"}
    assert json.loads((report / "provenance.json").read_text())["variant"] == prov["variant"]
    assert file_hashes(main_report) == before


def test_the_base_resolves_as_of_from_the_data_like_the_variant(tmp_path, tiny_cohort, reports_root, one_notebook):  # noqa: F811
    """The tiny cohort's last recorded date is 2015-09-01: that is the base's as_of, which a variant setting
    as_of differs from, in the run that executes the notebook and in the run that reuses it."""
    path = tiny_params(tmp_path, tiny_cohort)
    expected = [{"key": "as_of", "base": "2015-09-01", "variant": "2016-06-30"}]
    for status in ("ran", "reused"):
        result = runner.run(path, overrides={"as_of": dt.date(2016, 6, 30)}, variant="late", in_process=True,
                            say=quiet)
        assert [r.status for r in result.notebooks] == [status]
        prov = json.loads((reports_root / "variants" / "tiny" / "late" / "provenance.json").read_text())
        assert prov["variant"]["differs_from_base"] == expected
        assert prov["variant"]["overrides"] == {"as_of": "2016-06-30"} and prov["data_last_recorded"] == "2015-09-01"


def test_a_variant_goes_where_its_output_dir_says_and_may_differ_in_nothing(tmp_path, tiny_cohort, reports_root,
                                                                            one_notebook):  # noqa: F811
    """What a sweep does: an output_dir inside the reports root. The folder is no difference, and a variant that
    changes no resolved setting (an override equal to the default) has none to list."""
    path = tiny_params(tmp_path, tiny_cohort)
    target = reports_root / "sweeps" / "s1" / "variants" / "tiny" / "same"
    result = runner.run(path, overrides={"output_dir": str(target), "ci_method": "log-log"}, variant="same",
                        in_process=True, say=quiet)
    assert result.report_dir == target and (target / "index.html").exists()
    prov = json.loads((target / "provenance.json").read_text())
    assert prov["variant"]["differs_from_base"] == []
    assert prov["params"]["output_dir"] == "reports/sweeps/s1/variants/tiny/same"
    page = (target / "index.html").read_text()
    assert "No resolved setting differs from the params file" in page and str(target) not in page
    assert not (reports_root / "tiny").exists() and not (reports_root / "variants").exists()
