"""The synthetic cohort generator: determinism, the demo's shape, the data contract, internal consistency."""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluation.core.dictionary import RESULTS_FILE
from evaluation.data.loading import load_cohort
from evaluation.data.synth import DEMO_TEAMS, cycles, generate_cohort
from evaluation.data.synth.generate import cycle_roster

ROOT = Path(__file__).resolve().parents[1]
SPECS = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "data_dictionary").glob("*.yaml"))
         if p.name != RESULTS_FILE]  # results.yaml labels the result tables; it is not an input table
DICTIONARY = {spec["file"]: spec for spec in SPECS}
PATTERNS = {"date": re.compile(r"^\d{4}-\d{2}-\d{2}$"), "month": re.compile(r"^\d{4}-\d{2}$"),
            "flag": re.compile(r"^[01]$"), "integer": re.compile(r"^-?\d+$"), "number": re.compile(r"^-?\d+(\.\d+)?$")}
VALUE_FORMAT = {"a1c": r"^\d+\.\d$", "inr": r"^\d+\.\d$", "sbp": r"^\d+$", "dbp": r"^\d+$", "ldl": r"^\d+$"}
DEMO_DIGEST = "e289ee101d0c37cfa075938e93b14b640a87a4ff010a3ddf981b00599ded1a86"  # seed 2015, 10 teams
REAL_SEED_NAMES = ("Kroger", "CarePro", "Meyer", "Towncrest", "Apple Discount", "Goodrich", "HealthPartners",
                   "SUPERVALU", "Walgreens", "CareSouth")


def read(folder: Path, file: str) -> pd.DataFrame:
    """A file exactly as written: every cell a string, blanks as ''."""
    return pd.read_csv(folder / file, dtype=str, keep_default_na=False)


def dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.replace("", None), format="%Y-%m-%d")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_cohort(out)


@pytest.fixture(scope="module")
def tables(demo) -> dict[str, pd.DataFrame]:
    folder, _ = demo
    return {file: read(folder, file) for file in DICTIONARY}


# ---------------------------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_bytes_and_other_seed_differs(demo, tmp_path):
    folder, rows = demo
    again = tmp_path / "again"
    assert generate_cohort(again) == rows
    for file in DICTIONARY:
        assert (folder / file).read_bytes() == (again / file).read_bytes(), file
    other = tmp_path / "other"
    generate_cohort(other, seed=7)
    assert (folder / "measurements.csv").read_bytes() != (other / "measurements.csv").read_bytes()


def digest(folder: Path) -> str:
    """One SHA-256 over every file of the contract, each named, in dictionary order."""
    h = hashlib.sha256()
    for file in sorted(DICTIONARY):
        h.update(file.encode() + b"\0" + (folder / file).read_bytes())
    return h.hexdigest()


def test_the_demo_is_the_one_every_report_was_made_from(demo):
    """The demo (seed 2015) is byte for byte what it was when the stored notebook outputs were made: a change
    to the generator that moves one number changes every report. After an intended change, regenerate the demo,
    run `make regold`, and put the new digest here."""
    folder, _ = demo
    assert digest(folder) == DEMO_DIGEST


# ---------------------------------------------------------------------------------------------- contract
def test_every_file_has_the_dictionary_columns_in_order(demo):
    folder, rows = demo
    assert set(rows) == set(DICTIONARY)
    for file, spec in DICTIONARY.items():
        raw = (folder / file).read_bytes()
        assert b"\r" not in raw, f"{file}: line endings must be \\n"
        raw.decode("utf-8")
        header = raw.split(b"\n", 1)[0].decode("utf-8").split(",")
        assert header == [c["name"] for c in spec["columns"]], file
        assert rows[file] == len(read(folder, file)) > 0, file


def test_values_follow_the_dictionary(tables):
    """Types, allowed values, ranges and blanks, column by column, straight from the YAML."""
    for file, spec in DICTIONARY.items():
        df = tables[file]
        for col in spec["columns"]:
            values = df[col["name"]]
            blank = values.eq("")
            if col.get("required") and not col.get("nullable"):
                assert not blank.any(), f"{file}.{col['name']} has blanks"
            filled = values[~blank]
            pattern = PATTERNS.get(col["type"])
            if pattern is not None:
                assert filled.str.match(pattern).all(), f"{file}.{col['name']} is not a {col['type']}"
            if "allowed" in col:
                assert filled.isin(col["allowed"]).all(), f"{file}.{col['name']}: {set(filled) - set(col['allowed'])}"
            if "range" in col:
                low, high = col["range"]
                num = filled.astype(float)
                assert (low is None or (num >= low).all()) and (high is None or (num <= high).all()), col["name"]


