"""REFI-QDA exchange: a fixture project round-trips; files from other tools are read, and their problems reported.

Reference: the REFI-QDA Project schema (Project.xsd, QDA-XML 1.0, 18 March 2019): namespace
urn:QDA-XML:project:1.0; PlainTextSelection startPosition/endPosition are 0-based, end-exclusive character
offsets; Coding/@creatingUser is the coder; TextSource holds PlainTextContent or plainTextPath (internal://).
"""
from __future__ import annotations

import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from evaluation import load_cohort
from evaluation.analyses.focus_groups import compute as fg_compute
from evaluation.analyses.focus_groups import reliability as fg_reliability
from evaluation.core.params import check
from evaluation.data import loading, qualitative, refi_qda, synth
from evaluation.data.refi_qda_writer import export_qdpx
from tests.conftest import TINY, write_cohort

NS = {"q": refi_qda.NAMESPACE}
QUICK = fg_compute.CodingSettings(bootstrap_samples=0)


def fixture_tables() -> qualitative.QualitativeTables:
    """Two sources, five excerpts (one without a team, one uncoded, one exemplar, non-ASCII and a newline)."""
    sources = pd.DataFrame([("S1", "focus_group", "2015-07-01", None, None),
                            ("S2", "interview", "2016-01-10", "T01", "end_of_cycle")],
                           columns=qualitative.SOURCE_COLUMNS)
    excerpts = pd.DataFrame([
        ("E1", "S1", "T01", "We share wins on the call \u2014 it's caf\u00e9 talk \u2713", 0),
        ("E2", "S1", "T02", "Line one\nline two & <three>", 0),
        ("E3", "S1", None, "Coach: anyone else?", 0),
        ("E4", "S2", "T01", "The calls kept us on track.", 1),
        ("E5", "S2", "T01", "Uncoded turn.", 0),
    ], columns=qualitative.EXCERPT_COLUMNS)
    codings = pd.DataFrame([("E4", "B", "Q"), ("E1", "A", "P"), ("E1", "B", "P"), ("E2", "A", "Q"), ("E4", "A", "P"),
                            ("E4", "B", "P"), ("E3", "B", "P")], columns=qualitative.CODING_COLUMNS)
    codebook = pd.DataFrame([("P", "Design", "Calls and webinars."), ("Q", "Design", "Networking."),
                             ("R", "Benefits", "Revenue.")], columns=qualitative.CODEBOOK_COLUMNS)
    teams = pd.DataFrame({"team_id": ["T01", "T02"], "team_name": ["Prairie Creek Pharmacy", "Lakeside Drug"],
                          "state": ["IA", "MN"], "setting": ["community_pharmacy"] * 2, "track": ["initial", "advanced"],
                          "joined_on": pd.to_datetime(["2015-01-15", "2015-01-15"])})  # as in tests/conftest.py TINY
    return qualitative.normalise(sources, excerpts, codings, codebook, teams)


