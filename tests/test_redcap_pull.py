"""Pulling a REDCap export through the API (evaluation.data.redcap_pull), against a stand-in for PyCap's Project
that serves a synthetic cohort's export as REDCap's API does (metadata with snake_case headers, flat raw CSV)."""
from __future__ import annotations

import sys

import pandas as pd
import pytest

from evaluation.__main__ import main
from evaluation.core.errors import ParamsError
from evaluation.core.params import check
from evaluation.data.loading import load_cohort
from evaluation.data.redcap_pull import PullFailed, pull_export, pycap_project
from evaluation.data.synth.redcap import UI_COLUMNS, write_redcap

TOKEN = "3F2504E04F8911D39A0C0305E82C3301"  # the shape of a REDCap API token; made up
API_COLUMNS = ["field_name", "form_name", "section_header", "field_type", "field_label",
               "select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number",
               "text_validation_min", "text_validation_max", "identifier", "branching_logic", "required_field",
               "custom_alignment", "question_number", "matrix_group_name", "matrix_ranking", "field_annotation"]


class FakeProject:
    """Serves one export folder as PyCap's Project would, and notes how it was asked."""

    calls: list = []

    def __init__(self, folder, fail: Exception | None = None):
        self.folder, self.fail = folder, fail

    def export_metadata(self, format_type="json"):
        assert format_type == "csv"
        ui = pd.read_csv(self.folder / "redcap_dictionary.csv", dtype=str, keep_default_na=False)
        return ui[list(UI_COLUMNS)].set_axis(API_COLUMNS, axis=1).to_csv(index=False)

    def export_records(self, **kwargs):
        FakeProject.calls.append(kwargs)
        if self.fail is not None:
            raise self.fail
        return (self.folder / "redcap_records.csv").read_text(encoding="utf-8")


@pytest.fixture
def served(tmp_path, tiny_cohort):
    """The tiny cohort as the export a REDCap project serves, and params for an empty data folder."""
    export = write_redcap(tiny_cohort, tmp_path / "served")
    (export / "redcap.yaml").rename(tmp_path / "redcap.yaml")
    data = tmp_path / "data"
    params = check({"cohort_id": "tiny", "data_dir": str(data),
                    "redcap": {"api_url": "https://redcap.example.org/api/"}})
    return export, data, params


def test_a_pull_writes_the_export_the_importer_reads(served, tiny_cohort, tmp_path):
    export, data, params = served
    FakeProject.calls.clear()
    pulled = pull_export(params, environ={"REDCAP_API_TOKEN": TOKEN},
                         connect=lambda url, token: FakeProject(export))
    # records: 2 teams + 3 patients; rows: those 5, plus a lab instance per patient and date (2 + 1 + 2)
    assert (pulled.n_records, pulled.n_rows, pulled.host) == (5, 10, "redcap.example.org")
    assert FakeProject.calls[0] | {"raw_or_label": "raw", "event_name": "unique", "export_data_access_groups": True} \
        == FakeProject.calls[0]
    assert sorted(p.name for p in data.iterdir()) == ["redcap_dictionary.csv", "redcap_records.csv"]
    assert pd.read_csv(data / "redcap_dictionary.csv").columns[0] == "field_name"  # the API's own headers
    (tmp_path / "redcap.yaml").rename(data / "redcap.yaml")
    pulled_cohort, csv_cohort = load_cohort(data), load_cohort(tiny_cohort)
    for name in ("teams", "patients", "measurements"):
        want = csv_cohort.tables[name].drop(columns="row")
        got = pulled_cohort.tables[name].drop(columns="row")
        pd.testing.assert_frame_equal(got.sort_values(list(got.columns)).reset_index(drop=True),
                                      want.sort_values(list(want.columns)).reset_index(drop=True), obj=name)
    assert not any(TOKEN in p.read_text(encoding="utf-8") for p in data.iterdir())
    assert TOKEN not in repr(pulled)


def test_without_a_token_in_the_environment_the_pull_names_the_variable(served):
    _, data, params = served
    with pytest.raises(ParamsError, match="REDCAP_API_TOKEN") as info:
        pull_export(params, environ={}, connect=lambda url, token: pytest.fail("the API was called"))
    assert info.value.key == "redcap.token_env"
    other = check({"cohort_id": "tiny", "data_dir": str(data),
                   "redcap": {"api_url": "https://redcap.example.org/api/", "token_env": "CMM_REGISTRY_TOKEN"}})
    with pytest.raises(ParamsError, match="CMM_REGISTRY_TOKEN"):
        pull_export(other, environ={"REDCAP_API_TOKEN": TOKEN})


def test_a_failed_pull_keeps_the_last_export_and_never_shows_the_token(served):
    export, data, params = served
    pull_export(params, environ={"REDCAP_API_TOKEN": TOKEN}, connect=lambda url, token: FakeProject(export))
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    refusal = RuntimeError(f"ERROR: You do not have permissions to use the API (token {TOKEN})")
    with pytest.raises(PullFailed) as info:
        pull_export(params, environ={"REDCAP_API_TOKEN": TOKEN},
                    connect=lambda url, token: FakeProject(export, fail=refusal))
    assert TOKEN not in str(info.value) and "[token]" in str(info.value)
    assert "redcap.example.org" in str(info.value)
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before


def test_a_folder_with_a_downloaded_export_is_not_pulled_into(served):
    export, data, params = served
    data.mkdir()
    (data / "Registry_DATA_2024-01-15_1030.csv").write_text("record_id\n1\n")
    with pytest.raises(PullFailed, match="Registry_DATA_2024-01-15_1030.csv"):
        pull_export(params, environ={"REDCAP_API_TOKEN": TOKEN}, connect=lambda url, token: FakeProject(export))


def test_without_pycap_the_pull_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "redcap", None)  # import redcap fails, as without the extra
    with pytest.raises(PullFailed, match=r"pip install 'cmm-evaluation\[redcap\]'"):
        pycap_project("https://redcap.example.org/api/", TOKEN)


def test_params_never_hold_the_token_and_the_address_is_checked(tmp_path):
    with pytest.raises(ParamsError) as info:
        check({"cohort_id": "x", "data_dir": str(tmp_path), "redcap": {"token": TOKEN, "api_url": "redcap.example.org"}})
    text = str(info.value)
    assert "`redcap.token`: never write the API token in a params file" in text
    assert "`redcap.api_url` must be a web address starting https://" in text
    assert "unknown key `redcap.token`" not in text


def test_the_command_stops_on_a_params_mistake(tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text(f"cohort_id: x\ndata_dir: {tmp_path}\n", encoding="utf-8")
    assert main(["redcap-pull", str(params)]) == 2
    assert "`redcap.api_url` is not set" in capsys.readouterr().err
