"""The entry point: :func:`generate_cohort` writes every table of the data contract into a folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from .assessments import assessments_frame
from .calendar import Calendar
from .columns import write_table
from .costs import program_costs_frame, utilization_frame
from .engagement import attendance_frame, events_frame, make_events, milestones_frame, pdsa_frame
from .measurements import make_visits, measurements_frame
from .monthly_reports import monthly_reports_frame
from .mtps import mtps_frame
from .patients import make_patients, patients_frame
from .qualitative import qualitative_frames
from .teams import DEMO_TEAMS, make_teams, teams_frame

STREAMS = ("teams", "patients", "measurements", "events", "attendance", "milestones", "pdsa", "mtps",
           "utilization", "costs", "qualitative", "assessments")  # a new stream goes last: the others stay as they were


def generate_cohort(out_dir: str | Path, seed: int = 2015, n_teams: int = 10,
                    patients_per_team: tuple[int, int] = (40, 80),
                    start: str = "2015-02-01", demo_shape: bool | None = None,
                    qualitative: bool = True) -> dict[str, int]:
    """Write every table of the data contract to out_dir; return rows written per file.

    Parameters
    ----------
    out_dir: folder to write into (created if needed; files of the contract are overwritten).
    seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
    n_teams: number of teams.
    patients_per_team: inclusive range of patients per team (drawn uniformly per team).
    start: day the cohort convenes (YYYY-MM-DD); teams join in the month before, patients enroll over
        the following six months, and no date lies on or after start + 22 months.
    demo_shape: use the seed report's ten teams (states, tracks, settings, story); ``None`` means
        ``n_teams == 10``.
    qualitative: also write ``qualitative/*.csv`` (focus groups, interviews, excerpts, codings).

    Returns
    -------
    Rows written per file, keyed by the file's path relative to ``out_dir`` (e.g. ``qualitative/codings.csv``).
    """
    demo = (n_teams == 10) if demo_shape is None else bool(demo_shape)
    lo, hi = patients_per_team
    if n_teams < 1:
        raise ValueError("n_teams must be at least 1")
    if demo and n_teams != len(DEMO_TEAMS):
        raise ValueError(f"demo_shape needs n_teams={len(DEMO_TEAMS)}, got {n_teams}")
    if not 1 <= lo <= hi:
        raise ValueError(f"patients_per_team must be (low, high) with 1 <= low <= high, got {patients_per_team}")
    cal = Calendar.from_start(start)
    today = (dt.date.today() - dt.date(1970, 1, 1)).days
    if cal.end > today:
        raise ValueError(f"start {start} is too recent: the synthetic cohort would have dates after today "
                         f"(it runs to {np.datetime64(cal.end, 'D')})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = dict(zip(STREAMS, np.random.default_rng(seed).spawn(len(STREAMS))))

    teams = make_teams(rng["teams"], n_teams, demo, cal, (lo, hi))
    patients = make_patients(rng["patients"], teams, cal)
    visits = make_visits(rng["measurements"], patients, teams, cal)
    events = make_events(rng["events"], teams, cal)

    rows: dict[str, int] = {}
    rows["teams.csv"] = write_table(teams_frame(teams, cal, rng["teams"]), out, "teams.csv")
    rows["patients.csv"] = write_table(patients_frame(patients, teams.n), out, "patients.csv")
    rows["measurements.csv"] = write_table(measurements_frame(visits, patients.n), out, "measurements.csv")
    rows["events.csv"] = write_table(events_frame(events, teams.n), out, "events.csv")
    rows["attendance.csv"] = write_table(attendance_frame(rng["attendance"], events, teams, cal), out, "attendance.csv")
    rows["milestones.csv"] = write_table(milestones_frame(rng["milestones"], teams, cal), out, "milestones.csv")
    rows["monthly_reports.csv"] = write_table(monthly_reports_frame(visits, patients, teams, cal), out,
                                             "monthly_reports.csv")
    del visits
    rows["pdsa_cycles.csv"] = write_table(pdsa_frame(rng["pdsa"], teams, cal), out, "pdsa_cycles.csv")
    rows["mtps.csv"] = write_table(mtps_frame(rng["mtps"], patients, teams, cal), out, "mtps.csv")
    rows["utilization.csv"] = write_table(utilization_frame(rng["utilization"], patients, teams, cal), out,
                                         "utilization.csv")
    rows["program_costs.csv"] = write_table(program_costs_frame(rng["costs"], teams), out, "program_costs.csv")
    if qualitative:
        for file, frame in qualitative_frames(rng["qualitative"], teams, cal).items():
            rows[file] = write_table(frame, out, file)
    rows["assessments.csv"] = write_table(assessments_frame(rng["assessments"], teams, cal), out, "assessments.csv")
    return rows
