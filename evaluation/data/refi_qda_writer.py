"""Write the qualitative tables as a REFI-QDA project (``.qdpx``) that QualCoder, NVivo, ATLAS.ti and MAXQDA open.

How the tables map onto the REFI-QDA 1.0 Project schema is set out in :mod:`evaluation.data.refi_qda`,
which also reads a project back. Writing is deterministic (GUIDs derived from the ids, fixed zip
timestamps), so the same tables give the same bytes, and atomic.
"""

from __future__ import annotations
import io
import os
import uuid
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any
import pandas as pd
from evaluation.core.outputs import atomic_write
from .cohort import Cohort
from .qualitative import CODING_COLUMNS, QualitativeTables, as_tables
from .refi_qda import INTERNAL, NAMESPACE, PROJECT_FILE, SOURCES_FOLDER

ORIGIN = "CMM collaborative evaluation workbench"
EXCERPT_SEPARATOR = "\n\n"  # between excerpts when a source's text is rebuilt from its excerpts
NAME_CHARS = 60  # a selection's name is the start of its text, as QualCoder and other tools write it
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamp: the same tables give the same .qdpx bytes
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:cmm-evaluation:refi-qda")
# Source attributes written as REFI variables (name -> typeOfVariable).
SOURCE_VARIABLES = {"kind": "Text", "held_on": "Date", "phase": "Text", "team_id": "Text"}
# Team attributes written on each Case, when the teams table has them.
TEAM_VARIABLES = {"team_name": "Text", "state": "Text", "setting": "Text", "track": "Text", "joined_on": "Date"}


def guid_for(kind: str, key: str) -> str:
    """A stable GUID for an element (uuid5 of its kind and id): re-exporting gives the same GUIDs."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{kind}:{key}"))


def _q(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    el = ET.SubElement(parent, _q(tag), {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _variable_value(parent: ET.Element, name: str, kind: str, value: Any) -> None:
    vv = _sub(parent, "VariableValue")
    _sub(vv, "VariableRef", targetGUID=guid_for("variable", name))
    if kind == "Date":
        _sub(vv, "DateValue", pd.Timestamp(value).strftime("%Y-%m-%d"))
    else:
        _sub(vv, "TextValue", str(value))


def _selection_name(text: str) -> str:
    """The start of an excerpt's text, whitespace collapsed (what tools show in their selection lists)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= NAME_CHARS else flat[:NAME_CHARS].rstrip() + "..."