def test_numbers_and_dates_are_written_with_fixed_precision(tables):
    m = tables["measurements.csv"]
    for measure, pattern in VALUE_FORMAT.items():
        assert m.loc[m["measure"] == measure, "value"].str.match(pattern).all(), measure
    assert tables["utilization.csv"]["cost"].str.match(r"^\d+\.\d\d$").all()
    assert tables["program_costs.csv"]["amount"].str.match(r"^\d+\.\d\d$").all()
    assert tables["monthly_reports.csv"]["month"].str.match(r"^\d{4}-\d{2}$").all()
    for file, spec in DICTIONARY.items():       # nothing dated on or after 2016-12-31 for the default start
        for col in spec["columns"]:
            if col["type"] == "date":
                d = dates(tables[file][col["name"]])
                assert (d.dropna() < pd.Timestamp("2016-12-31")).all(), f"{file}.{col['name']}"


# ---------------------------------------------------------------------------------------------- demo shape
def test_demo_shape_matches_the_2015_cohort(tables):
    teams, patients = tables["teams.csv"], tables["patients.csv"]
    assert len(teams) == 10
    assert Counter(teams["state"]) == Counter({"IN": 1, "IA": 3, "MD": 1, "MN": 3, "NM": 1, "SC": 1})
    assert Counter(teams["track"]) == Counter({"initial": 9, "advanced": 1})
    assert (teams["setting"] == "community_pharmacy").sum() >= 7
    assert teams["team_name"].is_unique
    assert not teams["team_name"].str.contains("|".join(REAL_SEED_NAMES), case=False).any()
    assert teams["team_name"].tolist() == [t.name for t in DEMO_TEAMS]
    assert teams[["aim_statement", "aim_measure", "aim_target", "aim_by"]].ne("").all().all()
    per_team = patients.groupby("team_id").size()
    assert per_team.between(40, 80).all() and len(per_team) == 10
    joined = dates(teams["joined_on"])
    assert (joined.dt.month == 1).sum() == 9 and (joined.dt.year == 2015).all()
    # one team joins late: some events were held before it joined
    events = tables["events.csv"]
    assert (dates(events["event_on"]) < joined.max()).sum() >= 3
    assert {"monthly_call", "webinar", "learning_session", "coaching_call"} <= set(events["kind"])


def test_demo_patients_and_conditions_are_realistic(tables):
    p = tables["patients.csv"]
    enrolled = dates(p["enrolled_on"])
    assert enrolled.min() >= pd.Timestamp("2015-02-01") and enrolled.max() <= pd.Timestamp("2015-08-31")
    age = enrolled.dt.year - p["birth_year"].astype(int)
    assert age.between(40, 85).all()
    flags = p[["diabetes", "hypertension", "dyslipidemia", "anticoagulation"]].astype(int)
    assert flags.sum(axis=1).ge(1).all()
    assert 0.55 < flags["diabetes"].mean() < 0.85 and 0.08 < flags["anticoagulation"].mean() < 0.25
    assert 0.01 < (p["exit_reason"] == "died").mean() < 0.06
    assert p["patient_id"].str.match(r"^P\d{6}$").all()


# ---------------------------------------------------------------------------------------------- consistency
def test_keys_are_unique_and_references_resolve(tables):
    for file, spec in DICTIONARY.items():
        key = spec.get("primary_key") or []
        if key:
            assert not tables[file].duplicated(key).any(), f"duplicate {key} in {file}"
    by_table = {spec["table"]: file for file, spec in DICTIONARY.items()}
    for file, spec in DICTIONARY.items():
        for col in spec["columns"]:
            if "references" not in col:
                continue
            table, column = col["references"].split(".")
            values = tables[file][col["name"]]
            targets = tables[by_table[table]][column]
            assert values[values != ""].isin(targets).all(), f"{file}.{col['name']} -> {col['references']}"


