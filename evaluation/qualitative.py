"""Focus-group and interview coding: theme table, theme presence, co-occurrence, phases, inter-rater reliability.

The input is the qualitative tables of the data contract (sources, excerpts, codings, codebook), read
from the cohort's CSVs or from a REFI-QDA project (``params.qualitative.qdpx``; see :mod:`.refi_qda`).
Two ideas run through the module:

* **Who reviewed an excerpt.** The codings table lists only the codes a coder applied, so "coder B did not
  apply code X to excerpt 7" needs to know that B read excerpt 7. With ``coder_scope: source`` (the
  default) a coder who applied any code in a transcript is taken to have read all of it, as coders work
  through whole transcripts; with ``coder_scope: excerpt`` only the excerpts a coder applied some code to.
* **Which codings count** for the theme tables is ``code_rule``: a code counts on an excerpt when *any*
  coder who reviewed it applied it, *all* did, a *majority* (more than half) did, or the named *consensus*
  coder did.
* **Which quotes may reach a funder.** An exemplar quote goes into the theme table, and from there into
  ``funder/themes.csv``, the performance story and the DOCX, so a quote in which the identifier screen
  (:mod:`.identifiers`) finds a name, a date, a phone or record number or a ``qualitative.deny_terms`` word
  is passed over for the next best quote, unless the evaluator cleared its ``excerpt_id`` in
  ``qualitative.approved_quotes``. :func:`held_back_quotes` lists what was passed over and how to clear it.

Inter-rater reliability is computed per code as a yes/no decision per excerpt and coder, over the excerpts
reviewed by two or more coders: percent agreement, Cohen's kappa by the standard formula
(po - pe) / (1 - pe) (Cohen 1960; for more than two coders the mean over coder pairs, Light 1971) and
Krippendorff's alpha, nominal, with a percentile bootstrap CI over excerpts. QualCoder's "kappa" uses a
non-standard formula, so its numbers will differ from these.
"""
from __future__ import annotations

import dataclasses
import itertools
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd

from . import identifiers
from .errors import ParamsError
from .loading import QUALITY_COLUMNS, Cohort
from .params import Params
from .refi_qda import QualitativeTables, from_cohort, normalise, read_qdpx

CODE_RULES = ("any", "all", "majority", "consensus")
CODER_SCOPES = ("source", "excerpt")
THEME_ROW = "all"  # the `code` of a theme's own row in the theme table (the project's `group = all` habit)
OVERALL = "overall"  # the `code` of the pooled row of the reliability table
PHASE_LABELS = {"mid_cycle": "Mid-cycle focus groups", "end_of_cycle": "End-of-cycle interviews"}
QUALITATIVE_TABLES = ("qualitative_sources", "qualitative_excerpts", "qualitative_codings", "qualitative_codebook")

# Landis & Koch (1977), Biometrics 33:159-174, p. 165: upper bound of each band of kappa and its label.
LANDIS_KOCH = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"),
               (1.0, "almost perfect"))
# Krippendorff (2004), Content Analysis 2nd ed., p. 241: rely on alpha >= .800; .667 <= alpha < .800 only
# for tentative conclusions.
ALPHA_RELIABLE, ALPHA_TENTATIVE = 0.800, 0.667

# The theme-by-team heatmap draws at most this many teams (about a third of an inch a row: 30 rows fill a page).
# A statewide cohort has 1,000 teams, most of which took part in no focus group; the figure then draws the
# teams with the most excerpts and its caption says so; tables/themes_by_team.csv keeps every team.
TEAMS_SHOWN = 30

THEME_COLUMNS = ["theme", "code", "n_excerpts", "n_teams", "pct_teams", "exemplar", "exemplar_id", "exemplar_team",
                 "exemplar_note"]
HELD_BACK_COLUMNS = ["excerpt_id", "team_id", "theme", "code", "kinds", "found", "approve"]
NO_QUOTE_CLEARED = "no quote cleared for funders"
IRR_COLUMNS = ["code", "theme", "n_excerpts", "n_coders", "percent_agreement", "cohen_kappa", "landis_koch",
               "krippendorff_alpha", "alpha_ci_low", "alpha_ci_high", "alpha_verdict", "note"]


# --- settings and input ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CodingSettings:
    """How codings are counted, reliability is estimated and exemplar quotes are screened (checked once, from
    ``params.qualitative``)."""

    code_rule: str = "any"
    consensus_coder: str | None = None
    coder_scope: str = "source"
    bootstrap_samples: int = 1000
    seed: int = 2015
    alpha: float = 0.05  # 1 - confidence level of the bootstrap CI
    approved_quotes: tuple[str, ...] = ()  # excerpt_ids the evaluator cleared although the screen held them back
    deny_terms: tuple[str, ...] = ()  # words no funder quote may hold (names, places)

    def __post_init__(self) -> None:
        for name in ("approved_quotes", "deny_terms"):  # a list or a single value, kept as a tuple of text
            value = getattr(self, name) or ()
            object.__setattr__(self, name, (str(value),) if isinstance(value, str) else tuple(str(x) for x in value))
        if self.code_rule not in CODE_RULES:
            raise ParamsError(f"`qualitative.code_rule` must be one of {', '.join(CODE_RULES)}; got {self.code_rule!r}",
                              key="qualitative.code_rule")
        if self.code_rule == "consensus" and not self.consensus_coder:
            raise ParamsError("`qualitative.code_rule` is consensus, so `qualitative.consensus_coder` must name the coder",
                              key="qualitative.consensus_coder")
        if self.coder_scope not in CODER_SCOPES:
            raise ParamsError(f"`qualitative.coder_scope` must be one of {', '.join(CODER_SCOPES)}; "
                              f"got {self.coder_scope!r}", key="qualitative.coder_scope")
        b = self.bootstrap_samples
        if isinstance(b, bool) or not isinstance(b, int) or b < 0:
            raise ParamsError(f"`qualitative.bootstrap_samples` must be a whole number of 0 or more; got {b!r}",
                              key="qualitative.bootstrap_samples")

    @classmethod
    def from_params(cls, params: Params) -> "CodingSettings":
        q = params.qualitative
        return cls(code_rule=q.get("code_rule", "any"), consensus_coder=q.get("consensus_coder"),
                   coder_scope=q.get("coder_scope", "source"), bootstrap_samples=q.get("bootstrap_samples", 1000),
                   seed=params.seed, alpha=params.alpha, approved_quotes=tuple(q.get("approved_quotes") or ()),
                   deny_terms=tuple(q.get("deny_terms") or ()))

    def describe(self) -> str:
        rule = {"any": "any coder applied it", "all": "every coder who read the excerpt applied it",
                "majority": "more than half of the coders who read the excerpt applied it",
                "consensus": f"the consensus coder ({self.consensus_coder}) applied it"}[self.code_rule]
        return f"a code counts on an excerpt when {rule}"


