"""Exchange coded focus groups with QDA tools (QualCoder, NVivo, ATLAS.ti, MAXQDA) as REFI-QDA projects.

A ``.qdpx`` file is a zip holding ``project.qde`` (XML in the namespace ``urn:QDA-XML:project:1.0``, the
REFI-QDA 1.0 Project schema of 2019) and the plain texts under ``Sources/``. The workbench's qualitative
tables map onto it like this:

============================  ================================================================================
workbench                      REFI-QDA project
============================  ================================================================================
coder                          ``User`` (``Coding/@creatingUser`` names the coder of each coding)
codebook theme                 top-level ``Code`` with ``isCodable="false"``
codebook code, definition      codable ``Code`` nested in its theme, with ``Description``
source (focus group, ...)      ``TextSource`` named by ``source_id``; kind, held_on, phase and team_id as
                               ``VariableValue``; the text in ``Sources/<guid>.txt`` (``internal://``)
excerpt                        ``PlainTextSelection``: 0-based, end-exclusive character offsets into the text;
                               its ``name`` is the start of its text and its ``Description`` holds
                               ``excerpt_id: ...`` (and ``exemplar: 1`` for exemplar quotes)
coding (excerpt, coder, code)  ``Coding`` inside the selection, ``CodeRef/@targetGUID`` = the code
team and its attributes        ``Case`` named by ``team_id`` with team attributes as ``VariableValue`` and a
                               ``SelectionRef`` to each excerpt its members spoke
============================  ================================================================================

Reading is tolerant, because files come from many tools: a UTF-8 byte-order mark, ``\\r\\n`` line endings,
``PlainTextContent`` instead of a text file, one selection per coder for the same span (merged into one
excerpt), deeper code trees (the theme is the top-level code). Every problem found (an offset outside the
text, a selection whose text does not match its offsets, a reference to an unknown GUID) becomes a
data-quality row (``table, row, column, severity, problem``) naming the ``.qdpx`` file and the element;
the element is skipped and reading goes on. Only the standard library's ``zipfile`` and ElementTree are used.

This module holds the format's names and the reader, :func:`read_qdpx`; writing a project is
:func:`evaluation.data.refi_qda_writer.export_qdpx`.
"""

from __future__ import annotations
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
import pandas as pd
from evaluation.core.params import Params
from evaluation.core.problems import Problems
from .qualitative import (CODEBOOK_COLUMNS, CODING_COLUMNS, EXCERPT_COLUMNS, PHASES, SOURCE_COLUMNS, SOURCE_KINDS,
                          QualitativeTables, date_text, is_blank, normalise)

NAMESPACE = "urn:QDA-XML:project:1.0"
PROJECT_FILE = "project.qde"
SOURCES_FOLDER = "Sources"
INTERNAL = "internal://"  # plainTextPath prefix of a source text stored inside the .qdpx


def qdpx_path(params: Params) -> Path | None:
    """The REFI-QDA project named by ``qualitative.qdpx`` (relative to the data folder, or absolute)."""
    value = params.qualitative.get("qdpx")
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else params.data_dir / path


def _norm_guid(value: str | None) -> str | None:
    """GUIDs compare case-insensitively and may be written in braces."""
    return value.strip().strip("{}").lower() if value else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == tag]


def _child(el: ET.Element, tag: str) -> ET.Element | None:
    found = _children(el, tag)
    return found[0] if found else None


def _child_text(el: ET.Element, tag: str) -> str | None:
    c = _child(el, tag)
    return None if c is None or c.text is None else c.text


def _decode(data: bytes) -> str:
    """UTF-8 text without a byte-order mark (REFI-QDA texts are UTF-8; a BOM is not part of the text)."""
    return data.decode("utf-8-sig")


def _short(text: str, n: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 3] + "..."


_OFFSET_NAME = re.compile(r"^\s*(\d+)\s*[,-]\s*(\d+)\s*$")


def name_matches(name: str | None, selected: str, start: int, end: int) -> bool | None:
    """Does a selection's name agree with the text at its offsets? None when the name cannot tell.

    Tools name a selection by the start of its text (QualCoder and others, often cut short with "...") or
    by its offsets ("120,180"); a one-word name such as "s1" is a label and is not checked.
    """
    if not name or not name.strip():
        return None
    m = _OFFSET_NAME.match(name)
    if m:
        return (int(m.group(1)), int(m.group(2))) == (start, end)
    flat = " ".join(name.split())
    for tail in ("...", "\u2026"):
        if flat.endswith(tail):
            flat = flat[: -len(tail)].rstrip()
    if " " not in flat:
        return None
    return " ".join(selected.split()).startswith(flat)