def test_patient_dates_are_consistent(tables):
    p = tables["patients.csv"].set_index("patient_id")
    exited, enrolled = dates(p["exited_on"]), dates(p["enrolled_on"])
    assert (exited.dropna() > enrolled[exited.notna()]).all()
    assert ((p["exited_on"] == "") == (p["exit_reason"] == "")).all()
    m = tables["measurements.csv"]
    exit_of = m["patient_id"].map(exited)
    assert not (dates(m["measured_on"]) >= exit_of).any(), "measurement on or after exit"
    u = tables["utilization.csv"]
    assert not (dates(u["occurred_on"]) > u["patient_id"].map(exited)).any()
    x = tables["mtps.csv"]
    identified, resolved = dates(x["identified_on"]), dates(x["resolved_on"])
    assert (resolved.dropna() >= identified[resolved.notna()]).all()
    assert (identified >= x["patient_id"].map(enrolled)).all()


def test_measurements_are_plausible_and_shaped_like_cmm_follow_up(tables):
    ranges = {k: v["plausible"] for k, v in DICTIONARY["measurements.csv"]["measures"].items()}
    m = tables["measurements.csv"].assign(value=lambda d: d["value"].astype(float))
    assert set(m["measure"]) == set(ranges)
    low, high = m["measure"].map(lambda k: ranges[k][0]), m["measure"].map(lambda k: ranges[k][1])
    assert m["value"].between(low, high).all()
    # every measure belongs to a condition the patient has; sbp and dbp come in pairs on the same date
    p = tables["patients.csv"].set_index("patient_id")
    condition = {"a1c": "diabetes", "sbp": "hypertension", "dbp": "hypertension", "ldl": "dyslipidemia",
                 "inr": "anticoagulation"}
    flag = [p.at[pid, condition[meas]] for pid, meas in m[["patient_id", "measure"]].drop_duplicates().itertuples(
        index=False)]
    assert set(flag) == {"1"}
    bp = m[m["measure"].isin(["sbp", "dbp"])].groupby(["patient_id", "measured_on"])["measure"].nunique()
    assert (bp == 2).all()
    # baseline near enrollment, follow-up up to ~14 months
    offset = (dates(m["measured_on"]) - m["patient_id"].map(dates(p["enrolled_on"]))).dt.days
    first = offset.groupby([m["patient_id"], m["measure"]]).min()
    assert first.between(-90, 30).all()
    assert offset.max() <= 430
    # follow-up improves a1c on average, more for the advanced team
    a1c = m[m["measure"] == "a1c"].assign(team=lambda d: d["patient_id"].map(p["team_id"]))
    g = a1c.groupby("patient_id")
    change = (g["value"].last() - g["value"].first())[g.size() > 1]
    assert change.mean() < -0.3
    team_change = change.groupby(change.index.map(p["team_id"])).mean()
    advanced = tables["teams.csv"].loc[lambda t: t["track"] == "advanced", "team_id"].item()
    assert team_change[advanced] < team_change.median()


def test_monthly_reports_match_the_measurements(tables):
    r = tables["monthly_reports.csv"]
    num, den = r["numerator"].astype(int), r["denominator"].astype(int)
    assert ((num >= 0) & (num <= den) & (den > 0)).all()
    assert set(r["measure"]) == {"a1c_at_goal", "bp_at_goal", "ldl_at_goal", "inr_in_range"}
    assert r.groupby("team_id")["month"].nunique().ge(12).all()
    # recompute one cell by hand: a1c at goal for the first team at the end of its last reported month
    team, month = r["team_id"].iloc[0], r.loc[r["team_id"] == r["team_id"].iloc[0], "month"].max()
    month_end = pd.Timestamp(month + "-01") + pd.offsets.MonthEnd(0)
    p = tables["patients.csv"]
    p = p[(p["team_id"] == team) & (dates(p["enrolled_on"]) <= month_end)
          & ~(dates(p["exited_on"]) <= month_end)]
    m = tables["measurements.csv"]
    m = m[(m["measure"] == "a1c") & m["patient_id"].isin(p["patient_id"]) & (dates(m["measured_on"]) <= month_end)]
    latest = m.sort_values("measured_on").groupby("patient_id")["value"].last().astype(float)
    row = r[(r["team_id"] == team) & (r["month"] == month) & (r["measure"] == "a1c_at_goal")].iloc[0]
    assert (int(row["numerator"]), int(row["denominator"])) == (int((latest < 8).sum()), len(latest))