def build_project(source: Cohort | QualitativeTables, name: str = "CMM focus groups") -> tuple[bytes, dict[str, bytes]]:
    """The ``project.qde`` XML and the source texts (zip member -> bytes) for a qualitative data set."""
    q = as_tables(source)
    known_codes = set(q.codebook["code"].dropna())
    known_sources = set(q.sources["source_id"].dropna())
    excerpts = q.excerpts[q.excerpts["source_id"].isin(known_sources)]
    codings = q.codings[q.codings["excerpt_id"].isin(set(excerpts["excerpt_id"])) & q.codings["code"].isin(known_codes)]
    codings = codings.drop_duplicates().sort_values(["excerpt_id", "coder", "code"], kind="stable")
    coders = sorted(codings["coder"].dropna().unique())

    root = ET.Element(_q("Project"), {"name": name, "origin": ORIGIN})
    if coders:
        root.set("creatingUserGUID", guid_for("user", coders[0]))
        users = _sub(root, "Users")
        for coder in coders:
            _sub(users, "User", guid=guid_for("user", coder), name=coder)

    if len(q.codebook):
        codes_el = _sub(_sub(root, "CodeBook"), "Codes")
        for theme, group in q.codebook.groupby("theme", sort=False, dropna=False):
            theme = theme if isinstance(theme, str) else ""
            theme_el = _sub(codes_el, "Code", guid=guid_for("theme", theme), name=theme, isCodable="false")
            for row in group.itertuples(index=False):
                code_el = _sub(theme_el, "Code", guid=guid_for("code", row.code), name=row.code, isCodable="true")
                if row.definition:
                    _sub(code_el, "Description", row.definition)

    team_vars = {k: v for k, v in TEAM_VARIABLES.items() if k in q.teams.columns}
    variables = _sub(root, "Variables")
    for var, kind in {**SOURCE_VARIABLES, **team_vars}.items():
        _sub(variables, "Variable", guid=guid_for("variable", var), name=var, typeOfVariable=kind)

    team_ids = sorted(set(q.teams["team_id"].dropna()) | set(excerpts["team_id"].dropna()))
    if team_ids:
        cases = _sub(root, "Cases")
        teams = q.teams.drop_duplicates("team_id").set_index("team_id") if len(q.teams) else None
        for team in team_ids:
            case = _sub(cases, "Case", guid=guid_for("case", team), name=team)
            if teams is not None and team in teams.index:
                for var, kind in team_vars.items():
                    value = teams.at[team, var]
                    if not pd.isna(value):
                        _variable_value(case, var, kind, value)
            for excerpt_id in excerpts.loc[excerpts["team_id"] == team, "excerpt_id"]:
                _sub(case, "SelectionRef", targetGUID=guid_for("excerpt", excerpt_id))

    files: dict[str, bytes] = {}
    if len(q.sources):
        sources_el = _sub(root, "Sources")
        by_excerpt = {k: g for k, g in codings.groupby("excerpt_id", sort=False)}
        for src in q.sources.itertuples(index=False):
            sguid = guid_for("source", src.source_id)
            member = f"{sguid}.txt"
            text_el = _sub(sources_el, "TextSource", guid=sguid, name=src.source_id,
                           plainTextPath=f"{INTERNAL}{member}")
            parts, position = [], 0
            for ex in excerpts[excerpts["source_id"] == src.source_id].itertuples(index=False):
                if parts:
                    parts.append(EXCERPT_SEPARATOR)
                    position += len(EXCERPT_SEPARATOR)
                start, end = position, position + len(ex.text)
                parts.append(ex.text)
                position = end
                sel = _sub(text_el, "PlainTextSelection", guid=guid_for("excerpt", ex.excerpt_id),
                           name=_selection_name(ex.text), startPosition=start, endPosition=end)
                _sub(sel, "Description", f"excerpt_id: {ex.excerpt_id}" + ("\nexemplar: 1" if ex.exemplar == 1 else ""))
                for c in by_excerpt.get(ex.excerpt_id, pd.DataFrame(columns=CODING_COLUMNS)).itertuples(index=False):
                    coding = _sub(sel, "Coding", guid=guid_for("coding", f"{c.excerpt_id}|{c.coder}|{c.code}"),
                                  creatingUser=guid_for("user", c.coder))
                    _sub(coding, "CodeRef", targetGUID=guid_for("code", c.code))
            for var, kind in SOURCE_VARIABLES.items():
                value = getattr(src, var)
                if value is not None and not pd.isna(value):
                    _variable_value(text_el, var, kind, value)
            files[f"{SOURCES_FOLDER}/{member}"] = "".join(parts).encode("utf-8")

    ET.register_namespace("", NAMESPACE)
    ET.indent(root, space=" ")
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue() + b"\n", files


def export_qdpx(source: Cohort | QualitativeTables, path: str | os.PathLike, name: str = "CMM focus groups") -> Path:
    """Write the qualitative data (a loaded cohort's CSVs, or tables) as a REFI-QDA project; return its path.

    Coders open it in QualCoder, NVivo, ATLAS.ti or MAXQDA to continue coding; :func:`~.refi_qda.read_qdpx`
    reads it back with nothing lost. The file is written atomically, and the same tables give the same bytes.
    """
    path = Path(path)
    xml, files = build_project(source, name=name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in [(PROJECT_FILE, xml), *sorted(files.items())]:
            info = zipfile.ZipInfo(member, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    atomic_write(path, buffer.getvalue())
    return path