@dataclass
class _Selection:
    guid: str
    source_guid: str
    start: int
    end: int
    excerpt_id: str | None
    exemplar: bool
    codings: list[tuple[str, str, str]]  # (coder, code guid, coding element label)
    label: str


def _description_fields(text: str | None) -> dict[str, str]:
    """``key: value`` lines of a selection's Description (how the workbench records excerpt ids)."""
    fields: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("excerpt_id", "exemplar"):
            fields[key.strip().lower()] = value.strip()
    return fields


def _variable_values(el: ET.Element, variables: dict[str, str], label: str, where: str, problems: Problems) -> dict[str, str]:
    """VariableValue children as {variable name: value as text}."""
    values: dict[str, str] = {}
    for vv in _children(el, "VariableValue"):
        ref = _child(vv, "VariableRef")
        target = _norm_guid(ref.get("targetGUID")) if ref is not None else None
        if target not in variables:
            problems.add(label, None, where, "warning",
                         f"VariableValue refers to unknown variable GUID {ref.get('targetGUID') if ref is not None else '(none)'}; ignored")
            continue
        for c in vv:
            if _local(c.tag).endswith("Value") and c.text is not None:
                values[variables[target]] = c.text.strip()
    return values


def read_qdpx(path: str | os.PathLike, *, known_teams: Iterable[str] | None = None,
              label: str | None = None) -> QualitativeTables:
    """Read a REFI-QDA project into the workbench's qualitative tables.

    ``known_teams`` (the cohort's team ids) lets team references be checked; ``label`` is how the file is
    named in the problems table (default: the path as given). Problems never stop reading: the element is
    skipped and a row says which file and element, and why.
    """
    path = Path(path)
    label = label or str(path)
    problems = Problems()

    def empty(note: str) -> QualitativeTables:
        tables = normalise(None, None, None, None, problems=problems.table(), origin=label)
        tables.note = note
        return tables

    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        problems.add(label, None, None, "error", "file not found")
        return empty(f"Skipped: the REFI-QDA project {label} was not found.")
    except zipfile.BadZipFile:
        problems.add(label, None, None, "error", "is not a .qdpx project (not a zip file)")
        return empty(f"Skipped: {label} is not a REFI-QDA .qdpx project (not a zip file).")
    with zf:
        members = {m.lower(): m for m in zf.namelist()}
        qde = members.get(PROJECT_FILE) or next((members[m] for m in members if m.endswith(".qde")), None)
        if qde is None:
            problems.add(label, None, PROJECT_FILE, "error", "the zip holds no project.qde")
            return empty(f"Skipped: {label} holds no project.qde.")
        try:
            root = ET.fromstring(zf.read(qde).removeprefix(b"\xef\xbb\xbf"))
        except ET.ParseError as exc:
            problems.add(label, None, PROJECT_FILE, "error", f"is not well-formed XML: {exc}")
            return empty(f"Skipped: the project.qde in {label} is not well-formed XML.")
        if _local(root.tag) != "Project":
            problems.add(label, None, PROJECT_FILE, "error", f"root element is <{_local(root.tag)}>, not <Project>")
            return empty(f"Skipped: {label} is not a REFI-QDA project.")
        if not root.tag.startswith(f"{{{NAMESPACE}}}"):
            problems.add(label, None, "Project", "warning", f"the XML is not in the namespace {NAMESPACE}; read anyway")
        tables = _read_project(root, zf, members, label, problems, known_teams)
    return tables