def test_monthly_reports_begin_with_a_baseline_year_before_each_team_joined(tables):
    """Twelve months before the month a team joined, every measure it later reports, with a denominator of about
    half to 70% of the patients it enrolls with the measure (nobody is enrolled yet) and a share at goal near
    the share at their first reading; from the month after joining on the reports follow the measurements."""
    r, teams = tables["monthly_reports.csv"], tables["teams.csv"].set_index("team_id")
    joined = dates(teams["joined_on"]).dt.to_period("M").dt.to_timestamp()
    month = pd.to_datetime(r["month"] + "-01")
    before = month < r["team_id"].map(joined)
    for team, g in r[before].groupby("team_id"):
        months = pd.to_datetime(g["month"].drop_duplicates() + "-01").sort_values()
        assert len(months) == 12 and months.iloc[-1] == joined[team] - pd.offsets.MonthBegin(1), team
        assert set(g["measure"]) == set(r.loc[(r["team_id"] == team) & ~before, "measure"]), team
    p, m = tables["patients.csv"], tables["measurements.csv"]
    team = teams.index[0]
    a1c = m[(m["measure"] == "a1c") & m["patient_id"].isin(p.loc[p["team_id"] == team, "patient_id"])]
    enrolled = a1c["patient_id"].nunique()
    first = a1c.sort_values("measured_on").groupby("patient_id")["value"].first().astype(float)
    base = r[before & (r["team_id"] == team) & (r["measure"] == "a1c_at_goal")]
    den = base["denominator"].astype(int)
    assert (den >= round(0.5 * enrolled) - 1).all() and (den <= round(0.7 * enrolled) + 1).all()
    share = base["numerator"].astype(int).sum() / den.sum()
    assert abs(share - (first < 8).mean()) < 0.15  # usual care: around the share at goal at the first reading


def test_engagement_tables(tables):
    events, att = tables["events.csv"], tables["attendance.csv"]
    teams = tables["teams.csv"].set_index("team_id")
    coaching = events[events["kind"] == "coaching_call"]
    assert (coaching["team_id"] != "").all() and (events.loc[events["kind"] != "coaching_call", "team_id"] == "").all()
    owner = att["event_id"].map(events.set_index("event_id")["team_id"])
    assert ((owner == "") | (owner == att["team_id"])).all()
    held = att["event_id"].map(dates(events.set_index("event_id")["event_on"]))
    assert (held >= att["team_id"].map(dates(teams["joined_on"]))).all()
    rate = att.assign(a=att["attended"].astype(int)).groupby("team_id")["a"].mean()
    assert rate.min() < 0.2 and rate.max() > 0.8
    # a few (event, team) pairs offered but not recorded
    shared = events[events["team_id"] == ""]
    pairs = shared.merge(teams.reset_index()[["team_id", "joined_on"]], how="cross", suffixes=("", "_t"))
    offered = pairs[dates(pairs["event_on"]) >= dates(pairs["joined_on"])]
    recorded = att.merge(shared[["event_id"]], on="event_id")
    assert 0 < 1 - len(recorded) / len(offered) < 0.08
    ms = tables["milestones.csv"]
    assert set(ms["milestone"]) == {"team_charter", "aim_statement", "population_defined",
                                    "collaborative_practice_agreement", "performance_story"}
    done = ms[ms["completed_on"] != ""]
    assert 0 < len(done) < len(ms) and (dates(done["completed_on"]) > dates(done["due_on"])).any()
    pdsa = tables["pdsa_cycles.csv"]
    assert pdsa.groupby("team_id").size().between(2, 6).all() and pdsa["team_id"].nunique() == 10