def qdpx_path(params: Params) -> Path | None:
    """The REFI-QDA project named by ``qualitative.qdpx`` (relative to the data folder, or absolute)."""
    value = params.qualitative.get("qdpx")
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else params.data_dir / path


def load_qualitative(params: Params, cohort: Cohort) -> QualitativeTables:
    """The cohort's qualitative tables: from ``qualitative.qdpx`` when set, else from the qualitative CSVs.

    When the data is absent the tables are empty and ``.note`` says why (the notebook shows it and goes on).
    Problems found in a ``.qdpx`` are in ``.problems`` (the CSVs' problems are in ``cohort.quality``).
    """
    teams = cohort.teams.drop(columns=["row"], errors="ignore") if cohort.teams is not None else None
    path = qdpx_path(params)
    if path is not None:
        if not path.is_file():
            raise ParamsError(f"`qualitative.qdpx` names a file that does not exist: {path}", key="qualitative.qdpx")
        known = set(teams["team_id"].dropna()) if teams is not None else None
        tables = read_qdpx(path, known_teams=known, label=str(params.qualitative["qdpx"]))
        if teams is not None:
            tables.teams = teams
        if tables.ok and tables.excerpts.empty:
            tables.note = f"Skipped: the REFI-QDA project {params.qualitative['qdpx']} holds no coded text selections."
        return tables
    if not cohort.has(*QUALITATIVE_TABLES):
        tables = normalise(None, None, None, None, teams, origin="qualitative/*.csv")
        tables.note = cohort.missing_note(*QUALITATIVE_TABLES)
        return tables
    return from_cohort(cohort)