def _read_project(root: ET.Element, zf: zipfile.ZipFile, members: dict[str, str], label: str, problems: Problems,
                  known_teams: Iterable[str] | None) -> QualitativeTables:
    users = {}
    users_el = _child(root, "Users")
    for u in _children(users_el, "User") if users_el is not None else []:
        users[_norm_guid(u.get("guid"))] = u.get("name") or u.get("id") or u.get("guid")
    project_user = _norm_guid(root.get("creatingUserGUID"))

    # CodeBook: the theme of a codable code is its top-level ancestor (itself when it has no parent).
    codes: dict[str, dict] = {}
    codebook_rows: list[dict] = []
    seen_names: dict[str, str] = {}

    def walk(parent: ET.Element, theme: str | None) -> None:
        for code in _children(parent, "Code"):
            guid = _norm_guid(code.get("guid"))
            name = (code.get("name") or code.get("guid") or "").strip()
            codable = (code.get("isCodable") or "true").strip().lower() in ("true", "1")
            top = theme or name
            element = f"Code name='{name}'"
            if codable and name in seen_names:
                problems.add(label, None, element, "warning",
                             f"code name appears twice in the codebook; both are read as one code '{name}'")
            codes[guid] = {"name": name, "codable": codable, "element": element}
            if codable and name not in seen_names:
                seen_names[name] = guid
                codebook_rows.append({"code": name, "theme": top, "definition": _child_text(code, "Description")})
            walk(code, top)

    book = _child(root, "CodeBook")
    codes_el = _child(book, "Codes") if book is not None else None
    if codes_el is not None:
        walk(codes_el, None)

    variables = {}
    vars_el = _child(root, "Variables")
    for v in _children(vars_el, "Variable") if vars_el is not None else []:
        variables[_norm_guid(v.get("guid"))] = (v.get("name") or "").strip()

    # Cases: teams. SourceRef and SelectionRef say which sources and selections belong to a team.
    team_rows: list[dict] = []
    case_of_selection: dict[str, str] = {}
    cases_of_source: dict[str, list[str]] = {}
    cases_el = _child(root, "Cases")
    case_refs: list[tuple[str, str, str, str]] = []  # (kind, target guid, team, element label)
    for case in _children(cases_el, "Case") if cases_el is not None else []:
        team = (case.get("name") or case.get("guid") or "").strip()
        element = f"Case name='{team}'"
        team_rows.append({"team_id": team, **_variable_values(case, variables, label, element, problems)})
        for ref in _children(case, "SourceRef"):
            case_refs.append(("source", _norm_guid(ref.get("targetGUID")), team, element))
        for ref in _children(case, "SelectionRef"):
            case_refs.append(("selection", _norm_guid(ref.get("targetGUID")), team, element))

    # Sources and their selections.
    source_rows: list[dict] = []
    selections: list[_Selection] = []
    texts: dict[str, str] = {}
    source_ids: dict[str, str] = {}
    sources_el = _child(root, "Sources")
    for src in list(sources_el) if sources_el is not None else []:
        kind_tag = _local(src.tag)
        sguid = _norm_guid(src.get("guid"))
        sname = (src.get("name") or src.get("guid") or "").strip()
        element = f"{kind_tag} name='{sname}'"
        if kind_tag != "TextSource":
            problems.add(label, None, element, "note", "only text sources are read; this source is skipped")
            continue
        text = _source_text(src, zf, members, label, element, problems)
        if text is None:
            continue
        values = _variable_values(src, variables, label, element, problems)
        source_ids[sguid] = sname
        source_rows.append({"guid": sguid, "source_id": sname, "kind": values.get("kind"),
                            "held_on": values.get("held_on"), "phase": values.get("phase"),
                            "team_id": values.get("team_id")})
        if _children(src, "Coding"):
            problems.add(label, None, element, "note",
                         "codings of the whole source (not of a selection) are not excerpts; skipped")
        texts[sguid] = _read_selections(src, text, sguid, sname, users, project_user, label, problems, selections)

    for kind, target, team, element in case_refs:
        if kind == "source":
            if target not in source_ids:
                problems.add(label, None, element, "error", f"SourceRef points to unknown source GUID {target}")
            else:
                cases_of_source.setdefault(target, []).append(team)
        else:
            if target not in {s.guid for s in selections}:
                problems.add(label, None, element, "error", f"SelectionRef points to unknown selection GUID {target}")
            elif target in case_of_selection and case_of_selection[target] != team:
                problems.add(label, None, element, "warning",
                             f"selection {target} belongs to two cases ({case_of_selection[target]}, {team}); "
                             f"the first is kept")
            else:
                case_of_selection[target] = team

    excerpt_rows, coding_rows = _merge_selections(selections, texts, codes, case_of_selection, cases_of_source,
                                                  source_ids, label, problems)
    sources = pd.DataFrame(source_rows, columns=["guid", *SOURCE_COLUMNS], dtype=object)
    _fill_source_attributes(sources, cases_of_source, label, problems)
    tables = normalise(sources.drop(columns="guid"), pd.DataFrame(excerpt_rows, columns=EXCERPT_COLUMNS),
                       pd.DataFrame(coding_rows, columns=CODING_COLUMNS),
                       pd.DataFrame(codebook_rows, columns=CODEBOOK_COLUMNS),
                       pd.DataFrame(team_rows).drop_duplicates("team_id") if team_rows else None, origin=label)
    if known_teams is not None:
        _check_teams(tables, set(known_teams), label, problems)
    tables.problems = problems.table()
    return tables