def test_mtps_utilization_and_costs(tables):
    x = tables["mtps.csv"]
    assert x["mtp_id"].str.match(r"^M\d{7}$").all()
    per_patient = x.groupby("patient_id").size()
    assert per_patient.between(1, 4).all()
    resolved = x["resolved_on"] != ""
    assert 0.7 < resolved.mean() < 0.9
    days = (dates(x.loc[resolved, "resolved_on"]) - dates(x.loc[resolved, "identified_on"])).dt.days
    assert 20 <= days.median() <= 40
    u = tables["utilization.csv"].assign(day=lambda d: dates(d["occurred_on"]), cost=lambda d: d["cost"].astype(float))
    # every readmission follows an earlier admission of the same patient within 90 days
    adm = u[u["kind"] == "admission"][["patient_id", "day"]]
    re_ = u[u["kind"] == "readmission"][["patient_id", "day"]].reset_index()
    pairs = re_.merge(adm, on="patient_id", suffixes=("", "_adm"))
    gap = (pairs["day"] - pairs["day_adm"]).dt.days
    ok = pairs[(gap > 0) & (gap <= 90)]["index"].unique()
    assert len(re_) > 0 and set(ok) == set(re_["index"])
    # rates fall after enrollment; readmissions by roughly half
    enrolled = u["patient_id"].map(dates(tables["patients.csv"].set_index("patient_id")["enrolled_on"]))
    post = u["day"] >= enrolled
    counts = u.groupby([u["kind"], post]).size().unstack()
    assert (counts[True] < counts[False]).all()
    assert 0.25 < 1 - counts.loc["readmission", True] / counts.loc["readmission", False] < 0.8
    mean_cost = u.groupby("kind")["cost"].mean()
    assert 1000 < mean_cost["ed_visit"] < 2200 and 9000 < mean_cost["admission"] < 16000
    costs = tables["program_costs.csv"]
    assert (costs["team_id"] == "").sum() == 1 and costs["team_id"].replace("", None).dropna().nunique() == 10
    # avoided cost exceeds program cost: ROI positive but not absurd
    avoided = u.loc[~post, "cost"].sum() - u.loc[post, "cost"].sum()
    roi = (avoided - costs["amount"].astype(float).sum()) / costs["amount"].astype(float).sum()
    assert 0.2 < roi < 3.0


def test_qualitative_tables(tables):
    book, src = tables["qualitative/codebook.csv"], tables["qualitative/sources.csv"]
    ex, cod = tables["qualitative/excerpts.csv"], tables["qualitative/codings.csv"]
    assert 14 <= len(book) <= 18 and {"Collaborative design", "Benefits", "Barriers"} == set(book["theme"])
    assert {"monthly_calls", "team_networking", "population_of_focus", "recognition_in_organization",
            "revenue_capture", "personnel_changes", "system_implementation", "leadership_changes"} <= set(book["code"])
    fg, iv = src[src["kind"] == "focus_group"], src[src["kind"] == "interview"]
    assert 1 <= len(fg) <= 2 and (fg["team_id"] == "").all() and (fg["phase"] == "mid_cycle").all()
    assert len(iv) == 10 and iv["team_id"].is_unique and (iv["phase"] == "end_of_cycle").all()
    assert 150 <= len(ex) <= 250
    assert 0 < (ex["team_id"] == "").sum() < 0.15 * len(ex)
    assert 3 <= (ex["exemplar"] == "1").sum() <= 15
    assert ex["text"].nunique() > 0.9 * len(ex)
    assert set(cod["coder"]) == {"coder_a", "coder_b"}
    per = cod.groupby(["excerpt_id", "coder"]).size()
    assert per.between(1, 3).all() and len(per) == 2 * len(ex)
    # Cohen's kappa per code between the two coders: realistic, not perfect
    present = (cod.assign(v=1).pivot_table(index="excerpt_id", columns=["coder", "code"], values="v", fill_value=0)
               .reindex(ex["excerpt_id"], fill_value=0))
    kappas = []
    for code in book["code"]:
        a = present.get(("coder_a", code), pd.Series(0, index=present.index)).to_numpy()
        b = present.get(("coder_b", code), pd.Series(0, index=present.index)).to_numpy()
        po, pa, pb = np.mean(a == b), a.mean(), b.mean()
        pe = pa * pb + (1 - pa) * (1 - pb)
        kappas.append((po - pe) / (1 - pe))
    assert 0.6 <= np.median(kappas) <= 0.85 and min(kappas) > 0.4 and max(kappas) < 0.97


def test_assessments_rate_every_team_monthly_on_the_scale(tables):
    """From the month a team joined to the cycle's last month (2016-01 for a 2015-02-01 start), the faculty rate
    every month and the team itself most months; every score is a half point of 0.5-5.0."""
    a, teams = tables["assessments.csv"], tables["teams.csv"].set_index("team_id")
    assert a["rater"].isin(["team", "faculty"]).all() and set(a["team_id"]) == set(teams.index)
    score = a["score"].astype(float)
    assert a["score"].str.match(r"^\d\.[05]$").all() and score.between(0.5, 5.0).all()
    faculty = a[a["rater"] == "faculty"]
    joined = dates(teams["joined_on"]).dt.to_period("M")
    for team, rows in faculty.groupby("team_id"):
        months = pd.PeriodIndex(rows["month"], freq="M")
        expected = pd.period_range(joined[team], "2016-01", freq="M")
        assert months.tolist() == expected.tolist(), team
    own = a[a["rater"] == "team"]
    assert 0.5 * len(faculty) < len(own) < len(faculty)
    assert not a.duplicated(["team_id", "month", "rater"]).any()


