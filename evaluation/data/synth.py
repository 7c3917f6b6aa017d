"""Deterministic synthetic cohorts for the CMM collaborative workbench.

:func:`generate_cohort` writes every table of the cohort data contract (DESIGN.md section 3.1, columns
and order from ``data_dictionary/*.yaml``) into a folder. Nothing in it is real: team names are
invented, patients are random draws. The demo cohort (``n_teams=10``) is shaped like the 2015
community-pharmacy cohort of the seed report (10 teams in IN, IA x3, MD, MN x3, NM, SC; 9 initial
track, 1 advanced); the same code scales to a statewide cohort of 1,000 teams and 250,000 patients.

The generative model, table by table
------------------------------------
*Teams* carry two latent traits that drive everything downstream: an **engagement** propensity
(probability of attending an event; some teams fade over the year, one barely attends) and a
clinical **effect** (share of each patient's gap to a floor value that CMM closes). Engagement and
effect are correlated, so engagement-outcome analyses find a dose-response. The advanced-track
team and a couple of strong teams have large effects, one or two weak teams small ones. Teams
join in the month before the cohort convenes; one team (about 5% of a large cohort) joins late,
after the first events.

*Patients* enroll over the first six months of the cycle (skewed early), with sex, birth year
(age 40-85), condition flags (diabetes, hypertension, dyslipidemia common; anticoagulation ~15%;
at least one per patient) and exits (~3% died, some moved, declined, transferred, lost).

*Measurements* come from one series per (patient, condition): a1c for diabetes, sbp+dbp on the
same date for hypertension, ldl for dyslipidemia, inr for anticoagulation. A series has a
baseline near enrollment (up to 90 days before to 30 days after), then visits at a per-measure
interval (a1c and ldl ~quarterly, BP every 1-2 months, INR every 2-5 weeks) up to a per-patient
horizon of 10-14 months, never on or after the exit date. Values follow
``baseline - delta * (1 - exp(-t / tau)) + noise`` where ``delta = team effect x patient response
x (baseline - floor)``; ~20% of patients do not respond, ~8% of series have no follow-up and
~2% no data at all. INR is log-normal around 2.5 with a spread that narrows as the team improves.
Values are rounded as written (a1c/INR one decimal, BP/LDL integers) and stay inside the
dictionary's plausible ranges.

*Monthly reports* are computed from those measurements: for each team, month and measure the
denominator counts enrolled, not-exited patients with a measurement by month end, the numerator
those whose latest value is at goal (a1c < 8, sbp < 140 and dbp < 90, ldl < 100, 2 <= INR <= 3).

*Events* are monthly calls, bimonthly webinars, quarterly office hours, two learning sessions and
per-team coaching calls; *attendance* is Bernoulli on the team's (possibly fading) propensity,
with ~2.5% of (event, team) pairs not recorded and no rows for events held before a team joined.
*Milestones* are done on time, late or not at all according to engagement. *PDSA cycles* (2-6
per team) draw change ideas from a list. *MTPs* (1-4 per patient, ~80% resolved, median ~30 days).
*Utilization* is Poisson with gamma frailty in the 365 days before and after enrollment; rates
fall after enrollment by the team's effect, and each admission may be followed 2-89 days later
by a readmission. *Program costs* (pharmacist time, training, software, fee, plus a shared item)
make the return on investment positive but plausible (roughly 1-1.5x).

*Qualitative* data follow the seed report's Tables 1-2: a codebook of 16 codes in three themes,
two mid-cycle focus groups and one end-of-cycle interview per team (capped at
:data:`QUAL_MAX_TEAMS` teams), excerpts built from per-code sentence templates, and two coders
whose codings disagree realistically (Cohen's kappa about 0.55-0.85 per code).

Determinism: one ``numpy.random.default_rng(seed)`` is split (``spawn``) into an independent
stream per table; no global random state, no string hashing, no set iteration. Numbers are
written with fixed rounding, dates as ``YYYY-MM-DD`` (months ``YYYY-MM``), so the same arguments
give byte-identical files.
"""

from __future__ import annotations
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
import numpy as np
import pandas as pd

__all__ = ["generate_cohort", "TABLE_COLUMNS", "DEMO_TEAMS"]

# ---------------------------------------------------------------------------------------------
# Contract: files and columns, in data-dictionary order.
# ---------------------------------------------------------------------------------------------
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "teams.csv": ("team_id", "team_name", "state", "setting", "track", "joined_on", "aim_statement",
                  "aim_measure", "aim_target", "aim_by"),
    "patients.csv": ("patient_id", "team_id", "enrolled_on", "sex", "birth_year", "exited_on", "exit_reason",
                     "diabetes", "hypertension", "dyslipidemia", "anticoagulation"),
    "measurements.csv": ("patient_id", "measure", "measured_on", "value"),
    "events.csv": ("event_id", "event_on", "kind", "team_id", "title"),
    "attendance.csv": ("event_id", "team_id", "attended"),
    "milestones.csv": ("team_id", "milestone", "due_on", "completed_on"),
    "monthly_reports.csv": ("team_id", "month", "measure", "numerator", "denominator"),
    "pdsa_cycles.csv": ("team_id", "started_on", "change_idea", "decision", "measure"),
    "mtps.csv": ("mtp_id", "patient_id", "identified_on", "category", "resolved_on"),
    "utilization.csv": ("patient_id", "occurred_on", "kind", "cost"),
    "program_costs.csv": ("team_id", "item", "amount"),
    "qualitative/sources.csv": ("source_id", "kind", "held_on", "team_id", "phase"),
    "qualitative/excerpts.csv": ("excerpt_id", "source_id", "team_id", "text", "exemplar"),
    "qualitative/codings.csv": ("excerpt_id", "coder", "code"),
    "qualitative/codebook.csv": ("code", "theme", "definition"),
}
QUALITATIVE_FILES = tuple(f for f in TABLE_COLUMNS if f.startswith("qualitative/"))

# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------
CYCLE_MONTHS = 12            # the collaborative cycle
REPORT_MONTHS = 15           # monthly reports: the cycle plus a quarter of sustainment
ENROLL_MONTHS = 6            # patients enroll over the first six months
DATA_MONTHS = 22             # nothing is dated on or after start + 22 months (2016-12-01 by default)

# ---------------------------------------------------------------------------------------------
# Teams
# ---------------------------------------------------------------------------------------------
STATES = ("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
          "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
          "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY")
SETTINGS = ("community_pharmacy", "fqhc", "clinic", "health_system", "other")
SETTING_WEIGHTS = (0.70, 0.10, 0.08, 0.10, 0.02)
ADVANCED_SHARE = 0.10
LATE_JOIN_SHARE = 0.05
LATE_JOIN_DAYS = (60, 100)   # a late team joins this many days after the start
AIM_MEASURES = ("a1c_at_goal", "bp_at_goal", "ldl_at_goal", "inr_in_range")
AIM_MEASURE_WEIGHTS = (0.45, 0.30, 0.15, 0.10)
AIM_TARGETS = (0.6, 0.65, 0.7, 0.75, 0.8)
AIM_POPULATION = {"a1c_at_goal": "with diabetes", "bp_at_goal": "with hypertension",
                  "ldl_at_goal": "with dyslipidemia", "inr_in_range": "on warfarin"}
AIM_GOAL_TEXT = {"a1c_at_goal": "an HbA1c below 8%", "bp_at_goal": "a blood pressure below 140/90 mmHg",
                 "ldl_at_goal": "an LDL cholesterol below 100 mg/dL", "inr_in_range": "an INR within 2.0-3.0"}

NAME_PLACES = ("Prairie", "Cedar", "Maple", "Willow", "Aspen", "Juniper", "Sycamore", "Hickory", "Bluestem",
               "Sandhill", "Riverbend", "Lakeshore", "Northfield", "Southgate", "Eastwood", "Westbrook",
               "Stonebridge", "Oak Hollow", "Pine Ridge", "Elm Street", "Harbor", "Summit", "Meadowlark",
               "Cottonwood", "Red Rock", "Silver Lake", "Fox Run", "Mill Pond", "High Plains", "Granite")
NAME_FEATURES = ("Creek", "Valley", "Ridge", "Crossing", "Park", "Springs", "Hills", "Point", "Landing",
                 "Commons", "Heights", "Junction")
NAME_KINDS = {"community_pharmacy": ("Pharmacy", "Drug", "Apothecary", "Family Pharmacy"),
              "fqhc": ("Community Health Center",), "clinic": ("Clinic Pharmacy",),
              "health_system": ("Health System",), "other": ("Pharmacy Services",)}


@dataclass(frozen=True)
class TeamProfile:
    """One demo team: fixed traits so the demo tells a clear story."""

    name: str
    state: str
    setting: str
    track: str
    engagement: float        # base probability of attending an event
    fade: float              # share of the engagement lost by the end of the year
    effect: float            # share of the gap to the floor that CMM closes
    aim_measure: str
    barrier: str             # barrier code the team talks about most in interviews


