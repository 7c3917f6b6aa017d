"""Deterministic synthetic cohorts for the CMM collaborative workbench.

:func:`generate_cohort` writes every table of the cohort data contract (columns and order from
``data_dictionary/*.yaml``) into a folder. Nothing in it is real: team names are
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

*Assessments* score each team monthly on IHI's Assessment Scale for Collaboratives, from the month it
joined to the end of the cycle: the faculty every month, the team itself most months (more often when
engaged) and a little more generously. Scores rise from 1.0 (forming team) toward a ceiling set by the
team's (fading) engagement and its effect, rounded to the scale's half points, so the strong teams reach
4.0 and above late in the year and the team that barely attends stays near 2.

*Qualitative* data follow the seed report's Tables 1-2: a codebook of 16 codes in three themes,
two mid-cycle focus groups and one end-of-cycle interview per team (capped at
:data:`~evaluation.data.synth.qualitative.QUAL_MAX_TEAMS` teams), excerpts built from per-code sentence templates, and two coders
whose codings disagree realistically (Cohen's kappa about 0.55-0.85 per code).

*Later cycles* (``cycle=2`` and on) follow :mod:`.cycles`: about half of a cycle's teams come back (the
engaged ones more often) with the same ids and names, a little more engaged and effective; new teams take
the other places with ids no earlier cycle used; patients are new, their ids prefixed with the cycle.

One module per concern: :mod:`.columns` (the contract's files and columns, how a column is written),
:mod:`.calendar`, :mod:`.teams` (the demo's profiles or invented statewide teams), :mod:`.patients`,
:mod:`.measurements`, :mod:`.monthly_reports`, :mod:`.engagement` (events, attendance, milestones, PDSA),
:mod:`.mtps`, :mod:`.costs` (utilization and program costs), :mod:`.codebook` and :mod:`.qualitative`,
:mod:`.assessments`, :mod:`.cycles`, and :mod:`.generate` (:func:`generate_cohort`, which draws them in a fixed order).

Determinism: one ``numpy.random.default_rng(seed)`` is split (``spawn``) into an independent
stream per table (a new table's stream is appended last, so the other tables keep their bytes); no
global random state, no string hashing, no set iteration. Numbers are written with fixed rounding, dates as ``YYYY-MM-DD`` (months ``YYYY-MM``), so the same arguments
give byte-identical files.
"""

from __future__ import annotations

from .columns import TABLE_COLUMNS
from .generate import generate_cohort
from .teams import DEMO_TEAMS

__all__ = ["generate_cohort", "TABLE_COLUMNS", "DEMO_TEAMS"]