def test_assessments_rise_with_the_teams_engagement_and_effect(tables):
    """The scale tells the demo's story: everyone starts low, the advanced team (strongest effect) ends near the
    top, the team that barely attends stays low; the share of teams rated >= 4.0 rises over the year."""
    a = tables["assessments.csv"].assign(score=lambda d: d["score"].astype(float))
    faculty = a[a["rater"] == "faculty"].pivot(index="team_id", columns="month", values="score")
    first, last = faculty.apply(lambda r: r.dropna().iloc[0], axis=1), faculty.iloc[:, -1]
    assert first.max() <= 2.0 and (last > first).all()
    names = tables["teams.csv"].set_index("team_id")["team_name"]
    by_name = last.rename(index=names)
    assert by_name["Northwoods Health System"] >= 4.0 and by_name["Loess Hills Apothecary"] <= 2.5
    effect = pd.Series({t.name: t.effect for t in DEMO_TEAMS})
    rho = pd.Series(by_name).corr(effect[by_name.index], method="spearman")
    assert rho > 0.7
    share = (faculty >= 4.0).sum() / faculty.notna().sum()
    assert share.iloc[:3].max() == 0 and share.iloc[-3:].min() >= 0.2
    own = a[a["rater"] == "team"].set_index(["team_id", "month"])["score"]
    paired = own.to_frame("team").join(a[a["rater"] == "faculty"].set_index(["team_id", "month"])["score"])
    assert 0 < (paired["team"] - paired["score"]).mean() < 0.6     # teams rate themselves a little higher


# ---------------------------------------------------------------------------------------------- other shapes
def test_multi_team_cohort(tmp_path):
    rows = generate_cohort(tmp_path, seed=3, n_teams=30, patients_per_team=(20, 20))
    teams, patients = read(tmp_path, "teams.csv"), read(tmp_path, "patients.csv")
    assert rows["teams.csv"] == 30 and rows["patients.csv"] == 600
    assert patients.groupby("team_id").size().eq(20).all()
    assert teams["team_name"].is_unique and teams["team_id"].is_unique
    assert teams["state"].nunique() > 5 and set(teams["track"]) <= {"initial", "advanced"}
    assert (teams["track"] == "initial").mean() > 0.7
    assert rows["measurements.csv"] > 10 * rows["patients.csv"]
    src = read(tmp_path, "qualitative/sources.csv")
    assert (src["kind"] == "interview").sum() == 30


def test_qualitative_can_be_skipped_and_bad_arguments_fail(tmp_path):
    rows = generate_cohort(tmp_path, n_teams=3, patients_per_team=(5, 5), qualitative=False)
    assert not (tmp_path / "qualitative").exists() and not any(f.startswith("qualitative/") for f in rows)
    with pytest.raises(ValueError):
        generate_cohort(tmp_path / "x", n_teams=12, demo_shape=True)
    with pytest.raises(ValueError):
        generate_cohort(tmp_path / "y", patients_per_team=(10, 5))
    with pytest.raises(ValueError, match="after today"):      # a synthetic cohort is never dated in the future
        generate_cohort(tmp_path / "z", start="2099-01-01")


def test_demo_cohort_passes_loading_validation(demo):
    folder, _ = demo
    cohort = load_cohort(folder, raise_on_error=False)
    errors = cohort.quality[cohort.quality["severity"] == "error"]
    assert errors.empty, errors.to_string()
    assert len(cohort.patients) > 0 and len(cohort.measurements) > 0


# ---------------------------------------------------------------------------------------------- later cycles
SMALL_DIGEST = "c9cbaea78d5f987224bbe3b4f1e0fbf56a8d5da3070370fcd73453515100c42d"  # seed 7, 30 teams of 5-10


