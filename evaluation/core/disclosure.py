"""The small-count rules every output follows: what counts as a small count, how it is shown, and prose made safe.

The CMS cell-size rule hides counts of 1 to ``threshold - 1`` patients (or their events) and shows them as
``<11`` (:func:`small_mark`, :func:`is_small`, :func:`format_count`); ``*`` marks a cell withheld so that a
small count cannot be worked out. Column names say which cells count patients (:func:`looks_like_patient_count`).
In prose, "5 patients", "n = 7" or "3 of 40 patients" state a small count (:func:`small_counts_in_text`) and are
rewritten as "<11 patients", "n < 11", "<11 of 40 patients" (:func:`suppress_text`); quotations are left alone.

A leaf module, so that tables (:mod:`evaluation.stats.cell_suppression`), figures
(:mod:`evaluation.core.figures`, :mod:`evaluation.stats.figure_protection`), findings and the disclosure gate
(:mod:`evaluation.report.gate`) all read a count the same way.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .labels import measure_label
from .text import as_number

COMPLEMENT_MARK = "*"  # a cell hidden so that a small count cannot be worked out (or computed from one)
# Column names that count patients or their events (n, n_goal_baseline, patients, pre_events...). Count-like
# columns that count something else (n_teams, n_excerpts, n_useful months) are exempted per table.
PATIENT_COUNT_NAME = re.compile(r"^(?:n|count|patients|events|at_risk)$|^n_|^patients_|_(?:patients|events|count)$")
PERCENT_NAME = re.compile(r"^(pct_.*|.*_pct|percent.*|.*_percent)$")
BIRTH_NAME = re.compile(r"(birth|^dob$|_dob$|^dob_)", re.IGNORECASE)
# Words for patients or their acute-care events (and the MTPs found in their medicines): a number before one
# of them in prose is a count of patients. Teams, coders, months, excerpts, codes, points and PDSA cycles are not.
PATIENT_NOUN = (r"(?:patients?|people|persons?|individuals?|beneficiar(?:y|ies)|enrollees?|deaths?|"
                r"(?:re-?)?admissions?|hospitali[sz]ations?|(?:ED|emergency(?:[- ]department)?|ER)[- ]visits?|"
                r"MTPs?|medication[- ]therapy[- ]problems?|(?:patient|acute[- ]care|adverse)[- ]events?)(?![\w-])")
_COUNT = r"\d+(?:,\d{3})*"
# "5 patients", "3 of 40 patients", "3 out of the 40 patients", "3/40 patients", "5 paired patients"
COUNT_PHRASE = re.compile(
    rf"(?<![\w.,$%/])(?P<n>{_COUNT})(?![.,]\d)"
    rf"(?:\s*/\s*(?P<slash>{_COUNT})|\s+(?:of|out\s+of)\s+(?:the\s+)?(?P<of>{_COUNT}))?(?![.,]\d)"
    rf"\s+(?:(?!(?:per|a|an|each|of|in|to|and|or|than)\b)[a-z-]+\s+)?{PATIENT_NOUN}", re.IGNORECASE)
# Units of an "n = 7" that are not patients ("n = 7 teams").
NOT_PATIENTS = (r"teams?|coders?|months?|weeks?|days?|years?|excerpts?|codes?|themes?|points?|PDSA|cycles?|"
                r"sites?|pharmac(?:y|ies)|practices?|clinics?|milestones?|calls?|sessions?|webinars?|team-events?")
# "n = 7", "n=7", "N = 7" (a sample size is a count of patients unless it names another unit)
N_EQUALS = re.compile(rf"(?<![\w.])(?P<lead>[nN]\s*=\s*)(?P<n>{_COUNT})(?![.,]?\d)"
                      rf"(?!\s*(?:[a-z-]+\s+)?(?:{NOT_PATIENTS})(?![\w]))")
QUOTED = re.compile(r"\u201c[^\u201d]*\u201d|\"[^\"]*\"")  # quotations from focus groups are not counts


def small_mark(threshold: int) -> str:
    """How a small count is shown: ``<11`` for the CMS threshold of 11."""
    return f"<{threshold}"


def is_small(values, threshold: int) -> np.ndarray:
    """Which values are counts from 1 to ``threshold - 1`` (NaN and 0 are not)."""
    v = pd.to_numeric(pd.Series(np.atleast_1d(np.asarray(values, dtype=object))), errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        return (v >= 1) & (v < threshold)


def format_count(n, threshold: int) -> str:
    """A count as a funder may read it: ``<11`` when small, else with thousands separators."""
    if n is None or (isinstance(n, float) and np.isnan(n)) or pd.isna(n):
        return "n/a"
    return small_mark(threshold) if is_small([n], threshold)[0] else f"{int(round(float(n))):,}"


def looks_like_patient_count(column: str) -> bool:
    """Whether a column name says it counts patients or their events (``n``, ``patients``, ``pre_events``...)."""
    return bool(PATIENT_COUNT_NAME.search(str(column)))  # search: the suffixes (``pre_events``) end the name


def looks_like_percentage(column: str) -> bool:
    """Whether a column name says it holds a percentage (``pct_at_goal``, ``change_pct``, ``percent_...``)."""
    return bool(PERCENT_NAME.match(str(column)))


# --- counts drawn in a figure --------------------------------------------------------------------------
#
# A figure's numbers (a Kaplan-Meier numbers table, bars labelled with counts) come with facts any reader
# knows: at risk + events + censored = n at every tick, cumulative counts never fall, the groups add up to
# the cohort. Each figure records its cells (what it shows) and those facts in a counts record
# (figures/<id>.counts.json, see :func:`evaluation.core.figures.export_figure`); the integer programs of
# :mod:`evaluation.stats.figure_protection` decide what the figure hides and check what it shows (in the gate).

UNDRAWN = ""  # a cell left out of the figure altogether: a reader knows only that it is a count
COUNT_GID = "cmm-count-"  # the SVG id of a text that draws one count recorded in figures/<id>.counts.json
NUMBERS_TABLE_TITLE = "Number at risk"  # the title of the Kaplan-Meier numbers table


def shown_number(shown: str) -> float | None:
    """The number a cell of a figure shows ("1,234" -> 1234.0), or None for a mark (``<11``, ``*``) or a blank."""
    text = str(shown).strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


# --- counts stated in prose ----------------------------------------------------------------------------

def _number(text: str | None) -> int | None:
    return int(text.replace(",", "")) if text else None


def _count_phrases(text: str, threshold: int) -> list[tuple[int, int, str]]:
    """(start, end, safe replacement) of every phrase of ``text`` that states or implies a small count.

    "n = 7" becomes "n < 11"; "7 patients" becomes "<11 patients"; "3 of 7 patients" hides both numbers;
    "20 of 25 patients" also gives away the 5 who are not counted, and becomes "all but <11 of 25 patients".
    Quotations are skipped (a focus-group participant's words are not a count from the data).
    """
    def small(n: int | None) -> bool:
        return n is not None and 1 <= n < threshold

    plain = QUOTED.sub(lambda m: " " * len(m.group(0)), text)  # blanked in place: positions still match
    mark = small_mark(threshold)
    found = []
    for m in N_EQUALS.finditer(plain):
        if small(_number(m.group("n"))):
            found.append((m.start(), m.end(), m.group("lead").replace("=", "<") + str(threshold)))
    for m in COUNT_PHRASE.finditer(plain):
        n = _number(m.group("n"))
        if n == threshold and plain[:m.start()].endswith(mark[:-len(str(threshold))]):
            continue  # already safe: "<11 of 14 patients" (what this function writes) is a bound, not a count
        whole = _number(m.group("slash") or m.group("of"))
        if small(n) or small(whole):
            out = m.group(0)
            spans = [(m.start("n"), m.end("n"), small(n))]
            spans += [(m.start(g), m.end(g), small(whole)) for g in ("slash", "of") if m.group(g)]
            for a, b, hide in sorted(spans, reverse=True):
                if hide:
                    out = out[:a - m.start()] + mark + out[b - m.start():]
            found.append((m.start(), m.end(), out))
        elif whole is not None and n is not None and small(whole - n):
            rest = m.group(0)[(m.end("slash") if m.group("slash") else m.end("of")) - m.start():]
            found.append((m.start(), m.end(), f"all but {mark} of {whole:,}{rest}"))
    found.sort()
    kept: list[tuple[int, int, str]] = []
    for item in found:  # an "n = 7 patients" is one phrase
        if not kept or item[0] >= kept[-1][1]:
            kept.append(item)
    return kept


def small_counts_in_text(text: str, threshold: int) -> list[str]:
    """Phrases of prose that state a small count of patients or their events ("5 patients", "3 deaths",
    "n = 7", "3/40 patients"), or give one away ("20 of 25 patients" leaves 5). Quotations are skipped."""
    text = str(text)
    return [text[a:b] for a, b, _ in _count_phrases(text, threshold)]


def suppress_text(text: str, threshold: int) -> str:
    """Prose made safe for a funder: a small count of patients or events becomes ``<11`` ("5 patients" ->
    "<11 patients", "n = 7" -> "n < 11"); quotations are left as they are."""
    text = str(text)
    for a, b, safe in reversed(_count_phrases(text, threshold)):
        text = text[:a] + safe + text[b:]
    return text


def cohort_rows(t: pd.DataFrame, counts: tuple[str, ...], suppress_below: int):
    """Per measure of a result table, the whole cohort's row (group ``all``) with the measure's label and
    whether any of its ``counts`` is too small to report (findings then say so instead of quoting numbers);
    measures with no patients (first count 0 or blank) are skipped."""
    for r in t[t["group"] == "all"].itertuples(index=False):
        values = [as_number(getattr(r, c)) for c in counts]
        if values[0] and not math.isnan(values[0]):
            yield measure_label(r.measure), r, bool(is_small(values, suppress_below).any())
