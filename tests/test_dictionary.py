"""The data dictionary: machine-readable, complete for the data contract, and its README current."""
from __future__ import annotations

from evaluation.core.dictionary import DICTIONARY_DIR, load_dictionary, render_markdown

# The data contract: these columns must exist with these names (cohorts and the notebooks rely on them).
CONTRACT = {
    "teams.csv": ["team_id", "team_name", "state", "setting", "track", "joined_on"],
    "patients.csv": ["patient_id", "team_id", "enrolled_on", "sex", "birth_year", "exited_on", "exit_reason",
                     "diabetes", "hypertension", "dyslipidemia", "anticoagulation"],
    "measurements.csv": ["patient_id", "measure", "measured_on", "value"],
    "events.csv": ["event_id", "event_on", "kind"],
    "attendance.csv": ["event_id", "team_id", "attended"],
    "milestones.csv": ["team_id", "milestone", "due_on", "completed_on"],
    "monthly_reports.csv": ["team_id", "month", "measure", "numerator", "denominator"],
    "pdsa_cycles.csv": ["team_id", "started_on", "change_idea", "decision"],
    "mtps.csv": ["patient_id", "identified_on", "category", "resolved_on"],
    "utilization.csv": ["patient_id", "occurred_on", "kind", "cost"],
    "program_costs.csv": ["team_id", "item", "amount"],
    "qualitative/sources.csv": ["source_id", "kind", "held_on", "team_id"],
    "qualitative/excerpts.csv": ["excerpt_id", "source_id", "team_id", "text"],
    "qualitative/codings.csv": ["excerpt_id", "coder", "code"],
    "qualitative/codebook.csv": ["code", "theme", "definition"],
    "assessments.csv": ["team_id", "month", "score", "rater"],
}


def test_every_contract_table_and_column_is_declared():
    by_file = {s.file: s for s in load_dictionary().values()}
    assert set(by_file) == set(CONTRACT)
    for file, columns in CONTRACT.items():
        assert set(columns) <= set(by_file[file].column_names), file


def test_only_teams_patients_measurements_are_required():
    required = {s.file for s in load_dictionary().values() if s.required}
    assert required == {"teams.csv", "patients.csv", "measurements.csv"}


def test_allowed_values_from_the_brief():
    d = load_dictionary()
    assert d["teams"].column("track").allowed == ("initial", "advanced")
    assert d["pdsa_cycles"].column("decision").allowed == ("adopt", "adapt", "abandon")
    assert set(d["utilization"].column("kind").allowed) == {"ed_visit", "admission", "readmission"}
    assert d["measurements"].measures["a1c"]["plausible"] == [3, 20]
    assert d["measurements"].measures["sbp"]["plausible"] == [60, 260]


def test_assessments_follow_the_ihi_scale_and_the_monthly_reports_month():
    """Optional; scored 0.5-5.0 (the step of 0.5 is a validation rule); rated by the team or the faculty; one
    rating per team, month and rater; its month is written as monthly_reports' is."""
    d = load_dictionary()
    spec = d["assessments"]
    assert (spec.file, spec.required, spec.primary_key) == ("assessments.csv", False, ("team_id", "month", "rater"))
    assert spec.column("score").type == "number" and spec.column("score").range == (0.5, 5.0)
    assert spec.column("rater").allowed == ("team", "faculty")
    assert spec.column("team_id").references == "teams.team_id"
    month, reports_month = spec.column("month"), d["monthly_reports"].column("month")
    assert (month.type, month.description) == (reports_month.type, reports_month.description.replace(
        "Reporting month", "Month the rating is for"))
    assert "1.0 forming team" in spec.column("score").description
    assert "5.0 outstanding sustainable results" in spec.column("score").description


def test_every_column_is_documented():
    for spec in load_dictionary().values():
        assert spec.description, spec.name
        for col in spec.columns:
            assert col.description, f"{spec.name}.{col.name}"


def test_human_readable_dictionary_is_current():
    """data_dictionary/README.md is generated; regenerate with `python -m evaluation dictionary`."""
    assert (DICTIONARY_DIR / "README.md").read_text(encoding="utf-8") == render_markdown()
