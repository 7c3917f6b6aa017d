"""Qualitative data: focus groups and interviews, templated excerpts, two coders' codings, the codebook."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import Calendar, nth_weekday
from .codebook import (CODEBOOK, CODES, COACH_TEMPLATES, FOCUS_GROUP_ONLY_OPENERS, KEEP_CAPITAL, OPENERS,
                       SLOT_VALUES, TEMPLATES)
from .columns import date_column, team_ids
from .teams import Teams

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


# primary-code weights by phase (index follows CODES)
PHASE_WEIGHTS = {
    "mid_cycle": (3.0, 3.0, 2.0, 2.0, 1.5, 0.5, 0.5, 0.5, 0.4, 0.8, 1.0, 1.5, 1.5, 1.0, 2.5, 1.5),
    "end_of_cycle": (1.5, 1.2, 1.5, 1.5, 1.5, 2.0, 2.0, 1.6, 1.6, 2.0, 2.0, 1.0, 1.2, 0.8, 1.5, 0.8),
}
TEAM_BARRIER_BOOST = 4.0
COACH_CODES = ("monthly_calls", "team_networking", "coaching", "population_measurement", "time_constraints")


UNIQUE_TEXT_TRIES = 8


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


def qualitative_frames(rng: np.random.Generator, teams: Teams, cal: Calendar) -> dict[str, pd.DataFrame]:
    """Codebook, sources, excerpts and two coders' codings (small loops: at most QUAL_MAX_TEAMS teams)."""
    n_q = min(teams.n, QUAL_MAX_TEAMS)
    id_of_team = list(team_ids(np.arange(teams.n), teams.n).categories)
    # sources: focus groups mid-cycle (teams split between them), then one interview per team at the end
    sources: list[dict] = []
    fg_day = nth_weekday(cal.start_month + 5, 2, 2)
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
            "held_on": date_column(np.array([s["held_on"] for s in sources], np.int64)),
            "team_id": ["" if s["team"] < 0 else id_of_team[s["team"]] for s in sources],
            "phase": [s["phase"] for s in sources],
        }),
        "qualitative/excerpts.csv": pd.DataFrame({
            "excerpt_id": excerpt_ids,
            "source_id": [e["source"] for e in excerpts],
            "team_id": ["" if e["team"] < 0 else id_of_team[e["team"]] for e in excerpts],
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
