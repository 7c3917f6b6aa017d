"""Every valid cohort publishes a report: a matrix of cohort shapes, each run end to end.

The shapes are what users bring: only the required tables, each optional table absent, one team, a team with
no patients, a patient with no measurements, a dozen patients, another date era, each written with a params
file of two keys (``cohort_id`` and ``data_dir``); and the same cohort as one workbook and as a REDCap export.
Each runs the whole evaluation with the runner (notebooks executed in this process, figures as SVG only, to keep
the matrix fast) and publishes its report.
"""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import pandas as pd
import pypdf
import pytest

from evaluation import DataValidationError
from evaluation.core.dictionary import load_dictionary
from evaluation.data.loading import load_cohort
from evaluation.data.refi_qda_writer import export_qdpx
from evaluation.data.synth import generate_cohort
from evaluation.data.synth.redcap import write_redcap
from evaluation.run.runner import run

OPTIONAL_FILES = [spec.file for spec in load_dictionary().values() if not spec.required]
# files another optional file refers to: without them the referring file is a data error, not a skipped analysis
REFERRED_BY = {"events.csv": "attendance.csv", "qualitative/sources.csv": "qualitative/excerpts.csv",
               "qualitative/excerpts.csv": "qualitative/codings.csv", "qualitative/codebook.csv": "qualitative/codings.csv"}