def test_the_first_cycle_is_the_one_written_before_cycles_and_assessments_existed(tmp_path):
    """A statewide-shaped cohort (seed 7, 30 invented teams) hashes, file for file except assessments.csv and the
    monthly reports (which gained baseline months), to what the generator wrote before later cycles and the
    assessment table were added: drawing them touches nothing of the first cycle. ``cycle=1`` is the default."""
    rows = generate_cohort(tmp_path / "a", seed=7, n_teams=30, patients_per_team=(5, 10))
    assert generate_cohort(tmp_path / "b", seed=7, n_teams=30, patients_per_team=(5, 10), cycle=1) == rows
    h = hashlib.sha256()
    for file in sorted(f for f in DICTIONARY if f not in ("assessments.csv", "monthly_reports.csv")):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
        h.update(file.encode() + b"\0" + (tmp_path / "a" / file).read_bytes())
    assert h.hexdigest() == SMALL_DIGEST


@pytest.fixture(scope="module")
def cycle2(tmp_path_factory) -> Path:
    """The demo's second cycle (seed 2015): it starts on 2016-02-01, 12 months after the first."""
    out = tmp_path_factory.mktemp("cycle2")
    generate_cohort(out, cycle=2)
    return out


def test_half_the_demo_teams_return_with_their_ids_and_the_new_ones_get_new_ids(demo, cycle2):
    one, two = read(demo[0], "teams.csv").set_index("team_id"), read(cycle2, "teams.csv").set_index("team_id")
    back = two.index[two.index.isin(one.index)]
    assert len(two) == 10 and len(back) == 5                      # round(10 x 0.5) teams come back
    fixed = ["team_name", "state", "setting", "track"]
    assert two.loc[back, fixed].equals(one.loc[back, fixed])
    new = two.drop(back)
    assert new.index.tolist() == ["T11", "T12", "T13", "T14", "T15"]  # numbered on from T10, the last of cycle 1
    assert not new["team_name"].isin(one["team_name"]).any() and two["team_name"].is_unique
    # the demo's shape is kept: a new team takes the state, setting and track of the team whose place it takes
    assert Counter(two["state"]) == Counter(one["state"]) and Counter(two["track"]) == Counter(one["track"])
    assert Counter(two["setting"]) == Counter(one["setting"])


def test_a_later_cycle_has_new_patients_and_its_own_dates(demo, cycle2):
    p1, p2 = read(demo[0], "patients.csv"), read(cycle2, "patients.csv")
    assert p2["patient_id"].str.match(r"^C2-P\d{6}$").all() and not p2["patient_id"].isin(p1["patient_id"]).any()
    start, cycle_end, data_end = pd.Timestamp("2016-02-01"), pd.Timestamp("2017-01-31"), pd.Timestamp("2017-12-01")
    enrolled = dates(p2["enrolled_on"])
    assert enrolled.min() >= start and enrolled.max() <= pd.Timestamp("2016-07-31")
    joined = dates(read(cycle2, "teams.csv")["joined_on"])
    assert (joined >= pd.Timestamp("2016-01-01")).all() and (joined < start + pd.Timedelta(days=101)).all()
    events = dates(read(cycle2, "events.csv")["event_on"])
    assert events.min() >= start and events.max() <= cycle_end
    # every date of the cycle lies before its data end (start + 22 months); what comes before the start is a
    # patient's history: a baseline up to 90 days before enrollment, acute care up to a year before
    for file, spec in DICTIONARY.items():
        df = read(cycle2, file)
        for col in spec["columns"]:
            if col["type"] not in ("date", "month") or col["name"] == "aim_by":
                continue
            d = pd.to_datetime(df[col["name"]].replace("", None), format="mixed").dropna()
            earliest = {"utilization.csv": start - pd.Timedelta(days=365),
                        "measurements.csv": start - pd.Timedelta(days=90),
                        "monthly_reports.csv": pd.Timestamp("2015-01-01")}.get(file, pd.Timestamp("2016-01-01"))
            assert d.min() >= earliest and d.max() < data_end, f"{file}.{col['name']}"
    months = read(cycle2, "assessments.csv")["month"]
    assert months.min() == "2016-01" and months.max() == "2017-01"


def test_a_later_cycle_validates_and_is_deterministic(cycle2, tmp_path):
    cohort = load_cohort(cycle2, raise_on_error=False)
    assert cohort.quality[cohort.quality["severity"] == "error"].empty
    generate_cohort(tmp_path, cycle=2)
    for file in DICTIONARY:
        assert (tmp_path / file).read_bytes() == (cycle2 / file).read_bytes(), file


