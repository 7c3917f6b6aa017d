"""Pull a REDCap project's export straight from its API into the data folder, so a registry kept in REDCap is
evaluated without downloading files by hand.

``python -m evaluation redcap-pull PARAMS`` reads ``redcap.api_url`` and the token from the environment variable
``redcap.token_env`` names (``REDCAP_API_TOKEN`` by default), exports the project's metadata (the API's
snake_case data dictionary) and its records (flat CSV of raw codes, with the data access groups) with PyCap, and
writes them as ``redcap_dictionary.csv`` and ``redcap_records.csv`` in the data folder: the files
:mod:`evaluation.data.redcap` reads, hashed in the report's provenance like any input. A run never calls the API,
so the same files give the same report. Both files are replaced together only once both are downloaded: a
failed pull leaves the last good export in place.

The token is read from the environment only, is never written (not to a file, a message or a report) and is
taken out of any error the API returns. PyCap is the optional extra ``redcap`` (``pip install
'cmm-evaluation[redcap]'``); a workbench without it still reads exports downloaded by hand.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import pandas as pd

from evaluation.core.errors import EvaluationError, ParamsError
from evaluation.core.params import Params
from .redcap_export import export_files

DICTIONARY_FILE, RECORDS_FILE = "redcap_dictionary.csv", "redcap_records.csv"
EXTRA = "pip install 'cmm-evaluation[redcap]'"


class PullFailed(EvaluationError):
    """The API could not be reached or refused the export (the token never appears in the message)."""


@dataclass(frozen=True)
class Pulled:
    """What a pull wrote: the two files, and the fields, records and rows they hold."""

    dictionary: Path
    records: Path
    n_fields: int
    n_records: int
    n_rows: int
    host: str


def pycap_project(url: str, token: str) -> Any:
    """A PyCap ``Project``. Imported here because PyCap is an optional extra, not to dodge an import cycle."""
    try:
        from redcap import Project
    except ImportError:
        raise PullFailed(f"pulling from the REDCap API needs PyCap: {EXTRA}") from None
    return Project(url, token)


def _token(params: Params, environ: Mapping[str, str]) -> str:
    name = params.redcap["token_env"]
    token = environ.get(name, "").strip()
    if not token:
        raise ParamsError(f"the environment variable {name} (redcap.token_env) holds no REDCap API token: set it to "
                          "the project's token for this shell only (export it, or read it from your password manager); "
                          "the token is never written anywhere", key="redcap.token_env")
    return token


def _scrubbed(exc: BaseException, token: str) -> str:
    return " ".join(str(exc).replace(token, "[token]").split())[:400] or type(exc).__name__


def _replace_together(files: dict[Path, str]) -> None:
    """Write each text beside its file, then move all of them into place (a failure moves none)."""
    staged = {}
    try:
        for path, text in files.items():
            tmp = path.with_name(f".{path.name}.pulling")
            tmp.write_text(text, encoding="utf-8", newline="")
            staged[path] = tmp
        for path, tmp in staged.items():
            os.replace(tmp, path)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def pull_export(params: Params, *, environ: Mapping[str, str] | None = None,
                connect: Callable[[str, str], Any] = pycap_project) -> Pulled:
    """Export the project at ``redcap.api_url`` into ``params.data_dir`` (see the module docstring)."""
    url = params.redcap.get("api_url")
    if not url:
        raise ParamsError("`redcap.api_url` is not set: write the project's API address (https://…/api/, shown on "
                          "the project's API page) in the params file", key="redcap.api_url")
    token = _token(params, os.environ if environ is None else environ)
    folder = Path(params.data_dir)
    others = [p.name for p in export_files(folder) if p.name not in (DICTIONARY_FILE, RECORDS_FILE, "redcap.yaml")]
    if others:
        raise PullFailed(f"{folder} also holds {', '.join(others)}: a data folder holds one REDCap export; move "
                         "those files out before pulling")
    try:
        project = connect(url, token)
        metadata = project.export_metadata(format_type="csv")
        # as REDCap's own CSV download: raw codes, field names as headers, unique event names, the groups
        records = project.export_records(format_type="csv", raw_or_label="raw", raw_or_label_headers="raw",
                                         event_name="unique", record_type="flat", export_data_access_groups=True,
                                         export_survey_fields=False)
    except PullFailed:
        raise
    except Exception as exc:  # PyCap raises its own errors and requests' ones: each is reported, without the token
        raise PullFailed(f"the REDCap API at {urlsplit(url).netloc} refused or failed the export: "
                         f"{_scrubbed(exc, token)}") from None
    if not isinstance(metadata, str) or not isinstance(records, str) or not metadata.strip():
        raise PullFailed("the REDCap API returned no CSV export (check that the token has API export rights)")
    try:
        fields = pd.read_csv(io.StringIO(metadata), dtype=str, keep_default_na=False)
        rows = pd.read_csv(io.StringIO(records), dtype=str, keep_default_na=False) if records.strip() else None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PullFailed(f"the REDCap API's export is not well-formed CSV: {_scrubbed(exc, token)}") from None
    folder.mkdir(parents=True, exist_ok=True)
    dictionary, records_path = folder / DICTIONARY_FILE, folder / RECORDS_FILE
    _replace_together({dictionary: metadata, records_path: records})
    n_records = 0 if rows is None or rows.empty else rows.iloc[:, 0].nunique()
    return Pulled(dictionary, records_path, len(fields), n_records, 0 if rows is None else len(rows),
                  urlsplit(url).netloc)