def _source_text(src: ET.Element, zf: zipfile.ZipFile, members: dict[str, str], label: str, element: str,
                 problems: Problems) -> str | None:
    """A TextSource's plain text: PlainTextContent, or the file ``plainTextPath`` names inside the zip."""
    content = _child(src, "PlainTextContent")
    if content is not None:
        return (content.text or "").removeprefix("\ufeff")
    path = (src.get("plainTextPath") or "").strip()
    if not path:
        problems.add(label, None, element, "error", "has neither PlainTextContent nor plainTextPath; skipped")
        return None
    if not path.lower().startswith(INTERNAL):
        problems.add(label, None, element, "error",
                     f"its text is outside the project ({path}); export the project with its sources included")
        return None
    inner = path[len(INTERNAL):].lstrip("/")
    member = members.get(f"{SOURCES_FOLDER}/{inner}".lower()) or members.get(inner.lower())
    if member is None:
        problems.add(label, None, element, "error", f"plainTextPath {path} names a file the zip does not hold")
        return None
    try:
        return _decode(zf.read(member))
    except UnicodeDecodeError as exc:
        problems.add(label, None, element, "error", f"{member} is not UTF-8 text ({exc.reason} at byte {exc.start})")
        return None


def _read_selections(src: ET.Element, raw: str, sguid: str, sname: str, users: dict, project_user: str | None,
                     label: str, problems: Problems, out: list[_Selection]) -> str:
    """Read a source's PlainTextSelections into ``out``; return the text the offsets index.

    When the text has ``\\r\\n`` line endings and the selections' names match the text better with each
    ``\\r\\n`` counted as one character, the offsets are read against that text (and a note says so).
    """
    elements = _children(src, "PlainTextSelection")
    parsed = []
    for sel in elements:
        sel_guid = _norm_guid(sel.get("guid")) or ""
        where = f"PlainTextSelection guid={sel.get('guid')} in TextSource '{sname}'"
        try:
            start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
        except (TypeError, ValueError):
            problems.add(label, None, where, "error",
                         f"startPosition/endPosition must be whole numbers; got {sel.get('startPosition')!r}, "
                         f"{sel.get('endPosition')!r}; skipped")
            continue
        parsed.append((sel, sel_guid, where, start, end))

    text = raw
    if "\r\n" in raw:
        lf = raw.replace("\r\n", "\n")

        def score(t: str) -> int:
            return sum(bool(name_matches(s.get("name"), t[a:b], a, b)) for s, _, _, a, b in parsed if 0 <= a <= b <= len(t))

        if score(lf) > score(raw):
            text = lf
            problems.add(label, None, f"TextSource '{sname}'", "note",
                         "the text has \\r\\n line endings and the selections count each as one character; "
                         "offsets are read against the text with \\n line endings")

    for sel, sel_guid, where, start, end in parsed:
        if not 0 <= start <= end <= len(text):
            problems.add(label, None, where, "error",
                         f"offsets {start}-{end} lie outside the text ({len(text)} characters); skipped")
            continue
        if start == end:
            problems.add(label, None, where, "warning", f"selection {start}-{end} is empty; skipped")
            continue
        selected = text[start:end]
        if name_matches(sel.get("name"), selected, start, end) is False:
            problems.add(label, None, where, "warning",
                         f"the text at offsets {start}-{end} ('{_short(selected)}') does not match the selection's "
                         f"name ('{_short(sel.get('name') or '')}'); the text at the offsets is used")
        fields = _description_fields(_child_text(sel, "Description"))
        description = (_child_text(sel, "Description") or "").lower()
        exemplar = fields.get("exemplar", "").lower() in ("1", "true", "yes") or (
            "exemplar" not in fields and "exemplar" in description)
        fallback = _norm_guid(sel.get("creatingUser")) or _norm_guid(src.get("creatingUser")) or project_user
        codings = []
        for coding in _children(sel, "Coding"):
            cwhere = f"Coding guid={coding.get('guid')} in {where}"
            ref = _child(coding, "CodeRef")
            user = _norm_guid(coding.get("creatingUser")) or fallback
            if user is None:
                problems.add(label, None, cwhere, "warning", "has no creatingUser; the coder is recorded as 'unknown'")
                coder = "unknown"
            elif user not in users:
                problems.add(label, None, cwhere, "warning",
                             f"creatingUser {user} is not among the project's Users; the GUID is used as the coder")
                coder = user
            else:
                coder = users[user]
            codings.append((coder, _norm_guid(ref.get("targetGUID")) if ref is not None else None, cwhere))
        out.append(_Selection(sel_guid, sguid, start, end, fields.get("excerpt_id"), exemplar, codings, where))
    return text