def test_returning_teams_are_a_little_better_and_a_third_cycle_numbers_on(tmp_path):
    """Cycle 3 of 7 invented teams: 4 come back each cycle (round(7 x 0.5)); every new team's id is above every id
    an earlier cycle gave out, and a returning team's traits grow by the documented gains."""
    args = dict(seed=5, n_teams=7, demo=False, start="2015-02-01", patients_per_team=(3, 4))
    first, _, _ = cycle_roster(cycle=1, first_day="2015-02-01", **args)
    second, _, _ = cycle_roster(cycle=2, first_day="2016-02-01", **args)
    third, cal, _ = cycle_roster(cycle=3, first_day="2017-03-01", **args)
    assert first.numbers.tolist() == list(range(1, 8))
    for before, after, used in ((first, second, 7), (second, third, 10)):
        back = after.numbers[after.teams.returning]
        assert len(back) == 4 and set(back) <= set(before.numbers)
        assert after.numbers[~after.teams.returning].tolist() == [used + 1, used + 2, used + 3]
        at = np.searchsorted(before.numbers, back)
        expected = np.minimum(before.teams.effect[at] + cycles.RETURN_EFFECT_GAIN, cycles.EFFECT_MAX)
        assert np.array_equal(after.teams.effect[after.teams.returning], expected)
        expected = np.minimum(before.teams.engagement[at] + cycles.RETURN_ENGAGEMENT_GAIN, cycles.ENGAGEMENT_MAX)
        assert np.array_equal(after.teams.engagement[after.teams.returning], expected)
        assert [after.teams.names[i] for i in np.flatnonzero(after.teams.returning)] == [before.teams.names[i] for i in at]
    assert np.datetime64(cal.start, "D") == np.datetime64("2017-03-01")
    rows = generate_cohort(tmp_path, seed=5, n_teams=7, patients_per_team=(3, 4), cycle=3, cycle_start="2017-03-01")
    teams = read(tmp_path, "teams.csv")
    assert rows["teams.csv"] == 7 and teams["team_id"].tolist() == [f"T{k:02d}" for k in third.numbers]
    assert read(tmp_path, "patients.csv")["patient_id"].str.startswith("C3-P").all()
    assert dates(read(tmp_path, "patients.csv")["enrolled_on"]).min() >= pd.Timestamp("2017-03-01")


def test_bad_cycle_arguments_fail_with_what_is_wrong(tmp_path):
    small = dict(n_teams=2, patients_per_team=(2, 2))
    with pytest.raises(ValueError, match="cycle must be a whole number, at least 1"):
        generate_cohort(tmp_path / "a", cycle=0, **small)
    with pytest.raises(ValueError, match="first day of a later cycle"):
        generate_cohort(tmp_path / "b", cycle_start="2016-02-01", **small)
    with pytest.raises(ValueError, match=r"must come after the start of cycle 1 \(2015-02-01\)"):
        generate_cohort(tmp_path / "c", cycle=2, cycle_start="2015-01-01", **small)
    with pytest.raises(ValueError, match="cycle_start must be a date written YYYY-MM-DD; got '2016-13-01'"):
        generate_cohort(tmp_path / "d", cycle=2, cycle_start="2016-13-01", **small)
    with pytest.raises(ValueError, match="cycle_start 2099-01-01 is too recent"):
        generate_cohort(tmp_path / "e", cycle=2, cycle_start="2099-01-01", **small)


def test_a_later_cycle_has_one_struggling_new_team_for_readmissions():
    """The least engaged new team of cycle 2 has four times the chance of a readmission after enrollment; every
    other team (and every team of cycle 1) the usual chance."""
    from evaluation.data.synth.cycles import STRUGGLING_READMISSIONS
    from evaluation.data.synth.generate import cycle_roster

    first, _, _ = cycle_roster(2015, 10, True, "2015-02-01", 1, "2015-02-01", (40, 80))
    second, _, _ = cycle_roster(2015, 10, True, "2015-02-01", 2, "2016-02-01", (40, 80))
    assert (first.teams.readmissions == 1).all()
    t = second.teams
    new = ~t.returning
    assert (t.readmissions[t.returning] == 1).all() and sorted(t.readmissions[new])[-1] == STRUGGLING_READMISSIONS
    assert t.engagement[t.readmissions > 1][0] == t.engagement[new].min()
