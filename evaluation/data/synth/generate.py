"""The entry point: :func:`generate_cohort` writes every table of the data contract into a folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from .assessments import assessments_frame
from .calendar import Calendar
from .columns import write_table
from .cycles import Roster, default_start, first_roster, next_roster, relabel_ids
from .costs import program_costs_frame, utilization_frame
from .engagement import attendance_frame, events_frame, make_events, milestones_frame, pdsa_frame
from .measurements import make_visits, measurements_frame
from .monthly_reports import monthly_reports_frame
from .mtps import mtps_frame
from .patients import make_patients, patients_frame
from .qualitative import qualitative_frames
from .teams import DEMO_TEAMS, make_teams, teams_frame

# A new stream goes last: the streams before it stay as they were, and so do the tables drawn from them.
STREAMS = ("teams", "patients", "measurements", "events", "attendance", "milestones", "pdsa", "mtps",
           "utilization", "costs", "qualitative", "assessments", "cycles", "baseline")


def streams(seed: int, cycle: int = 1) -> dict[str, np.random.Generator]:
    """One independent generator per stream name. The first cycle's come from ``default_rng(seed)``; a later
    cycle's from the ``cycles`` stream's child for that cycle, so each cycle has streams of its own and the
    first cycle's tables do not depend on whether later cycles are drawn."""
    if cycle == 1:
        return dict(zip(STREAMS, np.random.default_rng(seed).spawn(len(STREAMS))))
    root = np.random.SeedSequence(seed, spawn_key=(STREAMS.index("cycles"), cycle))
    return dict(zip(STREAMS, (np.random.default_rng(s) for s in root.spawn(len(STREAMS)))))


def cycle_roster(seed: int, n_teams: int, demo: bool, start: str, cycle: int, first_day: str,
                 patients_per_team: tuple[int, int]) -> tuple[Roster, Calendar, dict[str, np.random.Generator]]:
    """A cycle's teams, calendar and streams: the first cycle's teams, then each next cycle's in turn from the
    one before (cycles in between start on their default day; ``first_day`` is the asked cycle's)."""
    cal, rng = Calendar.from_start(start), streams(seed)
    roster = first_roster(make_teams(rng["teams"], n_teams, demo, cal, patients_per_team))
    for k in range(2, cycle + 1):
        cal = Calendar.from_start(first_day if k == cycle else default_start(start, k))
        rng = streams(seed, k)
        roster = next_roster(rng["teams"], roster, demo, cal, patients_per_team)
    return roster, cal, rng


def generate_cohort(out_dir: str | Path, seed: int = 2015, n_teams: int = 10,
                    patients_per_team: tuple[int, int] = (40, 80),
                    start: str = "2015-02-01", demo_shape: bool | None = None,
                    qualitative: bool = True, cycle: int = 1, cycle_start: str | None = None) -> dict[str, int]:
    """Write every table of the data contract to out_dir; return rows written per file.

    Parameters
    ----------
    out_dir: folder to write into (created if needed; files of the contract are overwritten).
    seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
    n_teams: number of teams (in every cycle).
    patients_per_team: inclusive range of patients per team (drawn uniformly per team).
    start: day the collaborative's first cycle convenes (YYYY-MM-DD); teams join in the month before, patients
        enroll over the following six months, and no date lies on or after the cycle's start + 22 months.
    demo_shape: use the seed report's ten teams (states, tracks, settings, story); ``None`` means
        ``n_teams == 10``.
    qualitative: also write ``qualitative/*.csv`` (focus groups, interviews, excerpts, codings).
    cycle: which cycle of the collaborative to write (1, the default, is the first). A later cycle has teams of
        its own: about half of the previous cycle's come back (same team_id, team_name, state, setting and track,
        a little more engaged and effective), the others are new teams with ids no earlier cycle used; its
        patients are new, with ids that carry the cycle (``C2-P000001``). The first cycle is the same whatever
        later cycles exist.
    cycle_start: the day that cycle convenes (YYYY-MM-DD); default ``start`` plus 12 months per earlier cycle.

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
    if isinstance(cycle, bool) or not isinstance(cycle, (int, np.integer)) or cycle < 1:
        raise ValueError(f"cycle must be a whole number, at least 1 (the first cycle); got {cycle!r}")
    if cycle == 1 and cycle_start not in (None, start):
        raise ValueError(f"cycle_start ({cycle_start}) is the first day of a later cycle; the first cycle starts on "
                         f"`start` ({start}): pass cycle=2 or more, or set start")
    for name, day in (("start", start), ("cycle_start", cycle_start)):
        if day is not None:
            try:
                dt.date.fromisoformat(day)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a date written YYYY-MM-DD; got {day!r}") from None
    first_day = default_start(start, cycle) if cycle_start is None else cycle_start
    if cycle > 1 and np.datetime64(first_day, "D") <= np.datetime64(default_start(start, cycle - 1), "D"):
        raise ValueError(f"cycle_start {first_day} must come after the start of cycle {cycle - 1} "
                         f"({default_start(start, cycle - 1)})")
    cal = Calendar.from_start(first_day)
    today = (dt.date.today() - dt.date(1970, 1, 1)).days
    if cal.end > today:
        raise ValueError(f"{'start' if cycle == 1 else 'cycle_start'} {first_day} is too recent: the synthetic cohort would have dates after today "
                         f"(it runs to {np.datetime64(cal.end, 'D')})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    roster, cal, rng = cycle_roster(seed, n_teams, demo, start, cycle, first_day, (lo, hi))
    teams, team_ids, prefix = roster.teams, roster.team_ids(), f"C{cycle}-"

    def write(frame, file: str) -> int:
        """Write one table; a later cycle's with its team ids and patient ids (the first cycle's are as drawn)."""
        return write_table(frame if cycle == 1 else relabel_ids(frame, team_ids, prefix), out, file)

    patients = make_patients(rng["patients"], teams, cal)
    visits = make_visits(rng["measurements"], patients, teams, cal)
    events = make_events(rng["events"], teams, cal)

    rows: dict[str, int] = {}
    rows["teams.csv"] = write(teams_frame(teams, cal, rng["teams"]), "teams.csv")
    rows["patients.csv"] = write(patients_frame(patients, teams.n), "patients.csv")
    rows["measurements.csv"] = write(measurements_frame(visits, patients.n), "measurements.csv")
    rows["events.csv"] = write(events_frame(events, teams.n), "events.csv")
    rows["attendance.csv"] = write(attendance_frame(rng["attendance"], events, teams, cal), "attendance.csv")
    rows["milestones.csv"] = write(milestones_frame(rng["milestones"], teams, cal), "milestones.csv")
    rows["monthly_reports.csv"] = write(monthly_reports_frame(visits, patients, teams, cal, rng["baseline"]), "monthly_reports.csv")
    del visits
    rows["pdsa_cycles.csv"] = write(pdsa_frame(rng["pdsa"], teams, cal), "pdsa_cycles.csv")
    rows["mtps.csv"] = write(mtps_frame(rng["mtps"], patients, teams, cal), "mtps.csv")
    rows["utilization.csv"] = write(utilization_frame(rng["utilization"], patients, teams, cal), "utilization.csv")
    rows["program_costs.csv"] = write(program_costs_frame(rng["costs"], teams), "program_costs.csv")
    if qualitative:
        for file, frame in qualitative_frames(rng["qualitative"], teams, cal).items():
            rows[file] = write(frame, file)
    rows["assessments.csv"] = write(assessments_frame(rng["assessments"], teams, cal), "assessments.csv")
    return rows