def _with_referring(file: str) -> list[str]:
    """``file`` and every file that refers to it, directly or through another."""
    out = [file]
    while out[-1] in REFERRED_BY:
        out.append(REFERRED_BY[out[-1]])
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A small synthetic cohort dated 2022-2024: 3 teams of 6-9 patients, every table."""
    folder = tmp_path_factory.mktemp("shapes") / "full"
    generate_cohort(folder, seed=11, n_teams=3, patients_per_team=(6, 9), start="2022-03-01")
    return folder


def _drop(*files: str) -> Callable[[Path], None]:
    def shape(folder: Path) -> None:
        for f in files:
            (folder / f).unlink()
    return shape


def _keep_only(*files: str) -> Callable[[Path], None]:
    required = [s.file for s in load_dictionary().values() if s.required]
    return _drop(*[f for f in OPTIONAL_FILES if f not in files and f not in required])


def _edit(file: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def shape(folder: Path) -> None:
        path = folder / file
        change(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    return shape


def _both(*shapes: Callable[[Path], None]) -> Callable[[Path], None]:
    def shape(folder: Path) -> None:
        for s in shapes:
            s(folder)
    return shape


def _tables(folder: Path):
    """(spec, path, text cells) for every table present in ``folder``."""
    for spec in load_dictionary().values():
        path = folder / spec.file
        if path.exists():
            yield spec, path, pd.read_csv(path, dtype=str, keep_default_na=False)


def _one_team(folder: Path) -> None:
    """Only team T01 and what belongs to it."""
    teams = pd.read_csv(folder / "teams.csv", dtype=str, keep_default_na=False)
    keep = teams["team_id"].iloc[0]
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    ids = set(patients.loc[patients["team_id"] == keep, "patient_id"])
    events = set()
    for spec, path, df in _tables(folder):
        if "team_id" in df and spec.name not in ("qualitative_sources", "qualitative_excerpts", "events"):
            df = df[df["team_id"] == keep]
        elif "team_id" in df:
            df = df[df["team_id"].isin(["", keep])]
        if "patient_id" in df:
            df = df[df["patient_id"].isin(ids)]
        if spec.name == "events":
            events = set(df["event_id"])
        if spec.name == "attendance":
            df = df[df["event_id"].isin(events)]
        df.to_csv(path, index=False)
    sources = pd.read_csv(folder / "qualitative/sources.csv", dtype=str, keep_default_na=False)
    for name in ("excerpts", "codings"):
        path = folder / f"qualitative/{name}.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if name == "excerpts":
            df = df[df["source_id"].isin(set(sources["source_id"])) & df["team_id"].isin(["", keep])]
            excerpts = set(df["excerpt_id"])
        else:
            df = df[df["excerpt_id"].isin(excerpts)]
        df.to_csv(path, index=False)


def _team_without_patients(df: pd.DataFrame) -> pd.DataFrame:
    extra = df.iloc[[0]].assign(team_id="T99", team_name="Quiet Hollow Pharmacy")
    return pd.concat([df, extra], ignore_index=True)


def _patient_without_measurements(df: pd.DataFrame) -> pd.DataFrame:
    extra = df.iloc[[0]].assign(patient_id="P99999", exited_on="", exit_reason="")
    return pd.concat([df, extra], ignore_index=True)


def _dozen_patients(folder: Path) -> None:
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    keep = set(patients.groupby("team_id").head(4)["patient_id"])
    for file in ("patients.csv", "measurements.csv"):
        df = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
        df[df["patient_id"].isin(keep)].to_csv(folder / file, index=False)


def _shift_years(years: int) -> Callable[[Path], None]:
    """Every date and month of every table moved by ``years`` (another era of data)."""
    def shape(folder: Path) -> None:
        for spec, path, df in _tables(folder):
            for col in spec.columns:
                if col.name in df and col.type in ("date", "month"):
                    text = df[col.name]
                    shifted = (text.str[:4].where(text != "").astype(float) + years).astype("Int64").astype(str)
                    df[col.name] = (shifted + text.str[4:]).where(text != "", "")
            if "birth_year" in df:
                df["birth_year"] = (df["birth_year"].astype(int) + years).astype(str)
            df.to_csv(path, index=False)
    return shape


SHAPES: dict[str, Callable[[Path], None]] = {
    "every_table": lambda folder: None,
    "required_only": _keep_only(),
    "required_and_qualitative": _keep_only(*[f for f in OPTIONAL_FILES if f.startswith("qualitative/")]),
    **{f"without_{Path(f).stem if '/' not in f else f.replace('/', '_')[:-4]}": _drop(*_with_referring(f))
       for f in OPTIONAL_FILES},
    **{f"required_and_{Path(f).stem}": _keep_only(f) for f in OPTIONAL_FILES
       if not f.startswith("qualitative/") and f not in REFERRED_BY.values()},
    "one_team": _one_team,
    "team_without_patients": _edit("teams.csv", _team_without_patients),
    "patient_without_measurements": _edit("patients.csv", _patient_without_measurements),
    "dozen_patients_required_only": _both(_keep_only(), _dozen_patients),
    "dated_1998": _shift_years(-24),
}


def _published(report: Path) -> None:
    for name in ("index.html", "performance_story.html", "provenance.json", "tables/data_quality.csv",
                 "figures/manifest.csv", "funder"):
        assert (report / name).exists(), f"{name} is missing from the published report"
    for table in (report / "tables").glob("*.csv"):
        header = table.read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.strip(), f"{table.name} has no header row"


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_cohort_shape_publishes_a_report(shape, source, tmp_path, monkeypatch):
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CMM_FIGURE_FORMATS", "svg")
    folder = tmp_path / "data"
    shutil.copytree(source, folder)
    SHAPES[shape](folder)
    params = tmp_path / "two_keys.yaml"
    params.write_text(f"cohort_id: {shape}\ndata_dir: {folder}\n", encoding="utf-8")
    try:
        result = run(params, force=True, in_process=True, say=lambda line: None)
    except Exception as exc:
        pytest.fail(f"{shape}: {exc}\n{getattr(exc, 'traceback', '') or ''}")
    assert result.ok
    _published(result.report_dir)
    figures = set(pd.read_csv(result.report_dir / "figures" / "manifest.csv")["figure_id"])
    if not (folder / "milestones.csv").exists() and not (folder / "attendance.csv").exists():
        assert not {"engagement_score", "engagement_vs_outcome"} & figures, "an engagement chart with no data was drawn"
    record = json.loads((result.report_dir / "provenance.json").read_text())
    assert record["params"]["as_of"] is not None and record["params"]["as_of"][:2] in ("19", "20")
    assert record["params"]["suppress_below"] == 11 and set(record["params"]) >= {"windows", "survival", "value"}


@pytest.mark.parametrize("absent", sorted(REFERRED_BY))
def test_a_file_referred_to_is_named_when_absent(absent, source, tmp_path, monkeypatch):
    """attendance.csv without events.csv (or excerpts without sources) cannot be read: a data error naming both."""
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "reports"))
    folder = tmp_path / "data"
    shutil.copytree(source, folder)
    (folder / absent).unlink()
    params = tmp_path / "two_keys.yaml"
    params.write_text(f"cohort_id: broken\ndata_dir: {folder}\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=f"{REFERRED_BY[absent]}.*refers to {absent}, which is missing"):
        run(params, force=True, in_process=True, say=lambda line: None)


def _as_one_workbook(folder: Path, target: Path) -> None:
    """The cohort as one workbook, a sheet per table, with real Excel date and number cells (as a registry
    export writes them)."""
    target.mkdir(parents=True)
    with pd.ExcelWriter(target / "cohort.xlsx", engine="openpyxl") as book:
        for spec, _, df in _tables(folder):
            for col in spec.columns:
                if col.name not in df:
                    continue
                if col.type == "date":
                    df[col.name] = pd.to_datetime(df[col.name].replace("", None))
                elif col.type in ("integer", "number", "flag"):
                    df[col.name] = pd.to_numeric(df[col.name].replace("", None))
            df.to_excel(book, sheet_name=spec.name, index=False)


def _reports_side_by_side(folders: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """Each folder run with a two-key params file named after it: the published report folders, each holding the
    same tables (more than 20)."""
    reports = {}
    for name, folder in folders.items():
        params = tmp_path / f"{name}.yaml"
        params.write_text(f"cohort_id: {name}\ndata_dir: {folder}\n", encoding="utf-8")
        reports[name] = run(params, force=True, in_process=True, say=lambda line: None).report_dir
    names = [sorted(p.name for p in (report / "tables").glob("*.csv")) for report in reports.values()]
    assert all(n == names[0] for n in names) and len(names[0]) > 20
    return reports


def test_one_workbook_gives_the_same_report_as_the_csv_files(source, tmp_path, monkeypatch):
    """Done when: the cohort as one .xlsx workbook publishes tables identical to the CSV run's."""
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CMM_FIGURE_FORMATS", "svg")
    _as_one_workbook(source, tmp_path / "excel")
    reports = _reports_side_by_side({"csv": source, "excel": tmp_path / "excel"}, tmp_path)
    for table in sorted(p.name for p in (reports["csv"] / "tables").glob("*.csv")):
        assert (reports["csv"] / "tables" / table).read_bytes() == (reports["excel"] / "tables" / table).read_bytes(), table