def overview(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """What was read (sources, excerpts, coders, codes) and the rules applied, as one small table."""
    table = tables.summary()
    if not tables.ok:
        return table
    scope = {"source": "a coder who coded any excerpt of a transcript read all of it",
             "excerpt": "a coder read only the excerpts they applied some code to"}[settings.coder_scope]
    extra = pd.DataFrame([("coding rule (theme tables)", settings.describe()), ("coders read (reliability)", scope)],
                         columns=["item", "value"])
    return pd.concat([table, extra], ignore_index=True)


def qdpx_round_trip(tables: QualitativeTables, path: str | Path,
                    settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """Export to a REFI-QDA project at ``path``, read it back, and say table by table whether anything changed."""
    from .refi_qda import export_qdpx

    written = export_qdpx(tables, path)
    back = read_qdpx(written)
    back.teams = tables.teams
    keys = {"sources": ["source_id"], "excerpts": ["excerpt_id"], "codings": ["excerpt_id", "coder", "code"],
            "codebook": ["code"]}
    rows = []
    for name, key in keys.items():
        a, b = (getattr(t, name).sort_values(key, kind="stable").reset_index(drop=True) for t in (tables, back))
        rows.append((f"{name} rows", len(a), len(b), a.equals(b)))
    themes = theme_table(tables, settings), theme_table(back, settings)
    rows.append(("theme table rows", len(themes[0]), len(themes[1]), themes[0].equals(themes[1])))
    rows.append(("problems reading it back", 0, len(back.problems), back.problems.empty))
    return pd.DataFrame(rows, columns=["item", "exported", "read_back", "identical"])


def qdpx_origin(tables: QualitativeTables) -> str | None:
    """The .qdpx file the tables were read from, or None when they came from the CSVs."""
    return tables.origin if tables.origin.lower().endswith(".qdpx") else None


def coding_problems(tables: QualitativeTables, cohort: Cohort | None = None) -> pd.DataFrame:
    """Data-quality rows about the qualitative data: from the .qdpx read, else the CSVs' rows in ``cohort.quality``."""
    frames = [tables.problems]
    if cohort is not None and len(cohort.quality) and qdpx_origin(tables) is None:
        # a qualitative table's rows are filed under where it was read from: its CSV or a workbook's sheet
        labels = {"qualitative/"} | {label for name, label in cohort.sources.items() if name in QUALITATIVE_TABLES}
        table = cohort.quality["table"].astype(str)
        frames.append(cohort.quality[table.str.startswith("qualitative/") | table.isin(labels)])
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[QUALITY_COLUMNS]


# --- who reviewed what, and which codings count ---------------------------------------------------

def valid_codings(tables: QualitativeTables) -> pd.DataFrame:
    """Codings of known excerpts with codebook codes, one row per (excerpt, coder, code).

    Codings pointing elsewhere are data-quality errors already (check_references for the CSVs, the reader
    for a .qdpx); they are left out here so an analysis never counts them.
    """
    c = tables.codings.dropna(subset=["excerpt_id", "coder", "code"])
    c = c[c["excerpt_id"].isin(set(tables.excerpts["excerpt_id"])) & c["code"].isin(set(tables.codebook["code"]))]
    return c[["excerpt_id", "coder", "code"]].drop_duplicates().reset_index(drop=True)


def reviewers(tables: QualitativeTables, scope: str = "source") -> pd.DataFrame:
    """Which coders reviewed which excerpts (``excerpt_id, coder``), by ``scope`` (see the module docstring)."""
    codings = valid_codings(tables)
    direct = codings[["excerpt_id", "coder"]].drop_duplicates()
    if scope == "excerpt":
        pairs = direct
    elif scope == "source":
        ex = tables.excerpts[["excerpt_id", "source_id"]].dropna()
        by_source = codings.merge(ex, on="excerpt_id")[["source_id", "coder"]].drop_duplicates()
        pairs = pd.concat([ex.merge(by_source, on="source_id")[["excerpt_id", "coder"]], direct])
    else:
        raise ParamsError(f"`qualitative.coder_scope` must be one of {', '.join(CODER_SCOPES)}; got {scope!r}",
                          key="qualitative.coder_scope")
    return pairs.drop_duplicates().sort_values(["excerpt_id", "coder"], kind="stable").reset_index(drop=True)


def decisions(tables: QualitativeTables, scope: str = "source") -> pd.DataFrame:
    """Every yes/no coding decision: one row per (excerpt, coder who reviewed it, codebook code), ``applied`` 0/1."""
    who = reviewers(tables, scope)
    codes = tables.codebook[["code"]].dropna().drop_duplicates()
    grid = who.merge(codes, how="cross")
    applied = valid_codings(tables).assign(applied=1)
    grid = grid.merge(applied, on=["excerpt_id", "coder", "code"], how="left")
    grid["applied"] = grid["applied"].fillna(0).astype(int)
    return grid.sort_values(["code", "excerpt_id", "coder"], kind="stable").reset_index(drop=True)


def code_votes(tables: QualitativeTables, scope: str = "source") -> pd.DataFrame:
    """Per (excerpt, code): how many coders reviewed the excerpt and how many applied the code."""
    d = decisions(tables, scope)
    return (d.groupby(["excerpt_id", "code"], sort=True)["applied"].agg(n_coders="size", n_applied="sum")
            .reset_index())


def counted_codings(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """The (excerpt, code) pairs that count under ``settings.code_rule``, with theme, team, track, phase, text."""
    columns = ["excerpt_id", "code", "theme", "n_coders", "n_applied", "source_id", "team_id", "track", "phase",
               "kind", "text", "exemplar"]
    votes = code_votes(tables, settings.coder_scope)
    rule = settings.code_rule
    if rule == "consensus":
        coders = tables.coders
        if settings.consensus_coder not in coders:
            raise ParamsError(f"`qualitative.consensus_coder` must be one of the coders in the codings "
                              f"({', '.join(coders) or 'none'}); got {settings.consensus_coder!r}",
                              key="qualitative.consensus_coder")
        mine = valid_codings(tables)
        mine = mine.loc[mine["coder"] == settings.consensus_coder, ["excerpt_id", "code"]]
        keep = votes.merge(mine, on=["excerpt_id", "code"])
    elif rule == "any":
        keep = votes[votes["n_applied"] >= 1]
    elif rule == "all":
        keep = votes[(votes["n_applied"] >= 1) & (votes["n_applied"] == votes["n_coders"])]
    else:  # majority: more than half of the coders who reviewed the excerpt
        keep = votes[votes["n_applied"] * 2 > votes["n_coders"]]
    ex = tables.excerpts[["excerpt_id", "source_id", "team_id", "text", "exemplar"]]
    src = tables.sources[["source_id", "phase", "kind"]].drop_duplicates("source_id")
    out = (keep.merge(tables.codebook[["code", "theme"]].drop_duplicates("code"), on="code")
           .merge(ex, on="excerpt_id", how="left").merge(src, on="source_id", how="left"))
    out["track"] = out["team_id"].map(_team_attribute(tables, "track"))
    return out[columns].sort_values(["excerpt_id", "code"], kind="stable").reset_index(drop=True)


def _team_attribute(tables: QualitativeTables, column: str) -> pd.Series:
    teams = tables.teams
    if teams is None or column not in teams.columns:
        return pd.Series(dtype=object)
    return teams.drop_duplicates("team_id").set_index("team_id")[column]


# --- theme table -----------------------------------------------------------------------------------

class _Screen:
    """The identifier screen as the theme table applies it: findings per excerpt (each text screened once)."""

    def __init__(self, settings: CodingSettings) -> None:
        self.approved = set(settings.approved_quotes)
        self.deny_terms = settings.deny_terms
        self._seen: dict = {}

    def findings(self, excerpt_id, text) -> list[identifiers.Finding]:
        if excerpt_id not in self._seen:
            self._seen[excerpt_id] = identifiers.screen_quote(text, self.deny_terms)
        return self._seen[excerpt_id]

    def cleared(self, excerpt_id) -> bool:
        return str(excerpt_id) in self.approved


def _ranked(rows: pd.DataFrame) -> pd.DataFrame:
    """Candidate exemplars, best first: flagged as exemplar; applied by the most coders (the clearest
    instance); about this code alone (fewest other codes); spoken by a team member; then by excerpt id."""
    ranked = rows.assign(_flag=-rows["exemplar"].fillna(0).astype(int), _agree=-rows["n_applied"],
                         _others=rows["n_codes"], _noteam=rows["team_id"].isna().astype(int))
    return ranked.sort_values(["_flag", "_agree", "_others", "_noteam", "excerpt_id"], kind="stable")


def _pick_exemplar(rows: pd.DataFrame, screen: _Screen) -> tuple[pd.Series | None, list, str | None]:
    """The exemplar quote among ``rows`` (excerpts): the best ranked (see :func:`_ranked`) that the identifier
    screen passes or the evaluator cleared; with the quotes passed over (row, findings) and a note saying
    what the screen did (None when it held nothing back)."""
    if rows.empty:
        return None, [], None
    held = []
    for _, row in _ranked(rows).iterrows():
        found = screen.findings(row["excerpt_id"], row["text"])
        if not found or screen.cleared(row["excerpt_id"]):
            notes = [f"{len(held)} better-ranked quote{'s' if len(held) > 1 else ''} held back by the identifier "
                     "screen"] if held else []
            if found:
                notes.append("cleared by the evaluator (qualitative.approved_quotes) although the screen found "
                             + ", ".join(dict.fromkeys(f.kind for f in found)))
            return row, held, "; ".join(notes) or None
        held.append((row, found))
    which = "the only quote" if len(held) == 1 else f"all {len(held)} quotes"
    return None, held, (f"{NO_QUOTE_CLEARED}: the identifier screen held back {which} "
                        "(see tables/quotes_held_back.csv)")


def _theme_rows(tables: QualitativeTables, settings: CodingSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The theme table and the quotes its exemplar picks passed over (:data:`HELD_BACK_COLUMNS`)."""
    counted = counted_codings(tables, settings)
    teams_total = tables.excerpts["team_id"].dropna().nunique()
    n_codes = counted.groupby("excerpt_id")["code"].nunique()
    counted = counted.assign(n_codes=counted["excerpt_id"].map(n_codes))
    screen = _Screen(settings)
    rows, held = [], []
    book = tables.codebook.dropna(subset=["code"]).drop_duplicates("code")
    for theme, codes in book.groupby("theme", sort=False, dropna=False):
        in_theme = counted[counted["theme"] == theme]
        per_excerpt = (in_theme.sort_values("n_applied", ascending=False, kind="stable")
                       .drop_duplicates("excerpt_id"))
        subsets = [(THEME_ROW, per_excerpt)] + [(c, in_theme[in_theme["code"] == c]) for c in codes["code"]]
        for code, subset in subsets:
            row, passed_over = _theme_row(theme, code, subset, teams_total, screen)
            rows.append(row)
            held += [_held_row(theme, code, r, found) for r, found in passed_over]
    table = pd.DataFrame(rows, columns=THEME_COLUMNS)
    held = pd.DataFrame(held, columns=HELD_BACK_COLUMNS)
    if table.empty:
        return table, held
    theme_size = table[table["code"] == THEME_ROW].set_index("theme")["n_excerpts"]
    table["_theme_n"] = table["theme"].map(theme_size)
    table["_is_code"] = (table["code"] != THEME_ROW).astype(int)
    table = table.sort_values(["_theme_n", "theme", "_is_code", "n_excerpts", "code"],
                              ascending=[False, True, True, False, True], kind="stable")
    table = table.drop(columns=["_theme_n", "_is_code"]).reset_index(drop=True)
    order = {key: i for i, key in enumerate(zip(table["theme"], table["code"]))}
    held["_order"] = [order[key] for key in zip(held["theme"], held["code"])]
    held = held.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    return table, held


def theme_table(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """Themes and codes with excerpts, teams that voiced them and an exemplar quote (the seeds' Tables 1-2).

    One row per theme (``code`` = ``all``: excerpts with any of its codes) followed by one row per code.
    ``pct_teams`` is the share of the teams that spoke in any focus group or interview; excerpts without a
    team count toward ``n_excerpts`` but voice no team. Codes that count for no excerpt are listed with 0.
    Themes are ordered by excerpts (most first), codes likewise within their theme. The exemplar is the
    best-ranked quote the identifier screen passes (or the evaluator cleared); when none does, it is empty
    and ``exemplar_note`` says "no quote cleared for funders".
    """
    return _theme_rows(tables, settings)[0]


def held_back_quotes(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """The quotes the identifier screen kept out of the theme table, for the evaluator to read.

    One row per quote and theme-table row (theme, code) it would have illustrated, in the theme table's
    order: what the screen found (``kinds``; ``found``: kind and matched text) and how to clear it after
    reading it (``approve``). Empty when nothing was held back. An analysts' table: it holds the identifiers
    it found, so it never goes to a funder.
    """
    return _theme_rows(tables, settings)[1]


def _held_row(theme: str, code: str, row: pd.Series, found: list[identifiers.Finding]) -> dict:
    return {"excerpt_id": row["excerpt_id"], "team_id": None if pd.isna(row["team_id"]) else row["team_id"],
            "theme": theme, "code": code, "kinds": ", ".join(dict.fromkeys(f.kind for f in found)),
            "found": identifiers.describe(found),
            "approve": f"add {row['excerpt_id']} to qualitative.approved_quotes"}


def _theme_row(theme: str, code: str, rows: pd.DataFrame, teams_total: int, screen: _Screen) -> tuple[dict, list]:
    n_teams = rows["team_id"].dropna().nunique()
    pick, held, note = _pick_exemplar(rows, screen)
    return {
        "theme": theme, "code": code, "n_excerpts": int(rows["excerpt_id"].nunique()), "n_teams": int(n_teams),
        "pct_teams": 100.0 * n_teams / teams_total if teams_total else np.nan,
        "exemplar": None if pick is None else pick["text"],
        "exemplar_id": None if pick is None else pick["excerpt_id"],
        "exemplar_team": None if pick is None or pd.isna(pick["team_id"]) else pick["team_id"],
        "exemplar_note": note,
    }, held


def codebook_table(tables: QualitativeTables) -> pd.DataFrame:
    """The codebook with, per code, how many excerpts each coder applied it to (raw codings, any rule)."""
    codings = valid_codings(tables)
    counts = codings.pivot_table(index="code", columns="coder", values="excerpt_id", aggfunc="nunique", fill_value=0)
    counts.columns = [f"applied_by_{c}" for c in counts.columns]
    book = tables.codebook.drop_duplicates("code")[["theme", "code", "definition"]]
    out = book.merge(counts, left_on="code", right_index=True, how="left")
    applied_cols = [c for c in out.columns if c.startswith("applied_by_")]
    out[applied_cols] = out[applied_cols].fillna(0).astype(int)
    return out.reset_index(drop=True)


# --- presence by team and track, co-occurrence, phases ----------------------------------------------

def _theme_order(tables: QualitativeTables, counted: pd.DataFrame) -> list[str]:
    """Themes by number of excerpts (most first), then name: the order every table and figure uses."""
    themes = tables.codebook["theme"].dropna().unique()
    size = counted.drop_duplicates(["excerpt_id", "theme"])["theme"].value_counts()
    return sorted(themes, key=lambda t: (-int(size.get(t, 0)), t))


def theme_presence(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """Per team and theme: excerpts in which the team's members voiced the theme (every cohort team listed).

    ``spoke`` says whether the team had any excerpt at all: a team that took part in no focus group or
    interview cannot voice a theme, which is not the same as not raising it.
    """
    counted = counted_codings(tables, settings)
    themes = _theme_order(tables, counted)
    teams = tables.teams.drop_duplicates("team_id") if len(tables.teams) else pd.DataFrame(columns=["team_id"])
    team_ids = sorted(set(teams["team_id"].dropna()) | set(tables.excerpts["team_id"].dropna()))
    grid = pd.MultiIndex.from_product([team_ids, themes], names=["team_id", "theme"]).to_frame(index=False)
    counts = (counted.dropna(subset=["team_id"]).drop_duplicates(["excerpt_id", "theme"])
              .groupby(["team_id", "theme"]).size().rename("n_excerpts").reset_index())
    out = grid.merge(counts, on=["team_id", "theme"], how="left")
    out["n_excerpts"] = out["n_excerpts"].fillna(0).astype(int)
    out["voiced"] = out["n_excerpts"] > 0
    out["spoke"] = out["team_id"].isin(set(tables.excerpts["team_id"].dropna()))
    out["team_name"] = out["team_id"].map(_team_attribute(tables, "team_name"))
    out["track"] = out["team_id"].map(_team_attribute(tables, "track"))
    out["_theme"] = out["theme"].map({t: i for i, t in enumerate(themes)})
    out = out.sort_values(["track", "team_id", "_theme"], kind="stable", na_position="last")
    return out[["team_id", "team_name", "track", "theme", "n_excerpts", "voiced", "spoke"]].reset_index(drop=True)


def presence_teams(presence: pd.DataFrame, n: int = TEAMS_SHOWN) -> list[str]:
    """The teams the theme-by-team heatmap draws, in the table's order (by track, then team): every team when
    there are at most ``n``; else the ``n`` with the most excerpts over all themes (ties by team id)."""
    teams = list(dict.fromkeys(presence["team_id"]))
    if len(teams) <= n:
        return teams
    excerpts = presence.groupby("team_id", sort=False)["n_excerpts"].sum().reindex(teams)
    ranked = pd.DataFrame({"team_id": teams, "n": excerpts.to_numpy()}).sort_values(
        ["n", "team_id"], ascending=[False, True], kind="stable")
    chosen = set(ranked["team_id"].iloc[:n])
    return [t for t in teams if t in chosen]


def theme_by_track(presence: pd.DataFrame) -> pd.DataFrame:
    """Per theme: teams that voiced it, overall (``group = all``) and per track, among teams that spoke."""
    spoke = presence[presence["spoke"]]
    groups = [("all", spoke)]
    if "track" in spoke.columns and spoke["track"].notna().any():
        groups += [(f"track={t}", g) for t, g in spoke.groupby("track", sort=True)]
    rows = []
    themes = list(dict.fromkeys(presence["theme"]))
    for theme in themes:
        for label, g in groups:
            g = g[g["theme"] == theme]
            total, voiced = g["team_id"].nunique(), int(g.loc[g["voiced"], "team_id"].nunique())
            rows.append({"theme": theme, "group": label, "n_teams": voiced, "teams_total": total,
                         "pct_teams": 100.0 * voiced / total if total else np.nan})
    return pd.DataFrame(rows, columns=["theme", "group", "n_teams", "teams_total", "pct_teams"])


def code_cooccurrence(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """Pairs of codes that count on the same excerpt: every ordered pair of codebook codes, diagonal included.

    ``n_excerpts`` is the number of excerpts with both codes (on the diagonal: with the code);
    ``jaccard`` = excerpts with both / excerpts with either.
    """
    counted_all = counted_codings(tables, settings)
    counted = counted_all[["excerpt_id", "code"]].drop_duplicates()
    book = tables.codebook.dropna(subset=["code"]).drop_duplicates("code")
    order = [c for t in _theme_order(tables, counted_all) for c in book.loc[book["theme"] == t, "code"]]
    pairs = counted.merge(counted, on="excerpt_id", suffixes=("_a", "_b"))
    both = pairs.groupby(["code_a", "code_b"]).size()
    size = counted["code"].value_counts()
    grid = pd.MultiIndex.from_product([order, order], names=["code_a", "code_b"]).to_frame(index=False)
    grid["n_excerpts"] = [int(both.get((a, b), 0)) for a, b in zip(grid["code_a"], grid["code_b"])]
    either = grid["code_a"].map(size).fillna(0) + grid["code_b"].map(size).fillna(0) - grid["n_excerpts"]
    diagonal = grid["code_a"] == grid["code_b"]
    either = either.where(~diagonal, grid["n_excerpts"])
    grid["jaccard"] = (grid["n_excerpts"] / either.where(either > 0)).astype(float)
    theme = book.set_index("code")["theme"]
    grid.insert(1, "theme_a", grid["code_a"].map(theme))
    grid.insert(3, "theme_b", grid["code_b"].map(theme))
    return grid


def phase_comparison(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """Mid-cycle focus groups vs end-of-cycle interviews: per theme and phase, excerpts and teams voicing it.

    ``pct_excerpts`` is the share of that phase's excerpts that voice the theme, so phases with different
    amounts of talk compare fairly; ``pct_teams`` is the share of teams that spoke in that phase.
    """
    counted = counted_codings(tables, settings)
    themes = _theme_order(tables, counted)
    ex = tables.excerpts.merge(tables.sources[["source_id", "phase"]].drop_duplicates("source_id"), on="source_id",
                               how="left")
    phases = [p for p in PHASE_LABELS if p in set(ex["phase"].dropna())]
    rows = []
    for theme in themes:
        hits = counted[counted["theme"] == theme].drop_duplicates("excerpt_id")
        for phase in phases:
            in_phase = ex[ex["phase"] == phase]
            h = hits[hits["phase"] == phase]
            n_ex, total = h["excerpt_id"].nunique(), in_phase["excerpt_id"].nunique()
            teams, teams_total = h["team_id"].dropna().nunique(), in_phase["team_id"].dropna().nunique()
            rows.append({"theme": theme, "phase": phase, "n_excerpts": int(n_ex), "phase_excerpts": int(total),
                         "pct_excerpts": 100.0 * n_ex / total if total else np.nan, "n_teams": int(teams),
                         "phase_teams": int(teams_total),
                         "pct_teams": 100.0 * teams / teams_total if teams_total else np.nan})
    return pd.DataFrame(rows, columns=["theme", "phase", "n_excerpts", "phase_excerpts", "pct_excerpts", "n_teams",
                                       "phase_teams", "pct_teams"])


# --- inter-rater reliability ------------------------------------------------------------------------

def cohen_kappa(a, b) -> tuple[float, str | None]:
    """Cohen's (1960) kappa for two coders' labels of the same units, and why it is undefined (else None).

    kappa = (po - pe) / (1 - pe): po the share of units on which they agree, pe = sum over categories of
    the product of the two coders' shares of that category. Written out (not statsmodels) because pe = 1,
    when both coders used one and the same category throughout, must be reported, not divided by.
    """
    a, b = np.asarray(a), np.asarray(b)
    if len(a) != len(b):
        raise ValueError(f"the two coders must label the same units; got {len(a)} and {len(b)} labels")
    if len(a) == 0:
        return np.nan, "no excerpt was coded by both coders"
    po = float(np.mean(a == b))
    categories = np.union1d(a, b)
    pe = float(sum(np.mean(a == c) * np.mean(b == c) for c in categories))
    if np.isclose(pe, 1.0):
        only = categories[0]
        who = "no coder applied this code" if only == 0 else (
            "every coder applied this code to every excerpt" if only == 1 else f"both coders gave every unit {only!r}")
        return np.nan, f"{who}, so chance agreement is 1 and kappa is 0/0"
    return (po - pe) / (1.0 - pe), None


def krippendorff_alpha_nominal(reliability_data) -> float:
    """Krippendorff's alpha, nominal, for a coders x units matrix (NaN = missing); NaN when undefined.

    Computed by the ``krippendorff`` package. Alpha is undefined (NaN) when fewer than two values can be
    paired or when every pairable value is the same (no variation: expected disagreement is 0).
    """
    data = np.asarray(reliability_data, dtype=float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = np.unique(data[:, pairable][~np.isnan(data[:, pairable])])
    if len(values) < 2:
        return np.nan
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _alpha_from_counts(value_counts: np.ndarray) -> float:
    """Nominal alpha from a units x values count matrix (units with one value only are ignored by alpha)."""
    pairable = value_counts[value_counts.sum(axis=1) >= 2]
    if len(pairable) == 0 or (pairable.sum(axis=0) > 0).sum() < 2:
        return np.nan
    return float(krippendorff.alpha(value_counts=pairable, level_of_measurement="nominal"))


def _bootstrap_alphas(counts: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Nominal alpha of ``n_boot`` resamples of excerpts (with all their codes), all at once.

    ``counts`` is excerpts x codes x 2 (decisions 0 and 1 per unit). For two values alpha is
    1 - (n - 1) o01 / (n0 n1) over pairable units (two or more decisions), with o01 = sum n_u0 n_u1 / (m_u - 1)
    the disagreeing pairs (Krippendorff 2011, "Computing Krippendorff's alpha-reliability", nominal data);
    a resample's totals are its excerpts' totals times how often each was drawn, so 1,000 resamples are one
    matrix product instead of 1,000 calls. The draws are the loop's (``rng.integers(0, E, E)`` per resample).
    """
    n_excerpts = counts.shape[0]
    m = counts.sum(axis=2)
    pairable = m >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        disagree = np.where(pairable, counts[..., 0] * counts[..., 1] / (m - 1), 0.0).sum(axis=1)
    zeros = np.where(pairable, counts[..., 0], 0).sum(axis=1)
    ones = np.where(pairable, counts[..., 1], 0).sum(axis=1)
    drawn = rng.integers(0, n_excerpts, (n_boot, n_excerpts))
    cell = (np.arange(n_boot)[:, None] * n_excerpts + drawn).ravel()
    times = np.bincount(cell, minlength=n_boot * n_excerpts).reshape(n_boot, n_excerpts).astype(float)
    o01, n0, n1 = times @ disagree, times @ zeros, times @ ones
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1 - (n0 + n1 - 1) * o01 / (n0 * n1)
    return np.where((n0 > 0) & (n1 > 0), alpha, np.nan)


def landis_koch(kappa: float) -> str:
    """Landis & Koch (1977) label for a kappa: poor (< 0), slight, fair, moderate, substantial, almost perfect."""
    if kappa is None or not np.isfinite(kappa):
        return "not computable"
    if kappa < 0:
        return "poor"
    return next(label for upper, label in LANDIS_KOCH[1:] if kappa <= upper)


def alpha_verdict(alpha: float) -> str:
    """Krippendorff's (2004) reading of alpha: reliable (>= .800), tentative (>= .667) or unreliable."""
    if alpha is None or not np.isfinite(alpha):
        return "not computable"
    return "reliable" if alpha >= ALPHA_RELIABLE else "tentative" if alpha >= ALPHA_TENTATIVE else "unreliable"


def _reliability(cube: np.ndarray, rng: np.random.Generator, n_boot: int, level: float) -> dict:
    """Agreement statistics for a coders x excerpts x codes cube of 1/0 decisions (NaN = not reviewed).

    Units are (excerpt, code) pairs; the bootstrap resamples excerpts (with all their codes) with
    replacement and takes the percentile interval of alpha.
    """
    n_coders, n_excerpts, n_codes = cube.shape
    units = cube.reshape(n_coders, -1)
    reviewed = ~np.isnan(units)
    agree = np.nanmin(units, axis=0) == np.nanmax(units, axis=0)  # every unit has two or more decisions
    kappas, reasons = [], []
    for i, j in itertools.combinations(range(n_coders), 2):
        both = reviewed[i] & reviewed[j]
        if not both.any():
            continue
        k, why = cohen_kappa(units[i, both], units[j, both])
        if why:
            reasons.append(why)
        else:
            kappas.append(k)
    n_pairs = len(kappas) + len(reasons)
    notes = []
    kappa = float(np.mean(kappas)) if kappas else np.nan
    if not kappas:
        notes.append("kappa not computable: " + (reasons[0] if reasons else "no pair of coders read the same excerpt"))
    elif reasons:
        notes.append(f"kappa is the mean over the {len(kappas)} of {n_pairs} coder pairs where it is defined")
    elif n_pairs > 1:
        notes.append(f"kappa is the mean of Cohen's kappa over {n_pairs} coder pairs")
    counts = np.stack([(cube == 0).sum(axis=0), (cube == 1).sum(axis=0)], axis=-1)  # excerpts x codes x 2
    alpha = _alpha_from_counts(counts.reshape(-1, 2))
    low = high = np.nan
    if np.isnan(alpha):
        notes.append("alpha not computable: every coder made the same decision on every excerpt (no variation)")
    elif n_boot > 0:
        draws = _bootstrap_alphas(counts, rng, n_boot)
        draws = draws[~np.isnan(draws)]
        if len(draws):
            low, high = (float(v) for v in np.quantile(draws, [level / 2, 1 - level / 2]))
        if len(draws) < n_boot:
            notes.append(f"{n_boot - len(draws)} of {n_boot} bootstrap samples had no variation and were dropped")
    return {"n_excerpts": n_excerpts, "n_coders": n_coders,
            "percent_agreement": 100.0 * float(agree.mean()) if len(agree) else np.nan,
            "cohen_kappa": kappa, "krippendorff_alpha": alpha, "alpha_ci_low": low, "alpha_ci_high": high,
            "note": "; ".join(notes) or None}


@dataclass
class ReliabilityResult:
    """Inter-rater reliability per code and overall; ``summary`` is the table, ``note`` says what was skipped."""

    summary: pd.DataFrame
    coders: list[str]
    settings: CodingSettings
    note: str | None = None
    method: str = field(default="")

    @property
    def computable(self) -> bool:
        return self.note is None and len(self.summary) > 0

    def _header(self) -> str:
        return self.note or self.method

    def __repr__(self) -> str:
        return f"{self._header()}\n{self.summary.to_string(index=False)}"

    def _repr_html_(self) -> str:
        import html
        return f"<p>{html.escape(self._header())}</p>" + self.summary.to_html(index=False, na_rep="")


def inter_rater_reliability(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> ReliabilityResult:
    """Per code, over excerpts reviewed by two or more coders: agreement, Cohen's kappa, Krippendorff's alpha.

    Each code is a yes/no decision per excerpt and coder (``decisions``). The last row, ``overall``, pools
    every (excerpt, code) decision. With a single coder, or no excerpt read by two coders, nothing is
    computed and ``note`` says why. A code nobody (or everybody) applied gets NaN with the reason in ``note``.
    Under ``code_rule: consensus`` the consensus coder is left out: it reconciles the others' codings.
    """
    empty = pd.DataFrame(columns=IRR_COLUMNS)
    if settings.code_rule == "consensus":  # the consensus coder reconciles the others: not an independent rater
        tables = dataclasses.replace(tables, codings=tables.codings[tables.codings["coder"] != settings.consensus_coder])
    coders = tables.coders
    if not tables.ok:
        return ReliabilityResult(empty, coders, settings, note=tables.note)
    if len(coders) < 2:
        who = f"only one coder ({coders[0]})" if coders else "no coder"
        return ReliabilityResult(empty, coders, settings,
                                 note=f"Inter-rater reliability skipped: {who} coded the excerpts; it needs two or more.")
    d = decisions(tables, settings.coder_scope)
    n_reviewers = d.drop_duplicates(["excerpt_id", "coder"]).groupby("excerpt_id").size()
    shared = sorted(n_reviewers[n_reviewers >= 2].index)
    if not shared:
        return ReliabilityResult(empty, coders, settings,
                                 note="Inter-rater reliability skipped: no excerpt was coded by two or more coders.")
    d = d[d["excerpt_id"].isin(shared)]
    book = tables.codebook.dropna(subset=["code"]).drop_duplicates("code")
    codes = list(book["code"])
    cube = np.full((len(coders), len(shared), len(codes)), np.nan)
    coder_at = {c: i for i, c in enumerate(coders)}
    excerpt_at = {e: j for j, e in enumerate(shared)}
    code_at = {c: k for k, c in enumerate(codes)}
    cube[d["coder"].map(coder_at), d["excerpt_id"].map(excerpt_at), d["code"].map(code_at)] = d["applied"]
    used = ~np.all(np.isnan(cube), axis=(1, 2))
    cube, active = cube[used], [c for c, u in zip(coders, used) if u]
    level = settings.alpha
    rows = []
    theme = book.set_index("code")["theme"]
    for k, code in enumerate(codes):
        rng = np.random.default_rng([settings.seed, zlib.crc32(code.encode("utf-8"))])
        stats = _reliability(cube[:, :, [k]], rng, settings.bootstrap_samples, level)
        rows.append({"code": code, "theme": theme[code], **stats})
    rng = np.random.default_rng([settings.seed, zlib.crc32(OVERALL.encode("utf-8"))])
    rows.append({"code": OVERALL, "theme": THEME_ROW, **_reliability(cube, rng, settings.bootstrap_samples, level)})
    table = pd.DataFrame(rows)
    table["landis_koch"] = table["cohen_kappa"].map(landis_koch)
    table["alpha_verdict"] = table["krippendorff_alpha"].map(alpha_verdict)
    pct = round(100 * (1 - level))
    method = (f"{len(active)} coders ({', '.join(active)}) on the {len(shared)} excerpts two or more of them read; "
              f"each coder's own decisions are compared (the code rule is not applied). Alpha CI: {pct}% percentile "
              f"bootstrap over excerpts, {settings.bootstrap_samples} samples, seed {settings.seed}.")
    if settings.code_rule == "consensus":
        method += f" The consensus coder ({settings.consensus_coder}) reconciles the others and is left out."
    return ReliabilityResult(table[IRR_COLUMNS], active, settings, method=method)


# --- captions and alt text (computed from the data) ---------------------------------------------------

def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def presence_text(presence: pd.DataFrame) -> dict[str, str]:
    """Title, caption and alt text for the theme-by-team heatmap."""
    spoke = presence[presence["spoke"]]
    teams, total = spoke["team_id"].nunique(), presence["team_id"].nunique()
    per_theme = spoke[spoke["voiced"]].groupby("theme")["team_id"].nunique().reindex(presence["theme"].unique(),
                                                                                      fill_value=0)
    lo, hi = (int(per_theme.min()), int(per_theme.max())) if len(per_theme) else (0, 0)
    top = per_theme.sort_values(ascending=False, kind="stable")
    if not hi:
        lead = "no theme was voiced"
    elif lo == hi:
        lead = f"every theme was voiced by {hi} of the {teams} teams that spoke"
    else:
        lead = f"themes were voiced by {lo} to {hi} of the {teams} teams that spoke, '{top.index[0]}' by the most"
    shown = presence_teams(presence)
    note, rows = "", f"one row per team ({total}, grouped by track)"
    if len(shown) < total:
        note = (f" Shown: the {len(shown)} of {total:,} teams with the most excerpts; every team is in "
                "tables/themes_by_team.csv.")
        rows = f"one row for each of the {len(shown)} of {total:,} teams with the most excerpts (grouped by track)"
    return {
        "title": "Themes voiced by each team",
        "caption": f"Excerpts per team and theme. {teams} of {total} teams spoke in a focus group or interview; {lead}.{note}",
        "alt_text": (f"Heatmap with {rows} and one column per theme "
                     f"({presence['theme'].nunique()}); each cell gives the number of excerpts in which the team voiced "
                     f"the theme, darker for more. {lead}."),
    }


def track_text(by_track: pd.DataFrame) -> dict[str, str]:
    """Title, caption and alt text for the theme-by-track heatmap."""
    overall = by_track[by_track["group"] == "all"]
    groups = [g for g in by_track["group"].unique() if g != "all"]
    top = overall.sort_values(["pct_teams", "theme"], ascending=[False, True], kind="stable").head(1)
    lead = (f"'{top['theme'].iloc[0]}' was voiced by {int(top['n_teams'].iloc[0])} of {int(top['teams_total'].iloc[0])} "
            f"teams" if len(top) else "no theme was voiced")
    return {
        "title": "Share of teams voicing each theme, by track",
        "caption": f"Percent of the teams that spoke who voiced each theme, all teams and by track. {lead}.",
        "alt_text": (f"Heatmap with one row per theme and one column per group (all teams, {', '.join(groups) or 'no tracks'}); "
                     f"each cell gives the percent of teams voicing the theme. {lead}."),
    }


def cooccurrence_text(co: pd.DataFrame) -> dict[str, str]:
    """Title, caption and alt text for the code co-occurrence heatmap."""
    off = co[co["code_a"] < co["code_b"]].sort_values(["n_excerpts", "code_a", "code_b"],
                                                       ascending=[False, True, True], kind="stable")
    lead = (f"the most frequent pair is '{off['code_a'].iloc[0]}' with '{off['code_b'].iloc[0]}' "
            f"({int(off['n_excerpts'].iloc[0])} excerpts)" if len(off) and off["n_excerpts"].iloc[0] > 0
            else "no two codes share an excerpt")
    return {
        "title": "Codes applied to the same excerpt",
        "caption": f"Excerpts on which both codes count; the diagonal gives each code's excerpts. {_sentence(lead)}.",
        "alt_text": (f"Lower-triangle heatmap of {co['code_a'].nunique()} codes by the same codes, grouped by theme; "
                     f"each cell gives the number of excerpts with both codes. {_sentence(lead)}."),
    }


def phase_text(phases: pd.DataFrame) -> dict[str, str]:
    """Title, caption and alt text for the mid- vs end-of-cycle chart."""
    wide = phases.pivot_table(index="theme", columns="phase", values="pct_excerpts")
    if {"mid_cycle", "end_of_cycle"} <= set(wide.columns) and len(wide):
        diff = (wide["end_of_cycle"] - wide["mid_cycle"]).sort_values(kind="stable")
        rise, fall = diff.index[-1], diff.index[0]
        lead = (f"'{rise}' rose most ({wide.at[rise, 'mid_cycle']:.0f}% to {wide.at[rise, 'end_of_cycle']:.0f}% of "
                f"excerpts) and '{fall}' fell most ({wide.at[fall, 'mid_cycle']:.0f}% to "
                f"{wide.at[fall, 'end_of_cycle']:.0f}%)")
    else:
        lead = "only one phase has excerpts, so there is nothing to compare"
    return {
        "title": "Themes at mid-cycle and at the end of the cycle",
        "caption": f"Percent of each phase's excerpts that voice each theme. From mid-cycle to the end, {lead}.",
        "alt_text": (f"Horizontal grouped bar chart, one group per theme ({phases['theme'].nunique()}), one bar per "
                     f"phase, giving the percent of that phase's excerpts voicing the theme. {_sentence(lead)}."),
    }


def irr_text(irr: ReliabilityResult) -> dict[str, str]:
    """Title, caption and alt text for the reliability chart."""
    t = irr.summary
    per_code = t[t["code"] != OVERALL]
    overall = t[t["code"] == OVERALL].iloc[0]
    reliable = int((per_code["alpha_verdict"] == "reliable").sum())
    undefined = int(per_code["krippendorff_alpha"].isna().sum())
    pct = round(100 * (1 - irr.settings.alpha))
    lead = (f"{reliable} of {len(per_code)} codes reach alpha >= {ALPHA_RELIABLE:.3f}; overall alpha "
            f"{overall['krippendorff_alpha']:.2f} and kappa {overall['cohen_kappa']:.2f} ({overall['landis_koch']})")
    extra = f"; {undefined} codes are not computable" if undefined else ""
    return {
        "title": "Inter-rater reliability by code",
        "caption": (f"Krippendorff's alpha (nominal) with {pct}% bootstrap CI, and Cohen's kappa, per code, "
                    f"{len(irr.coders)} coders. {lead}{extra}."),
        "alt_text": (f"Dot plot with one row per code: alpha as a dot with a horizontal CI line and kappa as a "
                     f"diamond, with reference lines at {ALPHA_TENTATIVE} and {ALPHA_RELIABLE}. {lead}{extra}."),
    }