DEMO_TEAMS: tuple[TeamProfile, ...] = (
    TeamProfile("Wabash Valley Pharmacy", "IN", "community_pharmacy", "initial", 0.80, 0.0, 0.50,
                "a1c_at_goal", "time_constraints"),
    TeamProfile("Prairie Creek Pharmacy", "IA", "community_pharmacy", "initial", 0.92, 0.0, 0.66,
                "a1c_at_goal", "time_constraints"),
    TeamProfile("Cedar Bluff Drug", "IA", "community_pharmacy", "initial", 0.78, 0.55, 0.42,
                "bp_at_goal", "system_implementation"),
    TeamProfile("Loess Hills Apothecary", "IA", "community_pharmacy", "initial", 0.07, 0.0, 0.10,
                "a1c_at_goal", "leadership_changes"),
    TeamProfile("Chesapeake Corner Pharmacy", "MD", "community_pharmacy", "initial", 0.72, 0.0, 0.45,
                "bp_at_goal", "data_reporting_burden"),
    TeamProfile("Lake Country Pharmacy", "MN", "community_pharmacy", "initial", 0.86, 0.0, 0.62,
                "ldl_at_goal", "time_constraints"),
    TeamProfile("Northwoods Health System", "MN", "health_system", "advanced", 0.95, 0.0, 0.80,
                "a1c_at_goal", "system_implementation"),
    TeamProfile("Iron Range Drug", "MN", "community_pharmacy", "initial", 0.74, 0.60, 0.38,
                "inr_in_range", "personnel_changes"),
    TeamProfile("Rio Grande Family Pharmacy", "NM", "community_pharmacy", "initial", 0.66, 0.0, 0.35,
                "a1c_at_goal", "personnel_changes"),
    TeamProfile("Palmetto Community Health Center", "SC", "fqhc", "initial", 0.55, 0.0, 0.15,
                "bp_at_goal", "time_constraints"),
)
DEMO_LATE_TEAM = 8           # index of the demo team that joins late
DEMO_LATE_DAYS = 75

# ---------------------------------------------------------------------------------------------
# Patients
# ---------------------------------------------------------------------------------------------
SEXES = ("F", "M", "X", "U")
SEX_WEIGHTS = (0.52, 0.465, 0.005, 0.01)
AGE_MEAN, AGE_SD, AGE_RANGE = 66.0, 10.0, (40, 85)
CONDITIONS = ("diabetes", "hypertension", "dyslipidemia", "anticoagulation")
CONDITION_PREVALENCE = (0.70, 0.65, 0.45, 0.15)
EXIT_REASONS = ("died", "moved", "declined", "transferred", "lost_to_follow_up", "graduated")
EXIT_PROBS = (0.03, 0.03, 0.04, 0.01, 0.02, 0.01)
EXIT_DAYS = (20, 420)        # exit this many days after enrollment

# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------
BASELINE_BEFORE_SHARE, BASELINE_ON_SHARE = 0.55, 0.15   # rest: a few days to a month after enrollment
BASELINE_BEFORE_DAYS, BASELINE_AFTER_DAYS = 90, 30
HORIZON_DAYS = (300, 425)    # follow-up ends 10-14 months after enrollment
NO_FOLLOWUP_SHARE = 0.08
NO_DATA_SHARE = 0.02
NONRESPONDER_SHARE = 0.20
RESPONSE_RANGE = (0.6, 1.4)
TAU_DAYS = (60, 150)         # time constant of improvement


@dataclass(frozen=True)
class TrendModel:
    """Baseline distribution and improvement floor of one continuous measure."""

    mean: float
    sd: float
    clip: tuple[float, float]   # generated values stay in here (inside the dictionary's plausible range)
    floor: float                # the value an ideal response converges to
    noise: float                # visit-to-visit noise (sd)
    team_sd: float              # team random intercept (sd)
    decimals: int


A1C = TrendModel(8.7, 1.5, (4.5, 15.5), 6.0, 0.25, 0.20, 1)
SBP = TrendModel(146.0, 15.0, (88.0, 220.0), 120.0, 7.0, 4.0, 0)
DBP = TrendModel(87.0, 8.0, (48.0, 125.0), 74.0, 5.0, 2.0, 0)   # mean/sd used via SBP correlation
LDL = TrendModel(125.0, 32.0, (35.0, 330.0), 65.0, 9.0, 8.0, 0)
DBP_SLOPE, DBP_INTERCEPT, DBP_RESIDUAL_SD = 0.35, 36.0, 7.0
INR_CENTER, INR_SPREAD, INR_NARROWING, INR_BIAS_SD, INR_TEAM_SD = 2.5, 0.38, 0.60, 0.08, 0.04
INR_CLIP = (0.8, 7.5)

# series: (name, condition flag index, follow-up interval in days)
SERIES = (("a1c", 0, (70, 110)), ("bp", 1, (28, 62)), ("ldl", 2, (75, 120)), ("inr", 3, (14, 35)))
MEASURE_ORDER = ("a1c", "sbp", "dbp", "ldl", "inr")
MEASURE_DECIMALS = {"a1c": 1, "sbp": 0, "dbp": 0, "ldl": 0, "inr": 1}
REPORT_MEASURES = {"a1c": "a1c_at_goal", "bp": "bp_at_goal", "ldl": "ldl_at_goal", "inr": "inr_in_range"}
GOAL_A1C, GOAL_SBP, GOAL_DBP, GOAL_LDL, INR_RANGE = 8.0, 140.0, 90.0, 100.0, (2.0, 3.0)

# ---------------------------------------------------------------------------------------------
# Events, attendance, milestones, PDSA
# ---------------------------------------------------------------------------------------------
KIND_ORDER = ("learning_session", "monthly_call", "webinar", "office_hours", "coaching_call")
WEBINAR_MONTHS = (1, 3, 5, 7, 9, 11)
OFFICE_HOURS_MONTHS = (2, 5, 8, 11)
LEARNING_SESSION_MONTHS = (0, 7)
COACHING_FIRST_DAYS = (10, 24)
COACHING_GAP_DAYS = (35, 49)
MONTHLY_CALL_TOPICS = ("Kick-off and the Model for Improvement", "Writing an aim statement",
                       "Defining your population of focus", "Measures that matter: run charts",
                       "Collaborative practice agreements", "Identifying medication therapy problems",
                       "Following up until problems are resolved", "Engaging prescribers",
                       "Working with payers", "Spreading CMM in your organization",
                       "Sustaining the gains", "Telling your performance story")
WEBINAR_TOPICS = ("PDSA cycles in a busy pharmacy", "Using the Community Pharmacy Change Package",
                  "Documenting CMM encounters", "Value-based payment basics",
                  "Requests and offers: the signature style", "Calculating return on investment")
LEARNING_SESSION_TITLES = ("Learning session 1: launching the collaborative",
                           "Learning session 2: scale, value and your performance story")
NOT_RECORDED_SHARE = 0.025
ATTEND_KIND_SHIFT = {"learning_session": 0.08, "monthly_call": 0.0, "webinar": -0.10, "office_hours": -0.35,
                     "coaching_call": 0.12}
MILESTONES = (("team_charter", 1), ("aim_statement", 2), ("population_defined", 3),
              ("collaborative_practice_agreement", 6), ("performance_story", 12))   # due at end of month k-1
MILESTONE_DIFFICULTY = (1.0, 1.0, 0.95, 0.80, 0.85)
CHANGE_IDEAS: tuple[tuple[str, str | None], ...] = (
    ("pre-visit chart review", None), ("text reminders for refills", None),
    ("appointment-based medication synchronization", None), ("home blood pressure monitor loaner program",
                                                             "bp_at_goal"),
    ("blood pressure check at prescription pick-up", "bp_at_goal"),
    ("point-of-care A1c testing at the counter", "a1c_at_goal"),
    ("teach-back on insulin use at follow-up calls", "a1c_at_goal"),
    ("statin adherence outreach calls", "ldl_at_goal"), ("lipid panel reminders faxed to prescribers",
                                                         "ldl_at_goal"),
    ("point-of-care INR testing", "inr_in_range"), ("warfarin dosing calendar for patients", "inr_in_range"),
    ("fax template for prescriber recommendations", None), ("technician-led patient recruitment script", None),
    ("weekly huddle to review the registry", None), ("adherence packaging for complex regimens", None),
    ("follow-up call within 7 days of discharge", None),
)
PDSA_PER_TEAM = (2, 6)
DECISIONS = ("adopt", "adapt", "abandon")
DECISION_WEIGHTS = (0.52, 0.31, 0.17)

# ---------------------------------------------------------------------------------------------
# MTPs, utilization, costs
# ---------------------------------------------------------------------------------------------
MTP_COUNTS, MTP_COUNT_WEIGHTS = (1, 2, 3, 4), (0.35, 0.30, 0.20, 0.15)
MTP_CATEGORIES = ("unnecessary_drug_therapy", "needs_additional_drug_therapy", "ineffective_drug",
                  "dosage_too_low", "adverse_drug_reaction", "dosage_too_high", "nonadherence", "other")