def _merge_selections(selections: list[_Selection], texts: dict[str, str], codes: dict[str, dict],
                      case_of_selection: dict[str, str], cases_of_source: dict[str, list[str]],
                      source_ids: dict[str, str], label: str, problems: Problems) -> tuple[list[dict], list[dict]]:
    """One excerpt per distinct span of a source (tools write one selection per coder or per code)."""
    spans: dict[tuple[str, int, int], list[_Selection]] = {}
    for s in selections:
        spans.setdefault((s.source_guid, s.start, s.end), []).append(s)
    sources_with_refs = {s.source_guid for s in selections if s.guid in case_of_selection}
    excerpt_rows, coding_rows, used_ids = [], [], set()
    for (sguid, start, end), group in spans.items():
        excerpt_id = next((s.excerpt_id for s in group if s.excerpt_id and s.excerpt_id not in used_ids), None)
        if excerpt_id is None:
            excerpt_id = group[0].guid
        used_ids.add(excerpt_id)
        team = next((case_of_selection[s.guid] for s in group if s.guid in case_of_selection), None)
        owners = cases_of_source.get(sguid, [])
        if team is None and sguid not in sources_with_refs and len(set(owners)) == 1:
            team = owners[0]  # the source belongs to one case and no selection names its own
        excerpt_rows.append({"excerpt_id": excerpt_id, "source_id": source_ids[sguid], "team_id": team,
                             "text": texts[sguid][start:end], "exemplar": int(any(s.exemplar for s in group))})
        for s in group:
            for coder, code_guid, where in s.codings:
                code = codes.get(code_guid)
                if code is None:
                    problems.add(label, None, where, "error",
                                 f"CodeRef points to unknown code GUID {code_guid}; this coding is skipped")
                elif not code["codable"]:
                    problems.add(label, None, where, "warning",
                                 f"codes '{code['name']}', which is not codable (a theme); this coding is skipped")
                else:
                    coding_rows.append({"excerpt_id": excerpt_id, "coder": coder, "code": code["name"]})
    seen, unique = set(), []
    for row in coding_rows:
        key = (row["excerpt_id"], row["coder"], row["code"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return excerpt_rows, unique


def _fill_source_attributes(sources: pd.DataFrame, cases_of_source: dict[str, list[str]], label: str,
                            problems: Problems) -> None:
    """Kind, phase and team of each source: from its variables, else from its cases (with a note)."""
    for i, row in sources.iterrows():
        element = f"TextSource name='{row['source_id']}'"
        owners = sorted(set(cases_of_source.get(row["guid"], [])))
        if is_blank(row["team_id"]) and len(owners) == 1:
            sources.at[i, "team_id"] = owners[0]
        kind = None if is_blank(row["kind"]) else row["kind"]
        if kind not in SOURCE_KINDS:
            guess = "interview" if len(owners) == 1 else "focus_group"
            said = f"'{kind}' is not one of {', '.join(SOURCE_KINDS)}" if kind else "has no 'kind' variable"
            problems.add(label, None, element, "note", f"{said}; read as {guess} (it belongs to {len(owners)} case(s))")
            sources.at[i, "kind"] = guess
        phase = row["phase"]
        if not is_blank(phase) and phase not in PHASES:
            problems.add(label, None, element, "warning",
                         f"phase '{phase}' is not one of {', '.join(PHASES)}; the default for its kind is used")
            sources.at[i, "phase"] = None
        held = row["held_on"]
        if not is_blank(held) and pd.isna(pd.to_datetime(date_text(held), format="%Y-%m-%d", errors="coerce")):
            problems.add(label, None, element, "warning", f"held_on '{held}' is not a date; left blank")
            sources.at[i, "held_on"] = None


def _check_teams(tables: QualitativeTables, known: set[str], label: str, problems: Problems) -> None:
    """Teams named in the project must be teams of the cohort (as check_references does for the CSVs)."""
    for team in sorted(set(tables.excerpts["team_id"].dropna()) | set(tables.sources["team_id"].dropna())):
        if team not in known:
            problems.add(label, None, f"Case name='{team}'", "error",
                         f"'{team}' is not a team_id in teams.csv; its excerpts are read without a team")
    for df in (tables.excerpts, tables.sources):
        df["team_id"] = df["team_id"].where(df["team_id"].isin(known), None)
