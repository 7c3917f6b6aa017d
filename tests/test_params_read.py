"""Recording which params a notebook reads: a field, one key of a section, which keys a section has, or a
section whole; and the value each recorded name stands for when the runner compares two runs."""
from __future__ import annotations

import copy
import json
import pickle

import pytest
import yaml

from evaluation.core.params import load_params, to_dict
from evaluation.core.params_read import (RecordedSection, read_value, record_params_reads,
                                         stop_recording_params_reads)
from evaluation.data.loading import load_cohort, validation_key
from evaluation.run.provenance import params_values


@pytest.fixture
def reads(tmp_path):
    """Record into a file; yield a function returning what has been recorded so far."""
    record = tmp_path / "read.json"
    record_params_reads(record)
    yield lambda: set(json.loads(record.read_text())["params_read"])
    stop_recording_params_reads()


def section() -> RecordedSection:
    return RecordedSection("spc", {"measures": ["a1c"], "phases": {"T01": "2022-01"}})


def test_one_key_is_recorded_as_that_key(reads):
    spc = section()
    assert spc["measures"] == ["a1c"] and spc.get("phases") == {"T01": "2022-01"} and spc.get("nope") is None
    assert "measures" in spc
    assert reads() == {"spc.measures", "spc.phases", "spc.nope"}


def test_which_keys_a_section_has_is_recorded_apart_from_their_values(reads):
    spc = section()
    assert sorted(spc) == ["measures", "phases"] and len(spc) == 2 and bool(spc) and "absent" not in spc
    assert list(spc.keys()) == ["measures", "phases"]
    assert reads() == {"keys(spc)"}


@pytest.mark.parametrize("read_whole", [
    lambda d: list(d.items()), lambda d: list(d.values()), lambda d: d == {}, lambda d: repr(d), lambda d: d.copy(),
    lambda d: copy.deepcopy(d), lambda d: pickle.dumps(d), lambda d: json.dumps(d), lambda d: yaml.safe_dump(d),
    lambda d: d | {}, lambda d: {} | d,
], ids=["items", "values", "eq", "repr", "copy", "deepcopy", "pickle", "json", "yaml", "or", "ror"])
def test_any_other_read_records_the_section_whole(reads, read_whole):
    read_whole(section())
    assert "spc" in reads()


def test_copies_through_cpythons_own_paths_note_every_key(reads):
    spc = section()
    unpacked = (lambda **kw: kw)(**spc)
    assert dict(spc) == {**spc} == unpacked == {"measures": ["a1c"], "phases": {"T01": "2022-01"}}
    assert {"spc.measures", "spc.phases", "keys(spc)"} <= reads()


def test_a_copy_is_a_plain_dict_and_the_section_is_read_only():
    spc = section()
    assert type(copy.deepcopy(spc)) is dict and type(pickle.loads(pickle.dumps(spc))) is dict
    assert type(spc.copy()) is dict and yaml.safe_load(yaml.safe_dump(spc)) == dict(spc)
    with pytest.raises(TypeError, match="params section `spc` is read-only"):
        spc["measures"] = []
    with pytest.raises(TypeError, match="read-only"):
        spc.update(measures=[])


def test_nothing_is_recorded_when_not_recording(tmp_path):
    spc = section()
    assert spc["measures"] == ["a1c"] and sorted(spc) == ["measures", "phases"]  # no record file, no error


def test_the_value_a_recorded_name_stands_for():
    values = {"ci_method": "log", "goals": {"a1c": "< 7", "inr": "2-3"}, "subgroups": ["track"]}
    assert read_value(values, "ci_method") == "log"
    assert read_value(values, "goals.a1c") == "< 7" and read_value(values, "goals.ldl") is None
    assert read_value(values, "keys(goals)") == ["a1c", "inr"]
    assert read_value(values, "goals") == {"a1c": "< 7", "inr": "2-3"}
    assert read_value(values, "subgroups") == ["track"] and read_value(values, "absent") is None


def test_params_sections_record_their_keys(tmp_path, reads):
    path = tmp_path / "p.yaml"
    path.write_text(f"cohort_id: tiny\ndata_dir: {tmp_path}\nas_of: '2016-12-31'\n")
    params = load_params(path)
    assert isinstance(params.goals, RecordedSection) and isinstance(params.spc, RecordedSection)
    params.goals["a1c"], params.windows["followup_max_days"]
    assert reads() == {"goals.a1c", "windows.followup_max_days"}
    assert all(type(to_dict(params)[name]) is dict for name in ("goals", "spc", "windows"))
    a1c_7 = load_params(path, {"goals.a1c": "< 7"}, "a1c-7")
    a1c_8 = params_values(params)
    assert read_value(params_values(a1c_7), "keys(goals)") == read_value(a1c_8, "keys(goals)")
    assert read_value(params_values(a1c_7), "goals.a1c") != read_value(a1c_8, "goals.a1c")


def test_validating_a_cohort_reads_which_measures_have_goals_not_the_goals(tiny_cohort, tmp_path, reads):
    path = tmp_path / "p.yaml"
    path.write_text(f"cohort_id: tiny\ndata_dir: {tiny_cohort}\nas_of: '2016-12-31'\n")
    params = load_params(path)
    load_cohort(params, raise_on_error=False)
    validation_key(params)
    read = reads()
    assert "keys(goals)" in read and not {n for n in read if n == "goals" or n.startswith("goals.")}
    a1c_7 = load_params(path, {"goals.a1c": "< 7"}, "a1c-7")
    assert validation_key(a1c_7) == validation_key(params)  # the cohort validated once serves an A1c variant