MTP_CATEGORY_WEIGHTS = (0.10, 0.22, 0.08, 0.15, 0.12, 0.06, 0.22, 0.05)
MTP_RESOLVED_BASE, MTP_RESOLVED_PER_EFFECT = 0.72, 0.16
MTP_MEDIAN_DAYS, MTP_DAYS_SIGMA = 29.0, 0.75
UTIL_WINDOW_DAYS = 365
ED_RATE, ADMISSION_RATE = 0.90, 0.45                 # per patient-year before enrollment
READMIT_PROB = 0.20                                   # per admission, before enrollment
ED_DROP, ADMISSION_DROP, READMIT_DROP = 0.20, 0.25, 0.35   # fall after enrollment, for an average team
AVERAGE_EFFECT = 0.45
FRAILTY_SHAPE = 1.2
POST_NEW_SHARE = 0.3                                  # after enrollment, share of events not repeating a prior one
READMIT_GAP_DAYS = (2, 89)
COST_MEAN = {"ed_visit": 1500.0, "admission": 12000.0, "readmission": 14000.0}
COST_SIGMA = {"ed_visit": 0.5, "admission": 0.45, "readmission": 0.45}
UTIL_KINDS = ("ed_visit", "admission", "readmission")
PHARMACIST_HOURS, PHARMACIST_RATE = (8.0, 12.0), (55.0, 70.0)   # per patient, USD per hour
TRAINING_COST, SOFTWARE_COST = (1500.0, 4000.0), (1200.0, 3600.0)
COLLABORATIVE_FEE = {"initial": 4000.0, "advanced": 6000.0}
SHARED_COST_BASE, SHARED_COST_PER_TEAM = 15000.0, 2500.0

# ---------------------------------------------------------------------------------------------
# Qualitative (seed 003, Tables 1-3)
# ---------------------------------------------------------------------------------------------
QUAL_MAX_TEAMS = 50
FOCUS_GROUPS = 2
FOCUS_GROUP_EXCERPTS = (30, 40)
INTERVIEW_EXCERPTS = (10, 18)
COACH_SHARE = {"focus_group": 0.08, "interview": 0.04}
SECOND_CODE_PROB, THIRD_CODE_PROB = 0.45, 0.12
CODER_MISS = (0.08, 0.28)        # per code, chance a coder misses a code that applies
CODER_FALSE_ADD = 0.012          # per excerpt and code, chance a coder applies a code that does not
CODERS = ("coder_a", "coder_b")
EXEMPLAR_CODES = 8

CODEBOOK: tuple[tuple[str, str, str], ...] = (
    ("monthly_calls", "Collaborative design",
     "Monthly calls or webinars keep the team on track, accountable and in action."),
    ("team_networking", "Collaborative design",
     "Learning from, or sharing successes and challenges with, teams outside the organization."),
    ("population_of_focus", "Collaborative design",
     "Defining, monitoring or reporting on the population of focus motivates the team."),
    ("coaching", "Collaborative design",
     "One-on-one coaching or check-ins with the collaborative's learning coach."),
    ("change_package", "Collaborative design",
     "Using the Community Pharmacy Change Package or other shared tools and change ideas."),
    ("recognition_in_organization", "Benefits",
     "The work raised the team's visibility or recognition within its own organization."),
    ("new_service_opportunities", "Benefits",
     "The work opened opportunities for new services, partners or patient groups."),
    ("aligning_with_stakeholders", "Benefits",
     "Aligning the team's goals with the priorities of payers, health systems or other stakeholders."),
    ("revenue_capture", "Benefits",
     "Billing, payment or other revenue for CMM services was started or improved."),
    ("communicating_with_physicians", "Benefits",
     "Communication or collaboration with physicians and other prescribers improved."),
    ("population_measurement", "Benefits",
     "Adopting population-based measurement: registries, numerators and denominators, monthly data."),
    ("personnel_changes", "Barriers",
     "Staff turnover, leave or vacancies disrupted progress on the aim."),
    ("system_implementation", "Barriers",
     "Implementing or changing a pharmacy or EHR system disrupted the work or the data."),
    ("leadership_changes", "Barriers",
     "New leaders or changed leadership priorities disrupted support for the work."),
    ("time_constraints", "Barriers",
     "Lack of protected time or workload pressure limited CMM visits or follow-up."),
    ("data_reporting_burden", "Barriers",
     "Collecting, extracting or reporting the monthly data was burdensome or confusing."),
)
CODES = tuple(c for c, _, _ in CODEBOOK)

# primary-code weights by phase (index follows CODES)
PHASE_WEIGHTS = {
    "mid_cycle": (3.0, 3.0, 2.0, 2.0, 1.5, 0.5, 0.5, 0.5, 0.4, 0.8, 1.0, 1.5, 1.5, 1.0, 2.5, 1.5),
    "end_of_cycle": (1.5, 1.2, 1.5, 1.5, 1.5, 2.0, 2.0, 1.6, 1.6, 2.0, 2.0, 1.0, 1.2, 0.8, 1.5, 0.8),
}
TEAM_BARRIER_BOOST = 4.0
COACH_CODES = ("monthly_calls", "team_networking", "coaching", "population_measurement", "time_constraints")

TEMPLATES: dict[str, tuple[str, ...]] = {
    "monthly_calls": (
        "The monthly calls kept us honest. Knowing we had to report out every month kept the team on track.",
        "Honestly the monthly call was the one thing on the calendar that made us stop and look at our numbers.",
        "Hearing where everyone else was on the monthly webinar pushed us to get our own data in on time.",
        "Even when we couldn't do much else, we got on the monthly call, and it kept the project from slipping.",
        "Once a month felt about right. The calls gave us a rhythm for checking our progress.",
    ),
    "team_networking": (
        "It was really valuable to learn from pharmacies outside our own organization.",
        "Hearing another team talk through what failed for them saved us from making the same mistake.",
        "We could just call another site and ask how they set up their agreement with the clinic.",
        "Sharing stories, the good and the bad, was probably the best way to learn how to build this.",
        "We connected with a pharmacist in another state who runs the same software, and that helped a lot.",
    ),
    "population_of_focus": (
        "Tracking our population of focus every month was motivating; seeing the number move made the staff care.",
        "Once we narrowed it down to our high-risk patients with {condition}, it was much easier to know who to call.",
        "Reporting on our patients each month drove us to take better care of them, plain and simple.",
        "At first our population was too big. Cutting it to about {n} patients made it manageable.",
        "Watching the run chart for our patients with {condition} gave the team something to rally around.",
    ),
    "coaching": (
        "Our coach checked in with us every few weeks and that accountability mattered.",
        "The one-on-one coaching call was where we actually worked out our aim statement.",
        "When we got stuck, the coach helped us break it into a small test we could run that week.",
        "I wish we had used the coaching time more; when we did, it was really helpful.",
    ),
    "change_package": (
        "The change package was a helpful tool; we went back to it whenever we planned a new PDSA cycle.",
        "We took the pre-visit chart review idea straight from the change package.",
        "Having examples from other community pharmacies written down in one place saved us time.",
    ),
    "recognition_in_organization": (
        "Our leadership noticed. For the first time we were asked to present our results at a regional meeting.",
        "The project gave our pharmacists a visibility inside the organization they never had before.",
        "People in our organization now see the pharmacy as part of the care team, not just dispensing.",
        "Our {role} took our run chart to the board meeting, which was a big deal for us.",
    ),
    "new_service_opportunities": (
        "Because of this work we are now talking with a local clinic about offering CMM to their patients.",
        "We started a second service for patients on anticoagulation based on what we learned.",
        "It opened the door to new services, like medication reviews for patients after discharge.",
        "A nearby practice heard about our results and asked whether we could see their high-risk patients too.",
    ),
    "aligning_with_stakeholders": (
        "We framed our aim around the same quality measures our payers care about, and that got their attention.",
        "Lining up our goals with the health plan's priorities made the conversation about payment much easier.",
        "Our aim matched what the local ACO was already measuring, so we were speaking their language.",
    ),
    "revenue_capture": (
        "We started billing for the CMM visits and capturing revenue we were leaving on the table before.",
        "Documenting every resolved medication problem helped us get paid for the work.",
        "The revenue is still small, but for the first time we can show the service pays for part of itself.",
        "We worked out a per-member fee with one payer; without this project's data that would not have happened.",
    ),
    "communicating_with_physicians": (
        "Our communication with physicians improved a lot; we send a short note now and they actually respond.",
        "Dr. [name] now calls us when a patient's {lab} goes up, which never used to happen.",
        "We learned to send recommendations in a format the prescribers can act on quickly.",
        "Getting the collaborative practice agreement signed meant fewer faxes back and forth with the clinic.",
    ),
    "population_measurement": (
        "We now look at all our patients at goal, not one patient at a time.",
        "Before this we never measured anything across our patients. Now we pull a report every month.",
        "Building the registry was painful, but now we know exactly how many patients are at goal.",
        "Thinking in numerators and denominators was new for our pharmacists, and it stuck.",
    ),
    "personnel_changes": (
        "We lost our lead pharmacist {period} and it set us back a couple of months.",
        "Turnover was the hardest part; every time a technician left we had to train someone new.",
        "Two of our four staff changed during the year, so keeping momentum was tough.",
        "Our project champion went on leave {period} and nobody else really knew the workflow.",
    ),
    "system_implementation": (
        "We switched pharmacy systems {period} and couldn't pull reports for almost two months.",
        "The new software implementation took over everything; the project had to wait.",
        "An EHR upgrade broke the report we used for our population, so our data has a gap.",
    ),
    "leadership_changes": (
        "We got a new {role} who didn't know about the project, so we had to sell it all over again.",
        "A change in leadership meant our protected time for CMM was cut back.",
        "When the ownership changed {period}, priorities shifted and the project stalled for a while.",
    ),
    "time_constraints": (
        "Finding time between prescriptions to actually do the follow-up calls was the biggest challenge.",
        "We're a busy store; some weeks the CMM visits just didn't happen.",
        "There was no protected time, so most of this was done after hours.",
        "Honestly, the documentation takes longer than the visit itself.",
    ),
    "data_reporting_burden": (
        "Pulling the monthly numbers by hand took hours every month.",
        "The reporting template was confusing at first and we weren't sure we were counting the right patients.",
        "Entering the same data in two places felt like a waste of time.",
    ),
}
COACH_TEMPLATES: dict[str, tuple[str, ...]] = {
    "monthly_calls": ("From the coaching side, the teams that came to the monthly calls moved faster.",
                      "I could tell which teams had been on the last call; they came with data."),
    "team_networking": ("What I saw was teams borrowing ideas from each other between the calls.",
                        "The best moments were when one team answered another team's question before I could."),
    "coaching": ("As a coach I tried to check in every few weeks, and the teams that kept those calls did better.",
                 "Coaching worked best when the team brought one specific problem to the call."),
    "population_measurement": ("Once a team had a registry, the monthly numbers took care of themselves.",),
    "time_constraints": ("Almost every team told me time was the constraint, not willingness.",),
}
# openers: (text, whether the sentence after it continues in lower case)
OPENERS: tuple[tuple[str, bool], ...] = (
    ("", False), ("", False), ("", False), ("", False), ("", False), ("Yes. ", False),
    ("I agree with that. ", False), ("Same for us. ", False), ("For us it was different. ", False),
    ("Well, ", True), ("I think ", True), ("Looking back, ", True), ("To be honest, ", True),
    ("That's a big one for us. ", False), ("Good question. ", False),
)
FOCUS_GROUP_ONLY_OPENERS = ("I agree with that. ", "Same for us. ", "For us it was different. ")
KEEP_CAPITAL = ("I ", "I'", "Dr. ", "A1c", "EHR")
UNIQUE_TEXT_TRIES = 8
SLOT_VALUES = {
    "condition": ("diabetes", "hypertension", "high cholesterol", "high blood pressure"),
    "n": ("40", "50", "60", "75", "100"),
    "role": ("district manager", "director of pharmacy", "regional manager", "clinic administrator"),
    "period": ("in the spring", "over the summer", "in the fall", "right after the kickoff"),
    "lab": ("A1c", "blood pressure", "INR", "LDL"),
}

# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
STREAMS = ("teams", "patients", "measurements", "events", "attendance", "milestones", "pdsa", "mtps",
           "utilization", "costs", "qualitative")
NEVER = np.int64(10**8)          # "no date" for exits (days since 1970; far beyond any real date)


@dataclass(frozen=True)
class Calendar:
    """Key days of the cohort, as int64 days since 1970-01-01."""

    start: int            # the cohort convenes
    start_month: int      # months since 1970-01 of the start month
    cycle_end: int        # last day of the 12-month cycle
    enroll_end: int       # last enrollment day
    end: int              # last day anything may be dated

    @classmethod
    def from_start(cls, start: str) -> "Calendar":
        day = int(np.datetime64(start, "D").astype(np.int64))
        month = int(np.datetime64(start, "M").astype(np.int64))
        return cls(start=day, start_month=month, cycle_end=month_start(month + CYCLE_MONTHS) - 1,
                   enroll_end=month_start(month + ENROLL_MONTHS) - 1, end=month_start(month + DATA_MONTHS) - 1)

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Months since the start month for each day."""
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) - self.start_month


def month_start(month: int) -> int:
    """First day (days since 1970) of a month given as months since 1970-01."""
    return int(np.datetime64(int(month), "M").astype("datetime64[D]").astype(np.int64))


def _nth_weekday(month: int, weekday: int, nth: int) -> int:
    """Day of the nth (1-based) given weekday (Monday=0) in a month (months since 1970)."""
    first = month_start(month)
    dow = (first + 3) % 7                     # 1970-01-01 was a Thursday
    return first + (weekday - dow) % 7 + 7 * (nth - 1)


def _cat(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    """A categorical column from integer codes (-1 = blank); to_csv writes it without per-row formatting."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64),
                                     categories=pd.Index(list(categories), dtype=object))


def _ids(prefix: str, index: np.ndarray, count: int, width: int, missing: np.ndarray | None = None
         ) -> pd.Categorical:
    """Identifiers like P000123 for 0-based ``index`` (``missing`` rows blank)."""
    width = max(width, len(str(count)))
    cats = [f"{prefix}{i + 1:0{width}d}" for i in range(count)]
    codes = np.asarray(index, dtype=np.int64).copy()
    if missing is not None:
        codes[missing] = -1
    return _cat(codes, cats)


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> pd.Categorical:
    """YYYY-MM-DD strings for int days; ``missing`` rows (or days >= NEVER) are blank."""
    days = np.asarray(days, dtype=np.int64)
    blank = days >= NEVER if missing is None else (missing | (days >= NEVER))
    uniq, inv = np.unique(np.where(blank, 0, days), return_inverse=True)
    cats = np.datetime_as_string(uniq.astype("datetime64[D]")).tolist()
    return _cat(np.where(blank, -1, inv), cats)


def _months(months: np.ndarray) -> pd.Categorical:
    """YYYY-MM strings for months since 1970-01."""
    uniq, inv = np.unique(np.asarray(months, dtype=np.int64), return_inverse=True)
    return _cat(inv, np.datetime_as_string(uniq.astype("datetime64[M]")).tolist())


def _round(values: np.ndarray, decimals: int) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=float) * 10**decimals) / 10**decimals


def _numbers(values: np.ndarray, decimals: int, missing: np.ndarray | None = None) -> pd.Categorical:
    """Fixed-decimal strings (integer arithmetic, so the text never depends on float repr)."""
    scaled = np.rint(np.asarray(values, dtype=float) * 10**decimals).astype(np.int64)
    blank = np.zeros(len(scaled), bool) if missing is None else missing
    uniq, inv = np.unique(np.where(blank, 0, scaled), return_inverse=True)
    unit = 10**decimals
    cats = []
    for s in uniq.tolist():
        sign, a = ("-" if s < 0 else ""), abs(s)
        cats.append(f"{sign}{a // unit}.{a % unit:0{decimals}d}" if decimals else f"{s}")
    return _cat(np.where(blank, -1, inv), cats)


def _labels(index: np.ndarray, names: Sequence[str]) -> pd.Categorical:
    return _cat(np.asarray(index, dtype=np.int64), names)


def _repeat_ranges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts [2, 0, 3]: owner [0, 0, 2, 2, 2] and position within owner [0, 1, 0, 1, 2]."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - starts[owner]


def _write(frame: pd.DataFrame, out_dir: Path, file: str) -> int:
    path = out_dir / file
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame[list(TABLE_COLUMNS[file])]
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return len(frame)


# ---------------------------------------------------------------------------------------------
# Teams
# ---------------------------------------------------------------------------------------------
@dataclass
class Teams:
    """Team traits as arrays (index = team number, 0-based)."""

    names: list[str]
    state: np.ndarray          # index into STATES
    setting: np.ndarray        # index into SETTINGS
    advanced: np.ndarray       # bool
    joined: np.ndarray         # day
    engagement: np.ndarray
    fade: np.ndarray
    effect: np.ndarray
    aim_measure: np.ndarray    # index into AIM_MEASURES
    aim_target: np.ndarray
    barrier: np.ndarray        # index into CODES
    n_patients: np.ndarray

    @property
    def n(self) -> int:
        return len(self.names)