def by_key(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return df.sort_values(key, kind="stable").reset_index(drop=True)


def assert_same(a: qualitative.QualitativeTables, b: qualitative.QualitativeTables) -> None:
    """Nothing lost: the four tables hold the same rows (order of rows aside for codings)."""
    pd.testing.assert_frame_equal(by_key(a.sources, ["source_id"]), by_key(b.sources, ["source_id"]))
    pd.testing.assert_frame_equal(by_key(a.excerpts, ["excerpt_id"]), by_key(b.excerpts, ["excerpt_id"]))
    pd.testing.assert_frame_equal(by_key(a.codings, qualitative.CODING_COLUMNS), by_key(b.codings, qualitative.CODING_COLUMNS))
    pd.testing.assert_frame_equal(a.codebook, b.codebook)


# --- round trip ---------------------------------------------------------------------------------------

def test_fixture_round_trips_with_nothing_lost(tmp_path):
    original = fixture_tables()
    path = export_qdpx(original, tmp_path / "project.qdpx")
    back = refi_qda.read_qdpx(path, known_teams={"T01", "T02"})
    assert back.problems.empty, back.problems
    assert_same(original, back)
    assert back.excerpts.set_index("excerpt_id").at["E3", "team_id"] is None  # no team stays no team
    assert back.excerpts.set_index("excerpt_id").at["E4", "exemplar"] == 1
    teams = back.teams.set_index("team_id")
    assert teams.at["T02", "track"] == "advanced" and teams.at["T01", "joined_on"] == "2015-01-15"
    pd.testing.assert_frame_equal(fg_compute.theme_table(original, QUICK), fg_compute.theme_table(back, QUICK))


def test_export_is_deterministic_and_idempotent(tmp_path):
    """Same tables, same bytes; and exporting what was read gives the same bytes again."""
    a = export_qdpx(fixture_tables(), tmp_path / "a.qdpx").read_bytes()
    b = export_qdpx(fixture_tables(), tmp_path / "b.qdpx").read_bytes()
    back = refi_qda.read_qdpx(tmp_path / "a.qdpx")
    c = export_qdpx(back, tmp_path / "c.qdpx").read_bytes()
    assert a == b == c


def test_exported_project_follows_the_refi_layout(tmp_path):
    """project.qde at the root in the REFI namespace; texts in Sources/ named by internal://; offsets index them."""
    path = export_qdpx(fixture_tables(), tmp_path / "p.qdpx")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        root = ET.fromstring(zf.read("project.qde"))
        assert names[0] == "project.qde" and all(n.startswith("Sources/") for n in names[1:])
        assert root.tag == f"{{{refi_qda.NAMESPACE}}}Project"
        top = [_.tag.split("}")[1] for _ in root]
        assert top == ["Users", "CodeBook", "Variables", "Cases", "Sources"]  # the schema's sequence order
        themes = root.findall("q:CodeBook/q:Codes/q:Code", NS)
        assert [(t.get("name"), t.get("isCodable")) for t in themes] == [("Design", "false"), ("Benefits", "false")]
        assert [c.get("name") for c in themes[0].findall("q:Code", NS)] == ["P", "Q"]
        src = root.find("q:Sources/q:TextSource[@name='S1']", NS)
        text = zf.read("Sources/" + src.get("plainTextPath").removeprefix("internal://")).decode("utf-8")
        sel = src.findall("q:PlainTextSelection", NS)[1]
        assert text[int(sel.get("startPosition")):int(sel.get("endPosition"))] == "Line one\nline two & <three>"
        users = {u.get("guid"): u.get("name") for u in root.findall("q:Users/q:User", NS)}
        coders = sorted(users[c.get("creatingUser")] for c in src.findall("q:PlainTextSelection/q:Coding", NS))
        assert coders == ["A", "A", "B", "B"]  # E1 by A and B, E2 by A, E3 by B


def test_demo_cohort_exports_and_reads_back_to_the_same_theme_table(tmp_path):
    """The synthetic demo's qualitative CSVs -> .qdpx -> tables: same theme table, same reliability."""
    folder = tmp_path / "demo"
    synth.generate_cohort(folder)
    p = check({"cohort_id": "demo", "data_dir": str(folder), "as_of": "2016-12-31", "output_dir": str(tmp_path / "o")})
    cohort = load_cohort(p)
    csv_tables = loading.load_qualitative(p, cohort)
    assert len(csv_tables.excerpts) > 50 and len(csv_tables.coders) >= 2
    export_qdpx(cohort, folder / "qualitative" / "demo.qdpx")
    p2 = check({"cohort_id": "demo", "data_dir": str(folder), "as_of": "2016-12-31",
                "qualitative": {"qdpx": "qualitative/demo.qdpx"}})
    qdpx_tables = loading.load_qualitative(p2, cohort)
    assert qdpx_tables.problems.empty and qdpx_tables.origin == "qualitative/demo.qdpx"
    assert_same(csv_tables, qdpx_tables)
    pd.testing.assert_frame_equal(fg_compute.theme_table(csv_tables, QUICK), fg_compute.theme_table(qdpx_tables, QUICK))
    pd.testing.assert_frame_equal(fg_reliability.inter_rater_reliability(csv_tables, QUICK).summary,
                                  fg_reliability.inter_rater_reliability(qdpx_tables, QUICK).summary)


def test_import_writes_contract_csvs_that_load_back(tmp_path):
    """read_qdpx + write_qualitative_csvs give a cohort folder whose qualitative tables are the originals."""
    export_qdpx(fixture_tables(), tmp_path / "p.qdpx")
    folder = write_cohort(tmp_path / "cohort", TINY)
    qualitative.write_qualitative_csvs(refi_qda.read_qdpx(tmp_path / "p.qdpx"), folder)
    cohort = load_cohort(folder, as_of="2016-12-31")
    assert_same(fixture_tables(), qualitative.from_cohort(cohort))


# --- files from other tools -------------------------------------------------------------------------

ANN, BEN = "AAAAAAAA-0000-0000-0000-000000000001", "AAAAAAAA-0000-0000-0000-000000000002"
FG_TEXT = "Ann: The monthly calls kept us going.\nBen: Staff left in May.\nCoach: Thanks all.\n"


def span(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


def foreign_project(offsets_text: str = FG_TEXT) -> str:
    """A project as another tool might write it: nested codes, one selection per coder, braces in GUIDs,
    a Case linked to a whole interview, inline PlainTextContent, and several mistakes."""
    s1, e1 = span(offsets_text, "The monthly calls kept us going.")
    s2, e2 = span(offsets_text, "Staff left in May.")
    s3, e3 = span(offsets_text, "Thanks all.")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Foreign" origin="Some QDA tool" creatingUserGUID="{{{ANN}}}">
 <Users><User guid="{ANN}" name="Ann"/><User guid="{BEN}" name="Ben"/></Users>
 <CodeBook><Codes>
  <Code guid="C0000000-0000-0000-0000-000000000001" name="Design" isCodable="false">
   <Code guid="C0000000-0000-0000-0000-000000000002" name="Calls" isCodable="true">
    <Description>Monthly calls</Description>
    <Code guid="C0000000-0000-0000-0000-000000000003" name="Call timing" isCodable="true"/>
   </Code>
  </Code>
  <Code guid="C0000000-0000-0000-0000-000000000004" name="Barriers" isCodable="true"/>
 </Codes></CodeBook>
 <Cases><Case guid="CA000000-0000-0000-0000-000000000001" name="T01">
  <SourceRef targetGUID="50000000-0000-0000-0000-000000000002"/></Case></Cases>
 <Sources>
  <TextSource guid="50000000-0000-0000-0000-000000000001" name="Focus group" plainTextPath="internal://fg.txt">
   <PlainTextSelection guid="5E000000-0000-0000-0000-000000000001" name="The monthly calls kept us going."
     startPosition="{s1}" endPosition="{e1}" creatingUser="{ANN}">
    <Coding guid="C1000000-0000-0000-0000-000000000001" creatingUser="{ANN}">
     <CodeRef targetGUID="C0000000-0000-0000-0000-000000000002"/></Coding>
   </PlainTextSelection>
   <PlainTextSelection guid="5E000000-0000-0000-0000-000000000002" name="The monthly calls kept us..."
     startPosition="{s1}" endPosition="{e1}" creatingUser="{BEN}">
    <Coding guid="C1000000-0000-0000-0000-000000000002">
     <CodeRef targetGUID="c0000000-0000-0000-0000-000000000002"/></Coding>
    <Coding guid="C1000000-0000-0000-0000-000000000003">
     <CodeRef targetGUID="C0000000-0000-0000-0000-000000000003"/></Coding>
   </PlainTextSelection>
   <PlainTextSelection guid="5E000000-0000-0000-0000-000000000003" name="Staff left in May."
     startPosition="{s2}" endPosition="{e2}">
    <Coding guid="C1000000-0000-0000-0000-000000000004" creatingUser="{ANN}">
     <CodeRef targetGUID="C0000000-0000-0000-0000-000000000004"/></Coding>
    <Coding guid="C1000000-0000-0000-0000-000000000005" creatingUser="{BEN}">
     <CodeRef targetGUID="C0000000-0000-0000-0000-000000000099"/></Coding>
   </PlainTextSelection>
   <PlainTextSelection guid="5E000000-0000-0000-0000-000000000004" name="s4" startPosition="500" endPosition="510"/>
   <PlainTextSelection guid="5E000000-0000-0000-0000-000000000005" name="Something else entirely"
     startPosition="{s3}" endPosition="{e3}">
    <Coding guid="C1000000-0000-0000-0000-000000000006" creatingUser="{ANN}">
     <CodeRef targetGUID="C0000000-0000-0000-0000-000000000001"/></Coding>
   </PlainTextSelection>
  </TextSource>
  <TextSource guid="50000000-0000-0000-0000-000000000002" name="Interview T01">
   <PlainTextContent>Calls helped. Time was short.</PlainTextContent>
   <PlainTextSelection guid="5E000000-0000-0000-0000-000000000006" name="0,13" startPosition="0" endPosition="13">
    <Coding guid="C1000000-0000-0000-0000-000000000007" creatingUser="{{{ANN.lower()}}}">
     <CodeRef targetGUID="C0000000-0000-0000-0000-000000000002"/></Coding>
    <Coding guid="C1000000-0000-0000-0000-000000000008" creatingUser="DDDDDDDD-0000-0000-0000-000000000009">
     <CodeRef targetGUID="C0000000-0000-0000-0000-000000000002"/></Coding>
   </PlainTextSelection>
  </TextSource>
  <PDFSource guid="50000000-0000-0000-0000-000000000003" name="Slides" path="internal://slides.pdf"/>
 </Sources>
</Project>
"""


def write_qdpx(path: Path, project: str, files: dict[str, bytes], bom: bool = True) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", (b"\xef\xbb\xbf" if bom else b"") + project.encode("utf-8"))
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def crlf_with_bom(text: str) -> bytes:
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")


@pytest.fixture
def foreign(tmp_path) -> qualitative.QualitativeTables:
    """Offsets counted with each \\r\\n as one character, in a UTF-8 text with a BOM and \\r\\n line endings."""
    path = write_qdpx(tmp_path / "foreign.qdpx", foreign_project(), {"Sources/fg.txt": crlf_with_bom(FG_TEXT)})
    return refi_qda.read_qdpx(path, known_teams={"T01", "T02"}, label="coding/foreign.qdpx")


def problem(tables: qualitative.QualitativeTables, severity: str, text: str) -> pd.Series:
    p = tables.problems
    hits = p[(p["severity"] == severity) & p["problem"].str.contains(text, regex=False)]
    assert len(hits) == 1, f"expected one {severity} containing {text!r}; problems:\n{p.to_string()}"
    return hits.iloc[0]


def test_foreign_codebook_themes_are_top_level_codes(foreign):
    book = foreign.codebook.set_index("code")
    assert list(book.index) == ["Calls", "Call timing", "Barriers"]
    assert book["theme"].tolist() == ["Design", "Design", "Barriers"]  # a top-level codable code is its own theme
    assert book.at["Calls", "definition"] == "Monthly calls"


def test_foreign_selections_of_the_same_span_are_one_excerpt_with_each_coder(foreign):
    ex = foreign.excerpts.set_index("text")
    calls = ex.loc["The monthly calls kept us going."]
    got = foreign.codings[foreign.codings["excerpt_id"] == calls["excerpt_id"]]
    assert sorted(map(tuple, got[["coder", "code"]].to_numpy())) == [("Ann", "Calls"), ("Ben", "Call timing"),
                                                                      ("Ben", "Calls")]
    assert calls["excerpt_id"] == "5e000000-0000-0000-0000-000000000001"  # no excerpt_id recorded: the first GUID
    assert calls["team_id"] is None  # a focus group linked to no case


def test_foreign_crlf_and_bom_are_tolerated(foreign):
    """With the BOM dropped and \\r\\n read as one character, every named selection matches its text."""
    note = problem(foreign, "note", "\\r\\n line endings")
    assert note["column"] == "TextSource 'Focus group'" and note["table"] == "coding/foreign.qdpx"
    assert "Staff left in May." in set(foreign.excerpts["text"])


def test_crlf_offsets_counting_two_characters_are_read_as_they_are(tmp_path):
    """A tool that counts \\r\\n as two characters: offsets index the raw text (after the BOM); no note."""
    raw = FG_TEXT.replace("\n", "\r\n")
    path = write_qdpx(tmp_path / "p.qdpx", foreign_project(offsets_text=raw), {"Sources/fg.txt": crlf_with_bom(FG_TEXT)})
    tables = refi_qda.read_qdpx(path)
    assert not tables.problems["problem"].str.contains("line endings").any()
    assert "Staff left in May." in set(tables.excerpts["text"])


def test_foreign_problems_name_the_file_and_element(foreign):
    p = foreign.problems
    assert set(p["table"]) == {"coding/foreign.qdpx"} and p["row"].isna().all()
    unknown = problem(foreign, "error", "unknown code GUID c0000000-0000-0000-0000-000000000099")
    assert unknown["column"].startswith("Coding guid=C1000000-0000-0000-0000-000000000005 in PlainTextSelection")
    outside = problem(foreign, "error", f"offsets 500-510 lie outside the text ({len(FG_TEXT)} characters)")
    assert outside["column"] == "PlainTextSelection guid=5E000000-0000-0000-0000-000000000004 in TextSource 'Focus group'"
    problem(foreign, "warning", "('Thanks all.') does not match the selection's name ('Something else entirely')")
    problem(foreign, "warning", "codes 'Design', which is not codable (a theme)")
    problem(foreign, "warning", "creatingUser dddddddd-0000-0000-0000-000000000009 is not among the project's Users")
    problem(foreign, "note", "only text sources are read")
    assert sorted(foreign.codings["code"].unique()) == ["Barriers", "Call timing", "Calls"]  # bad codings skipped


def test_foreign_case_of_a_whole_interview_gives_its_team(foreign):
    """Case T01 links the interview (SourceRef): the source and, as no selection names a case, its excerpts."""
    src = foreign.sources.set_index("source_id")
    assert src.at["Interview T01", "team_id"] == "T01" and src.at["Interview T01", "kind"] == "interview"
    assert src.at["Focus group", "kind"] == "focus_group" and src.at["Focus group", "phase"] == "mid_cycle"
    interview = foreign.excerpts[foreign.excerpts["source_id"] == "Interview T01"].iloc[0]
    assert (interview["text"], interview["team_id"]) == ("Calls helped.", "T01")
    coders = foreign.codings[foreign.codings["excerpt_id"] == interview["excerpt_id"]]["coder"]
    assert sorted(coders) == ["Ann", "dddddddd-0000-0000-0000-000000000009"]  # braces and case ignored for Ann


def test_team_not_in_the_cohort_is_an_error(tmp_path):
    path = write_qdpx(tmp_path / "f.qdpx", foreign_project(), {"Sources/fg.txt": crlf_with_bom(FG_TEXT)})
    tables = refi_qda.read_qdpx(path, known_teams={"T02"})
    row = problem(tables, "error", "'T01' is not a team_id in teams.csv")
    assert row["column"] == "Case name='T01'"
    assert tables.excerpts["team_id"].isna().all()


@pytest.mark.parametrize("content, expected", [
    (b"not a zip", "is not a .qdpx project (not a zip file)"),
    (None, "the zip holds no project.qde"),
])
def test_unreadable_files_are_reported_not_raised(tmp_path, content, expected):
    path = tmp_path / "bad.qdpx"
    if content is None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "hello")
    else:
        path.write_bytes(content)
    tables = refi_qda.read_qdpx(path)
    assert not tables.ok and tables.excerpts.empty
    assert expected in tables.problems["problem"].iloc[0] and tables.problems["severity"].iloc[0] == "error"


def test_missing_source_file_is_an_error(tmp_path):
    path = write_qdpx(tmp_path / "f.qdpx", foreign_project(), {})
    tables = refi_qda.read_qdpx(path)
    problem(tables, "error", "plainTextPath internal://fg.txt names a file the zip does not hold")
    assert set(tables.sources["source_id"]) == {"Interview T01"}


@pytest.mark.parametrize("name, expected", [
    ("The monthly calls kept us going.", True),
    ("The monthly   calls kept...", True),       # cut short, spaces collapsed
    ("The weekly calls", False),
    ("12,44", True), ("12-45", False),          # offsets written as the name
    ("s1", None), ("", None), (None, None),     # labels tell nothing
])
def test_name_matches(name, expected):
    assert refi_qda.name_matches(name, "The monthly calls kept us going.", 12, 44) is expected


def test_round_trip_table_for_the_notebook(tmp_path):
    table = fg_compute.qdpx_round_trip(fixture_tables(), tmp_path / "q.qdpx", QUICK)
    assert table["identical"].all() and (table["exported"] == table["read_back"]).all()
    assert table.set_index("item").at["excerpts rows", "exported"] == 5