def test_focus_groups_from_a_qdpx_project_instead_of_the_csvs(source, tmp_path, monkeypatch):
    """The qualitative folder replaced by a REFI-QDA project: the report publishes with the same themes."""
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CMM_FIGURE_FORMATS", "svg")
    folder = tmp_path / "data"
    shutil.copytree(source, folder)
    export_qdpx(load_cohort(source), folder / "coding.qdpx")
    shutil.rmtree(folder / "qualitative")
    params = tmp_path / "qdpx.yaml"
    params.write_text(f"cohort_id: qdpx\ndata_dir: {folder}\nqualitative: {{qdpx: coding.qdpx}}\n", encoding="utf-8")
    report = run(params, force=True, in_process=True, say=lambda line: None).report_dir
    _published(report)
    themes = pd.read_csv(report / "tables" / "themes.csv")
    assert len(themes) > 5 and themes["n_excerpts"].sum() > 0


def _every_text(report: Path) -> dict[str, str]:
    """Every file of a report as text, Office files and zips member by member, PDFs as their text and properties."""
    texts = {}
    for path in sorted(p for p in report.rglob("*") if p.is_file()):
        name = str(path.relative_to(report))
        if path.suffix.lower() in (".docx", ".xlsx", ".pptx", ".zip"):
            with zipfile.ZipFile(path) as zf:
                for member in zf.namelist():
                    texts[f"{name}:{member}"] = zf.read(member).decode("utf-8", "replace")
        elif path.suffix.lower() == ".pdf":
            pdf = pypdf.PdfReader(path)
            texts[name] = "\n".join(page.extract_text() for page in pdf.pages) + str(pdf.metadata)
        else:
            texts[name] = path.read_bytes().decode("utf-8", "replace")
    return texts


def test_a_redcap_export_gives_the_same_report_and_its_identifiers_reach_no_file(source, tmp_path, monkeypatch):
    """Done when: the cohort as a REDCap export publishes tables identical to the CSV run's (the data-quality
    table adds the note that identifiers were dropped), and no file of the report holds an identifier's value."""
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CMM_FIGURE_FORMATS", "svg")
    export = write_redcap(source, tmp_path / "redcap")
    records = pd.read_csv(export / "redcap_records.csv", dtype=str, keep_default_na=False)
    identifying = (set(records["patient_name"]) | set(records["patient_phone"])) - {""}
    reports = _reports_side_by_side({"csv": source, "redcap": export}, tmp_path)
    for table in sorted(p.name for p in (reports["csv"] / "tables").glob("*.csv")):
        if table != "data_quality.csv":
            assert (reports["csv"] / "tables" / table).read_bytes() == (reports["redcap"] / "tables" / table).read_bytes(), table
    quality = {k: pd.read_csv(reports[k] / "tables" / "data_quality.csv", dtype=str, keep_default_na=False) for k in reports}
    added = quality["redcap"][~quality["redcap"]["problem"].isin(quality["csv"]["problem"])]
    assert added[["table", "severity"]].values.tolist() == [["redcap_records.csv", "note"]]
    assert len(identifying) >= 2 * 18
    texts = _every_text(reports["redcap"])
    assert len(texts) > 50
    patients = records.loc[records["patient_name"] != "", "record_id"]
    assert patients.map(lambda pid: pid in texts["tables/priority.csv"]).any()  # the scan reads what holds ids
    leaks = sorted({(name, value) for name, text in texts.items() for value in identifying if value in text})
    assert not leaks, leaks[:5]