def _team_names(rng: np.random.Generator, settings: np.ndarray) -> list[str]:
    """Unique invented names such as 'Maple Ridge Pharmacy'."""
    n_combo = len(NAME_PLACES) * len(NAME_FEATURES)
    picks = rng.permutation(n_combo)[np.arange(len(settings)) % n_combo]
    names: list[str] = []
    for i, (pick, setting) in enumerate(zip(picks.tolist(), settings.tolist())):
        place, feature = NAME_PLACES[pick // len(NAME_FEATURES)], NAME_FEATURES[pick % len(NAME_FEATURES)]
        kinds = NAME_KINDS[SETTINGS[setting]]
        name = f"{place} {feature} {kinds[i % len(kinds)]}"
        if i >= n_combo:               # only for cohorts larger than the name space
            name = f"{name} {i // n_combo + 1}"
        names.append(name)
    return names


def _make_teams(rng: np.random.Generator, n_teams: int, demo: bool, cal: Calendar,
                patients_per_team: tuple[int, int]) -> Teams:
    lo, hi = patients_per_team
    joined = month_start(cal.start_month - 1) + rng.integers(4, 28, n_teams)
    if demo:
        profiles = DEMO_TEAMS
        names = [p.name for p in profiles]
        state = np.array([STATES.index(p.state) for p in profiles])
        setting = np.array([SETTINGS.index(p.setting) for p in profiles])
        advanced = np.array([p.track == "advanced" for p in profiles])
        engagement = np.array([p.engagement for p in profiles])
        fade = np.array([p.fade for p in profiles])
        effect = np.array([p.effect for p in profiles])
        aim_measure = np.array([AIM_MEASURES.index(p.aim_measure) for p in profiles])
        barrier = np.array([CODES.index(p.barrier) for p in profiles])
        joined[DEMO_LATE_TEAM] = cal.start + DEMO_LATE_DAYS
    else:
        state = rng.integers(0, len(STATES), n_teams)
        setting = rng.choice(len(SETTINGS), n_teams, p=SETTING_WEIGHTS)
        advanced = rng.random(n_teams) < ADVANCED_SHARE
        latent = rng.normal(0.0, 1.0, n_teams) + 0.5 * advanced
        engagement = np.clip(0.72 + 0.15 * latent, 0.05, 0.97)
        engagement[rng.random(n_teams) < 0.01] = 0.07             # teams that barely attend
        fade = np.where(rng.random(n_teams) < 0.15, rng.uniform(0.3, 0.6, n_teams), 0.0)
        effect = np.clip(0.42 + 0.15 * latent + 0.12 * advanced + rng.normal(0, 0.05, n_teams), 0.05, 0.85)
        aim_measure = rng.choice(len(AIM_MEASURES), n_teams, p=AIM_MEASURE_WEIGHTS)
        barriers = [i for i, (_, theme, _) in enumerate(CODEBOOK) if theme == "Barriers"]
        barrier = np.array(barriers)[rng.integers(0, len(barriers), n_teams)]
        late = rng.random(n_teams) < LATE_JOIN_SHARE
        joined = np.where(late, cal.start + rng.integers(LATE_JOIN_DAYS[0], LATE_JOIN_DAYS[1] + 1, n_teams), joined)
        names = _team_names(rng, setting)
    aim_target = np.array(AIM_TARGETS)[rng.integers(0, len(AIM_TARGETS), n_teams)]
    n_patients = rng.integers(lo, hi + 1, n_teams)
    return Teams(names, state, setting, advanced, joined.astype(np.int64), engagement, fade, effect,
                 aim_measure, aim_target, barrier, n_patients)


def _teams_frame(teams: Teams, cal: Calendar, rng: np.random.Generator) -> pd.DataFrame:
    aim_by = cal.cycle_end
    by_text = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + aim_by).strftime("%B %Y")
    statements = []
    for i in range(teams.n):
        measure = AIM_MEASURES[teams.aim_measure[i]]
        pct = int(round(teams.aim_target[i] * 100))
        if rng.random() < 0.5:
            statements.append(f"By {by_text}, {pct}% of our population of focus {AIM_POPULATION[measure]} "
                              f"will have {AIM_GOAL_TEXT[measure]}.")
        else:
            statements.append(f"We will bring {pct}% of our high-risk patients {AIM_POPULATION[measure]} to "
                              f"{AIM_GOAL_TEXT[measure]} by {by_text}.")
    idx = np.arange(teams.n)
    return pd.DataFrame({
        "team_id": _team_ids(idx, teams.n),
        "team_name": teams.names,
        "state": _labels(teams.state, STATES),
        "setting": _labels(teams.setting, SETTINGS),
        "track": _labels(teams.advanced.astype(int), ("initial", "advanced")),
        "joined_on": _dates(teams.joined),
        "aim_statement": statements,
        "aim_measure": _labels(teams.aim_measure, AIM_MEASURES),
        "aim_target": _numbers(teams.aim_target, 2),
        "aim_by": _dates(np.full(teams.n, aim_by)),
    })


def _team_ids(index: np.ndarray, n_teams: int, missing: np.ndarray | None = None) -> pd.Categorical:
    return _ids("T", index, n_teams, 2, missing)


# ---------------------------------------------------------------------------------------------
# Patients
# ---------------------------------------------------------------------------------------------
@dataclass
class Patients:
    team: np.ndarray
    enrolled: np.ndarray
    sex: np.ndarray
    birth_year: np.ndarray
    exited: np.ndarray         # day, NEVER when still enrolled
    exit_reason: np.ndarray    # index into EXIT_REASONS, -1 when still enrolled
    flags: np.ndarray          # (n, 4) bool, CONDITIONS order

    @property
    def n(self) -> int:
        return len(self.team)


def _make_patients(rng: np.random.Generator, teams: Teams, cal: Calendar) -> Patients:
    team = np.repeat(np.arange(teams.n), teams.n_patients)
    n = len(team)
    window_lo = np.maximum(cal.start, teams.joined + 7)[team]
    span = cal.enroll_end - window_lo + 1
    enrolled = window_lo + np.floor(rng.beta(1.2, 1.8, n) * span).astype(np.int64)
    order = np.lexsort((enrolled, team))          # ids follow team, then enrollment date
    team, enrolled = team[order], enrolled[order]
    sex = rng.choice(len(SEXES), n, p=SEX_WEIGHTS)
    age = np.clip(np.rint(rng.normal(AGE_MEAN, AGE_SD, n)), *AGE_RANGE).astype(np.int64)
    birth_year = enrolled.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970 - age
    flags = rng.random((n, len(CONDITIONS))) < np.array(CONDITION_PREVALENCE)
    none = ~flags.any(axis=1)
    flags[none, rng.choice(3, int(none.sum()), p=(0.5, 0.35, 0.15))] = True
    reason = rng.choice(len(EXIT_REASONS) + 1, n, p=(*EXIT_PROBS, 1 - sum(EXIT_PROBS))).astype(np.int64)
    exited = enrolled + rng.integers(EXIT_DAYS[0], EXIT_DAYS[1] + 1, n)
    stays = (reason == len(EXIT_REASONS)) | (exited > cal.end)
    reason[stays] = -1
    exited[stays] = NEVER
    return Patients(team, enrolled, sex, birth_year, exited, reason, flags)


def _patients_frame(p: Patients, n_teams: int) -> pd.DataFrame:
    frame = {
        "patient_id": _patient_ids(np.arange(p.n), p.n),
        "team_id": _team_ids(p.team, n_teams),
        "enrolled_on": _dates(p.enrolled),
        "sex": _labels(p.sex, SEXES),
        "birth_year": p.birth_year,
        "exited_on": _dates(p.exited),
        "exit_reason": _labels(p.exit_reason, EXIT_REASONS),
    }
    for k, name in enumerate(CONDITIONS):
        frame[name] = p.flags[:, k].astype(np.int8)
    return pd.DataFrame(frame)


def _patient_ids(index: np.ndarray, n: int) -> pd.Categorical:
    return _ids("P", index, n, 6)


# ---------------------------------------------------------------------------------------------
# Measurements and monthly reports
# ---------------------------------------------------------------------------------------------
@dataclass
class Visits:
    """One series' visits, ordered by series then day."""

    series: str
    patient: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray]   # measure -> rounded values
    at_goal: np.ndarray
    same_series_next: np.ndarray    # True when the next row is the same patient's next visit


def _visit_grid(rng: np.random.Generator, first: np.ndarray, last: np.ndarray, interval: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Visit days from ``first`` every ``interval`` days while <= ``last``; returns (series index, day)."""
    if len(first) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    span = int(max(0, (last - first).max()))
    k = span // interval[0] + 2
    gaps = rng.integers(interval[0], interval[1] + 1, (len(first), k - 1))
    days = first[:, None] + np.concatenate([np.zeros((len(first), 1), np.int64), np.cumsum(gaps, axis=1)], axis=1)
    s, j = np.nonzero(days <= last[:, None])
    return s, days[s, j]


def _trend(rng: np.random.Generator, model: TrendModel, baseline: np.ndarray, gain: np.ndarray,
           tau: np.ndarray, t: np.ndarray, series: np.ndarray) -> np.ndarray:
    """Rounded values: baseline - gain * (baseline - floor) * (1 - exp(-t / tau)) + noise."""
    delta = np.clip(gain, 0.0, 1.0) * np.maximum(baseline - model.floor, 0.0)
    mean = baseline[series] - delta[series] * (1.0 - np.exp(-t / tau[series]))
    values = mean + rng.normal(0.0, model.noise, len(t))
    return _round(np.clip(values, *model.clip), model.decimals)


def _make_visits(rng: np.random.Generator, p: Patients, teams: Teams, cal: Calendar) -> list[Visits]:
    """One series per (patient, condition): visit days, then values along the patient's trajectory."""
    out: list[Visits] = []
    team_shift = {name: rng.normal(0.0, sd, teams.n) for name, sd in
                  (("a1c", A1C.team_sd), ("sbp", SBP.team_sd), ("dbp", DBP.team_sd), ("ldl", LDL.team_sd),
                   ("inr", INR_TEAM_SD))}
    for name, flag, interval in SERIES:
        pat = np.flatnonzero(p.flags[:, flag])
        n = len(pat)
        enrolled, team = p.enrolled[pat], p.team[pat]
        kind = rng.random(n)
        offset = np.where(kind < BASELINE_BEFORE_SHARE, -rng.integers(1, BASELINE_BEFORE_DAYS + 1, n),
                          np.where(kind < BASELINE_BEFORE_SHARE + BASELINE_ON_SHARE, 0,
                                   rng.integers(1, BASELINE_AFTER_DAYS + 1, n)))
        first = enrolled + offset
        last = np.minimum(np.minimum(enrolled + rng.integers(HORIZON_DAYS[0], HORIZON_DAYS[1] + 1, n),
                                     p.exited[pat] - 1), cal.end)
        extent = rng.random(n)
        last = np.where(extent < NO_DATA_SHARE, first - 1,
                        np.where(extent < NO_DATA_SHARE + NO_FOLLOWUP_SHARE, np.minimum(first, last), last))
        s, day = _visit_grid(rng, first, last, interval)
        t = np.maximum(day - enrolled[s], 0).astype(float)
        response = np.where(rng.random(n) < NONRESPONDER_SHARE, 0.0, rng.uniform(*RESPONSE_RANGE, n))
        gain = teams.effect[team] * response
        tau = rng.uniform(*TAU_DAYS, n)
        values: dict[str, np.ndarray] = {}
        if name == "a1c":
            base = np.clip(rng.normal(A1C.mean, A1C.sd, n) + team_shift["a1c"][team], *A1C.clip)
            values["a1c"] = _trend(rng, A1C, base, gain, tau, t, s)
            at_goal = values["a1c"] < GOAL_A1C
        elif name == "ldl":
            base = np.clip(rng.normal(LDL.mean, LDL.sd, n) + team_shift["ldl"][team], *LDL.clip)
            values["ldl"] = _trend(rng, LDL, base, gain, tau, t, s)
            at_goal = values["ldl"] < GOAL_LDL
        elif name == "bp":
            sbp0 = np.clip(rng.normal(SBP.mean, SBP.sd, n) + team_shift["sbp"][team], *SBP.clip)
            dbp0 = np.clip(DBP_INTERCEPT + DBP_SLOPE * sbp0 + rng.normal(0.0, DBP_RESIDUAL_SD, n)
                           + team_shift["dbp"][team], *DBP.clip)
            values["sbp"] = _trend(rng, SBP, sbp0, gain, tau, t, s)
            values["dbp"] = _trend(rng, DBP, dbp0, gain, tau, t, s)
            at_goal = (values["sbp"] < GOAL_SBP) & (values["dbp"] < GOAL_DBP)
        else:  # inr: log-normal around the target, spread narrowing with the team's effect
            bias = rng.normal(0.0, INR_BIAS_SD, n) + team_shift["inr"][team]
            narrowing = INR_NARROWING * np.clip(gain, 0.0, 1.0)[s] * (1.0 - np.exp(-t / tau[s]))
            spread = INR_SPREAD * (1.0 - narrowing)
            raw = np.exp(np.log(INR_CENTER) + bias[s] + spread * rng.normal(0.0, 1.0, len(t)))
            values["inr"] = _round(np.clip(raw, *INR_CLIP), 1)
            at_goal = (values["inr"] >= INR_RANGE[0]) & (values["inr"] <= INR_RANGE[1])
        nxt = np.zeros(len(s), bool)
        nxt[:-1] = s[1:] == s[:-1]
        out.append(Visits(name, pat[s], day, values, at_goal, nxt))
    return out


def _measurements_frame(visits: list[Visits], n_patients: int) -> pd.DataFrame:
    pats, codes, days, vals = [], [], [], []
    for v in visits:
        for measure, values in v.values.items():
            pats.append(v.patient)
            codes.append(np.full(len(values), MEASURE_ORDER.index(measure), np.int64))
            days.append(v.day)
            vals.append(values)
    patient, code, day, value = (np.concatenate(a) for a in (pats, codes, days, vals))
    order = np.lexsort((day, code, patient))
    patient, code, day, value = patient[order], code[order], day[order], value[order]
    # fixed decimals per measure: write each measure's numbers, then merge their string categories
    text = np.empty(len(value), dtype=np.int64)
    cats: list[str] = []
    for k, measure in enumerate(MEASURE_ORDER):
        rows = code == k
        if not rows.any():
            continue
        c = _numbers(value[rows], MEASURE_DECIMALS[measure])
        mapping = np.array([len(cats) + i for i in range(len(c.categories))], dtype=np.int64)
        text[rows] = mapping[c.codes]
        cats.extend(c.categories.tolist())
    # identical strings from different measures (e.g. '2.5') must map to one category
    uniq, inverse = np.unique(np.array(cats, dtype=object), return_inverse=True)
    return pd.DataFrame({
        "patient_id": _patient_ids(patient, n_patients),
        "measure": _labels(code, MEASURE_ORDER),
        "measured_on": _dates(day),
        "value": _cat(inverse[text], uniq.tolist()),
    })


def _monthly_reports_frame(visits: list[Visits], p: Patients, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """Latest value as of each month end, per team x month x measure (fully vectorised)."""
    enroll_m = cal.month_index(p.enrolled)
    exit_m = np.where(p.exited >= NEVER, REPORT_MONTHS + 1, cal.month_index(np.minimum(p.exited, cal.end)))
    join_m = np.maximum(cal.month_index(teams.joined), 0)
    frames = []
    for k, v in enumerate(visits):
        m = cal.month_index(v.day)
        m_next = np.full(len(m), REPORT_MONTHS + 1, np.int64)
        m_next[v.same_series_next] = m[1:][v.same_series_next[:-1]]
        lo = np.maximum(np.maximum(m, enroll_m[v.patient]), join_m[p.team[v.patient]])
        hi = np.minimum(np.minimum(m_next - 1, exit_m[v.patient] - 1), REPORT_MONTHS - 1)
        row, step = _repeat_ranges(np.clip(hi - lo + 1, 0, None))
        month = lo[row] + step
        key = p.team[v.patient][row] * REPORT_MONTHS + month
        den = np.bincount(key, minlength=teams.n * REPORT_MONTHS)
        num = np.bincount(key, weights=v.at_goal[row], minlength=teams.n * REPORT_MONTHS).astype(np.int64)
        keys = np.flatnonzero(den > 0)
        frames.append((keys, np.full(len(keys), k), num[keys], den[keys]))
    keys, measure, num, den = (np.concatenate([f[i] for f in frames]) for i in range(4))
    order = np.lexsort((measure, keys))
    keys, measure, num, den = keys[order], measure[order], num[order], den[order]
    names = [REPORT_MEASURES[v.series] for v in visits]
    return pd.DataFrame({
        "team_id": _team_ids(keys // REPORT_MONTHS, teams.n),
        "month": _months(cal.start_month + keys % REPORT_MONTHS),
        "measure": _labels(measure, names),
        "numerator": num,
        "denominator": den,
    })


# ---------------------------------------------------------------------------------------------
# Events, attendance, milestones, PDSA
# ---------------------------------------------------------------------------------------------
@dataclass
class Events:
    day: np.ndarray
    kind: np.ndarray        # index into KIND_ORDER
    team: np.ndarray        # -1 when offered to every team
    title: list[str]


def _make_events(rng: np.random.Generator, teams: Teams, cal: Calendar) -> Events:
    """Collaborative-wide events on fixed weekdays, then per-team coaching calls."""
    m0 = cal.start_month
    schedule: list[tuple[int, str, str]] = []    # (day, kind, title)
    for i, month in enumerate(LEARNING_SESSION_MONTHS):   # first Thursday (never before the start)
        schedule.append((max(_nth_weekday(m0 + month, 3, 1), cal.start), "learning_session",
                         LEARNING_SESSION_TITLES[i]))
    for month in range(CYCLE_MONTHS):                     # second Tuesday
        schedule.append((_nth_weekday(m0 + month, 1, 2), "monthly_call", f"Monthly call: {MONTHLY_CALL_TOPICS[month]}"))
    for i, month in enumerate(WEBINAR_MONTHS):            # fourth Thursday
        schedule.append((_nth_weekday(m0 + month, 3, 4), "webinar", f"Webinar: {WEBINAR_TOPICS[i]}"))
    for month in OFFICE_HOURS_MONTHS:                     # third Wednesday
        schedule.append((_nth_weekday(m0 + month, 2, 3), "office_hours", "Office hours: data and run charts"))
    days = [d for d, _, _ in schedule]
    kinds = [KIND_ORDER.index(k) for _, k, _ in schedule]
    titles = [t for _, _, t in schedule]
    shared = len(days)
    # coaching calls: every 5-7 weeks from shortly after joining to the end of the cycle
    first = np.maximum(teams.joined, cal.start) + rng.integers(COACHING_FIRST_DAYS[0], COACHING_FIRST_DAYS[1] + 1,
                                                               teams.n)
    last = np.full(teams.n, cal.cycle_end)
    owner, coach_days = _visit_grid(rng, first, last, COACHING_GAP_DAYS)
    day = np.concatenate([np.array(days, np.int64), coach_days])
    kind = np.concatenate([np.array(kinds, np.int64), np.full(len(coach_days), KIND_ORDER.index("coaching_call"))])
    team = np.concatenate([np.full(shared, -1, np.int64), owner])
    title = titles + ["Coaching call"] * len(coach_days)
    order = np.lexsort((team, kind, day))
    return Events(day[order], kind[order], team[order], [title[i] for i in order.tolist()])


def _events_frame(ev: Events, n_teams: int) -> pd.DataFrame:
    n = len(ev.day)
    return pd.DataFrame({
        "event_id": _ids("E", np.arange(n), n, 3),
        "event_on": _dates(ev.day),
        "kind": _labels(ev.kind, KIND_ORDER),
        "team_id": _team_ids(np.maximum(ev.team, 0), n_teams, missing=ev.team < 0),
        "title": ev.title,
    })


def _attendance_frame(rng: np.random.Generator, ev: Events, teams: Teams, cal: Calendar) -> pd.DataFrame:
    n_ev = len(ev.day)
    shared = np.flatnonzero(ev.team < 0)
    e_sh = np.repeat(shared, teams.n)
    t_sh = np.tile(np.arange(teams.n), len(shared))
    own = np.flatnonzero(ev.team >= 0)
    event = np.concatenate([e_sh, own])
    team = np.concatenate([t_sh, ev.team[own]])
    keep = ev.day[event] >= teams.joined[team]          # events before a team joined are not offered to it
    event, team = event[keep], team[keep]
    order = np.lexsort((team, event))
    event, team = event[order], team[order]
    year_frac = np.clip((ev.day[event] - cal.start) / 365.0, 0.0, 1.0)
    shift = np.array([ATTEND_KIND_SHIFT[k] for k in KIND_ORDER])[ev.kind[event]]
    prob = np.clip(teams.engagement[team] * (1.0 - teams.fade[team] * year_frac) + shift, 0.01, 0.98)
    prob = np.where(teams.engagement[team] < 0.1, np.minimum(prob, teams.engagement[team]), prob)
    attended = (rng.random(len(event)) < prob).astype(np.int8)
    recorded = rng.random(len(event)) >= NOT_RECORDED_SHARE
    event, team, attended = event[recorded], team[recorded], attended[recorded]
    return pd.DataFrame({
        "event_id": _ids("E", event, n_ev, 3),
        "team_id": _team_ids(team, teams.n),
        "attended": attended,
    })


def _milestones_frame(rng: np.random.Generator, teams: Teams, cal: Calendar) -> pd.DataFrame:
    n_m = len(MILESTONES)
    team = np.repeat(np.arange(teams.n), n_m)
    which = np.tile(np.arange(n_m), teams.n)
    due = np.array([month_start(cal.start_month + k) - 1 for _, k in MILESTONES], np.int64)[which]
    eng = teams.engagement[team]
    p_done = np.clip((0.20 + 0.75 * eng) * np.array(MILESTONE_DIFFICULTY)[which], 0.05, 0.99)
    done = rng.random(len(team)) < p_done
    on_time = rng.random(len(team)) < np.clip(0.25 + 0.55 * eng, 0.1, 0.9)
    early = rng.integers(0, 26, len(team))
    late = np.ceil(rng.exponential(30.0, len(team))).astype(np.int64) + 1
    completed = np.where(on_time, due - early, due + late)
    completed = np.maximum(completed, teams.joined[team] + 1)
    done &= completed <= cal.end
    return pd.DataFrame({
        "team_id": _team_ids(team, teams.n),
        "milestone": _labels(which, [m for m, _ in MILESTONES]),
        "due_on": _dates(due),
        "completed_on": _dates(completed, missing=~done),
    })


def _pdsa_frame(rng: np.random.Generator, teams: Teams, cal: Calendar) -> pd.DataFrame:
    lo, hi = PDSA_PER_TEAM
    counts = np.clip(np.rint(lo + (hi - lo) * teams.engagement + rng.normal(0, 0.8, teams.n)), lo, hi).astype(np.int64)
    owner, pos = _repeat_ranges(counts)
    ideas = np.argsort(rng.random((teams.n, len(CHANGE_IDEAS))), axis=1)[owner, pos]
    first = np.maximum(teams.joined, cal.start)[owner] + 30
    last = cal.cycle_end - 20
    started = first + np.floor(rng.random(len(owner)) * np.maximum(last - first, 1)).astype(np.int64)
    order = np.lexsort((started, owner))
    owner, ideas, started = owner[order], ideas[order], started[order]
    decision = rng.choice(len(DECISIONS), len(owner), p=DECISION_WEIGHTS)
    running = (started > cal.cycle_end - 60) & (rng.random(len(owner)) < 0.6)
    idea_measure = [m for _, m in CHANGE_IDEAS]
    measure_names = list(AIM_MEASURES)
    measure = np.array([-1 if m is None else measure_names.index(m) for m in idea_measure])[ideas]
    measure = np.where(rng.random(len(owner)) < 0.8, measure, -1)
    return pd.DataFrame({
        "team_id": _team_ids(owner, teams.n),
        "started_on": _dates(started),
        "change_idea": _labels(ideas, [c for c, _ in CHANGE_IDEAS]),
        "decision": _labels(np.where(running, -1, decision), DECISIONS),
        "measure": _labels(measure, measure_names),
    })


# ---------------------------------------------------------------------------------------------
# MTPs, utilization, program costs
# ---------------------------------------------------------------------------------------------
def _mtps_frame(rng: np.random.Generator, p: Patients, teams: Teams, cal: Calendar) -> pd.DataFrame:
    counts = rng.choice(np.array(MTP_COUNTS), p.n, p=MTP_COUNT_WEIGHTS)
    owner, pos = _repeat_ranges(counts)
    n = len(owner)
    offset = np.where(pos == 0, rng.integers(0, 15, n), rng.integers(15, 331, n))
    identified = p.enrolled[owner] + offset
    keep = (identified < p.exited[owner]) & (identified <= cal.end)
    owner, identified = owner[keep], identified[keep]
    n = len(owner)
    order = np.lexsort((identified, owner))
    owner, identified = owner[order], identified[order]
    category = rng.choice(len(MTP_CATEGORIES), n, p=MTP_CATEGORY_WEIGHTS)
    p_resolved = MTP_RESOLVED_BASE + MTP_RESOLVED_PER_EFFECT * teams.effect[p.team[owner]]
    log_days = np.log(MTP_MEDIAN_DAYS) + MTP_DAYS_SIGMA * rng.normal(0.0, 1.0, n)
    days = np.maximum(1, np.rint(np.exp(log_days))).astype(np.int64)
    resolved = identified + days
    is_resolved = (rng.random(n) < p_resolved) & (resolved <= np.minimum(p.exited[owner], cal.end))
    return pd.DataFrame({
        "mtp_id": _ids("M", np.arange(n), n, 7),
        "patient_id": _patient_ids(owner, p.n),
        "identified_on": _dates(identified),
        "category": _labels(category, MTP_CATEGORIES),
        "resolved_on": _dates(resolved, missing=~is_resolved),
    })


def _days_in_window(rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``counts[i]`` days drawn uniformly in [lo[i], hi[i]]; returns (patient, day)."""
    owner, _ = _repeat_ranges(counts)
    length = np.maximum(hi - lo + 1, 1)[owner]
    return owner, lo[owner] + np.floor(rng.random(len(owner)) * length).astype(np.int64)


def _readmissions(rng: np.random.Generator, who: np.ndarray, day: np.ndarray, prob: np.ndarray,
                  window_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Readmissions 2-89 days after some admissions, kept only inside the admission's window."""
    gap = READMIT_GAP_DAYS[0] + np.floor(rng.beta(1.0, 1.8, len(who))
                                         * (READMIT_GAP_DAYS[1] - READMIT_GAP_DAYS[0] + 1)).astype(np.int64)
    back = (rng.random(len(who)) < prob) & (day + gap <= window_end[who])
    return who[back], day[back] + gap[back]


def _utilization_frame(rng: np.random.Generator, p: Patients, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """Acute care in the year before and after enrollment.

    Before: Poisson(rate x frailty) ED visits and admissions. After: most events repeat the patient's
    own pattern (each pre-enrollment event recurs with probability ``share of a year observed x
    (1 - drop) x (1 - POST_NEW_SHARE)``), the rest are new (Poisson); this keeps pre/post counts of the
    same patient correlated, as in real data, so a 600-patient demo shows a stable reduction.
    """
    frailty = rng.gamma(FRAILTY_SHAPE, 1.0 / FRAILTY_SHAPE, p.n)
    rel = np.clip(teams.effect[p.team] / AVERAGE_EFFECT, 0.0, 1.8)
    pre_lo, pre_hi = p.enrolled - UTIL_WINDOW_DAYS, p.enrolled - 1
    post_lo = p.enrolled
    post_hi = np.minimum(np.minimum(p.enrolled + UTIL_WINDOW_DAYS - 1, p.exited), cal.end)
    observed = (post_hi - post_lo + 1) / UTIL_WINDOW_DAYS
    owners, days, kinds = [], [], []

    def add(who: np.ndarray, day: np.ndarray, kind: str) -> None:
        owners.append(who)
        days.append(day)
        kinds.append(np.full(len(who), UTIL_KINDS.index(kind), np.int64))

    for kind, rate, drop in (("ed_visit", ED_RATE, ED_DROP), ("admission", ADMISSION_RATE, ADMISSION_DROP)):
        expected = rate * frailty
        pre = rng.poisson(expected)
        keep = observed * (1.0 - drop * rel)
        post = rng.binomial(pre, keep * (1.0 - POST_NEW_SHARE)) + rng.poisson(expected * keep * POST_NEW_SHARE)
        who_pre, day_pre = _days_in_window(rng, pre, pre_lo, pre_hi)
        who_post, day_post = _days_in_window(rng, post, post_lo, post_hi)
        add(who_pre, day_pre, kind)
        add(who_post, day_post, kind)
        if kind == "admission":
            add(*_readmissions(rng, who_pre, day_pre, np.full(len(who_pre), READMIT_PROB), pre_hi), "readmission")
            add(*_readmissions(rng, who_post, day_post, READMIT_PROB * (1.0 - READMIT_DROP * rel[who_post]),
                               post_hi), "readmission")
    owner, day, kind = (np.concatenate(a) for a in (owners, days, kinds))
    order = np.lexsort((kind, day, owner))
    owner, day, kind = owner[order], day[order], kind[order]
    mean = np.array([COST_MEAN[k] for k in UTIL_KINDS])[kind]
    sigma = np.array([COST_SIGMA[k] for k in UTIL_KINDS])[kind]
    cost = np.exp(np.log(mean) - sigma**2 / 2 + sigma * rng.normal(0, 1, len(kind)))
    return pd.DataFrame({
        "patient_id": _patient_ids(owner, p.n),
        "occurred_on": _dates(day),
        "kind": _labels(kind, UTIL_KINDS),
        "cost": _numbers(cost, 2),
    })


def _program_costs_frame(rng: np.random.Generator, teams: Teams) -> pd.DataFrame:
    n = teams.n
    pharmacist = teams.n_patients * rng.uniform(*PHARMACIST_HOURS, n) * rng.uniform(*PHARMACIST_RATE, n)
    training = rng.uniform(*TRAINING_COST, n)
    software = rng.uniform(*SOFTWARE_COST, n)
    fee = np.where(teams.advanced, COLLABORATIVE_FEE["advanced"], COLLABORATIVE_FEE["initial"])
    items = ("pharmacist time", "training", "software", "collaborative fee")
    amount = np.column_stack([pharmacist, training, software, fee]).ravel()
    team = np.repeat(np.arange(n), len(items))
    which = np.tile(np.arange(len(items)), n)
    shared = SHARED_COST_BASE + SHARED_COST_PER_TEAM * n
    all_items = (*items, "collaborative faculty and coaching (shared)")
    return pd.DataFrame({
        "team_id": _team_ids(np.append(team, 0), n, missing=np.append(np.zeros(len(team), bool), True)),
        "item": _labels(np.append(which, len(items)), all_items),
        "amount": _numbers(np.append(amount, shared), 2),
    })


# ---------------------------------------------------------------------------------------------
# Qualitative
# ---------------------------------------------------------------------------------------------
def _excerpt_text(rng: np.random.Generator, codes: list[int], coach: bool, focus_group: bool) -> str:
    """One speaker turn: an optional opener, then one templated sentence per code."""
    sentences = []
    for code in codes:
        name = CODES[code]
        pool = COACH_TEMPLATES[name] if coach and name in COACH_TEMPLATES else TEMPLATES[name]
        template = pool[int(rng.integers(len(pool)))]
        slots = {k: v[int(rng.integers(len(v)))] for k, v in SLOT_VALUES.items()}
        sentences.append(template.format(**slots))
    text = " ".join(sentences)
    opener, lower = OPENERS[int(rng.integers(len(OPENERS)))]
    if coach or (opener in FOCUS_GROUP_ONLY_OPENERS and not focus_group):
        return text
    if lower and not text.startswith(KEEP_CAPITAL):
        text = text[0].lower() + text[1:]
    return opener + text


def _excerpt_codes(rng: np.random.Generator, weights: np.ndarray, coach: bool) -> list[int]:
    if coach:
        allowed = np.array([CODES.index(c) for c in COACH_CODES])
        return [int(allowed[rng.integers(len(allowed))])]
    codes = [int(rng.choice(len(CODES), p=weights / weights.sum()))]
    for prob in (SECOND_CODE_PROB, THIRD_CODE_PROB):
        if rng.random() >= prob:
            break
        w = weights.copy()
        w[codes] = 0.0
        codes.append(int(rng.choice(len(CODES), p=w / w.sum())))
    return codes


def _code_excerpt(rng: np.random.Generator, true_codes: list[int], miss: np.ndarray) -> list[int]:
    """One coder's codes for an excerpt: misses and false additions, always 1-3 codes."""
    kept = [c for c in true_codes if rng.random() >= miss[c]]
    extra = [c for c in np.flatnonzero(rng.random(len(CODES)) < CODER_FALSE_ADD).tolist() if c not in true_codes]
    codes = (kept + extra)[:3]
    return codes or [true_codes[0]]


def _qualitative_frames(rng: np.random.Generator, teams: Teams, cal: Calendar) -> dict[str, pd.DataFrame]:
    """Codebook, sources, excerpts and two coders' codings (small loops: at most QUAL_MAX_TEAMS teams)."""
    n_q = min(teams.n, QUAL_MAX_TEAMS)
    team_ids = list(_team_ids(np.arange(teams.n), teams.n).categories)
    # sources: focus groups mid-cycle (teams split between them), then one interview per team at the end
    sources: list[dict] = []
    fg_day = _nth_weekday(cal.start_month + 5, 2, 2)
    groups = np.array_split(np.arange(n_q), FOCUS_GROUPS if n_q > 3 else 1)
    for g, members in enumerate(groups):
        sources.append({"kind": "focus_group", "held_on": fg_day + 7 * g, "team": -1, "phase": "mid_cycle",
                        "members": [int(t) for t in members if teams.joined[t] < fg_day]})
    for t in range(n_q):
        day = cal.cycle_end - 14 + int(rng.integers(0, 45))
        sources.append({"kind": "interview", "held_on": day, "team": t, "phase": "end_of_cycle", "members": [t]})
    width = max(2, len(str(len(sources))))
    for i, s in enumerate(sources):
        s["id"] = f"S{i + 1:0{width}d}"
    miss = {c: rng.uniform(*CODER_MISS, len(CODES)) for c in CODERS}
    excerpts: list[dict] = []
    codings: list[tuple[int, str, int]] = []
    primaries: list[int] = []
    seen: set[str] = set()       # membership tests only; never iterated
    for s in sources:
        lo, hi = FOCUS_GROUP_EXCERPTS if s["kind"] == "focus_group" else INTERVIEW_EXCERPTS
        base = np.array(PHASE_WEIGHTS[s["phase"]])
        for _ in range(int(rng.integers(lo, hi + 1))):
            coach = rng.random() < COACH_SHARE[s["kind"]] or not s["members"]
            team = -1 if coach else int(s["members"][int(rng.integers(len(s["members"])))])
            weights = base.copy()
            if team >= 0:
                weights[teams.barrier[team]] *= TEAM_BARRIER_BOOST
            true_codes = _excerpt_codes(rng, weights, coach)
            for _ in range(UNIQUE_TEXT_TRIES):        # avoid verbatim repeats where the templates allow
                text = _excerpt_text(rng, true_codes, coach, focus_group=s["kind"] == "focus_group")
                if text not in seen:
                    break
            seen.add(text)
            k = len(excerpts)
            excerpts.append({"source": s["id"], "team": team, "text": text})
            primaries.append(true_codes[0] if len(true_codes) == 1 else -1)
            for coder in CODERS:
                codings.extend((k, coder, c) for c in _code_excerpt(rng, true_codes, miss[coder]))
    n_ex = len(excerpts)
    exemplar = np.zeros(n_ex, np.int8)
    candidates = np.array(primaries)
    has_team = np.array([e["team"] >= 0 for e in excerpts])
    for code in rng.permutation(len(CODES))[:EXEMPLAR_CODES].tolist():
        pool = np.flatnonzero((candidates == code) & has_team)
        if len(pool):
            exemplar[pool[int(rng.integers(len(pool)))]] = 1
    ex_width = max(4, len(str(n_ex)))
    excerpt_ids = [f"X{i + 1:0{ex_width}d}" for i in range(n_ex)]
    return {
        "qualitative/sources.csv": pd.DataFrame({
            "source_id": [s["id"] for s in sources],
            "kind": [s["kind"] for s in sources],
            "held_on": _dates(np.array([s["held_on"] for s in sources], np.int64)),
            "team_id": ["" if s["team"] < 0 else team_ids[s["team"]] for s in sources],
            "phase": [s["phase"] for s in sources],
        }),
        "qualitative/excerpts.csv": pd.DataFrame({
            "excerpt_id": excerpt_ids,
            "source_id": [e["source"] for e in excerpts],
            "team_id": ["" if e["team"] < 0 else team_ids[e["team"]] for e in excerpts],
            "text": [e["text"] for e in excerpts],
            "exemplar": exemplar,
        }),
        "qualitative/codings.csv": pd.DataFrame({
            "excerpt_id": [excerpt_ids[k] for k, _, _ in codings],
            "coder": [coder for _, coder, _ in codings],
            "code": [CODES[c] for _, _, c in codings],
        }),
        "qualitative/codebook.csv": pd.DataFrame(CODEBOOK, columns=["code", "theme", "definition"]),
    }


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------
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

    teams = _make_teams(rng["teams"], n_teams, demo, cal, (lo, hi))
    patients = _make_patients(rng["patients"], teams, cal)
    visits = _make_visits(rng["measurements"], patients, teams, cal)
    events = _make_events(rng["events"], teams, cal)

    rows: dict[str, int] = {}
    rows["teams.csv"] = _write(_teams_frame(teams, cal, rng["teams"]), out, "teams.csv")
    rows["patients.csv"] = _write(_patients_frame(patients, teams.n), out, "patients.csv")
    rows["measurements.csv"] = _write(_measurements_frame(visits, patients.n), out, "measurements.csv")
    rows["events.csv"] = _write(_events_frame(events, teams.n), out, "events.csv")
    rows["attendance.csv"] = _write(_attendance_frame(rng["attendance"], events, teams, cal), out, "attendance.csv")
    rows["milestones.csv"] = _write(_milestones_frame(rng["milestones"], teams, cal), out, "milestones.csv")
    rows["monthly_reports.csv"] = _write(_monthly_reports_frame(visits, patients, teams, cal), out,
                                         "monthly_reports.csv")
    del visits
    rows["pdsa_cycles.csv"] = _write(_pdsa_frame(rng["pdsa"], teams, cal), out, "pdsa_cycles.csv")
    rows["mtps.csv"] = _write(_mtps_frame(rng["mtps"], patients, teams, cal), out, "mtps.csv")
    rows["utilization.csv"] = _write(_utilization_frame(rng["utilization"], patients, teams, cal), out,
                                     "utilization.csv")
    rows["program_costs.csv"] = _write(_program_costs_frame(rng["costs"], teams), out, "program_costs.csv")
    if qualitative:
        for file, frame in _qualitative_frames(rng["qualitative"], teams, cal).items():
            rows[file] = _write(frame, out, file)
    return rows
