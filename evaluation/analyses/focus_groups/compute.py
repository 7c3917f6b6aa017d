"""Focus-group and interview coding: which codings count, the theme table with its exemplar quotes, theme
presence by team, track and phase, and code co-occurrence (notebook 02; reliability is in :mod:`.reliability`).

The input is the qualitative tables of the data contract (sources, excerpts, codings, codebook), read
from the cohort's CSVs or from a REFI-QDA project (``params.qualitative.qdpx``; see
:mod:`evaluation.data.refi_qda`). Three ideas run through the module:

* **Who reviewed an excerpt.** The codings table lists only the codes a coder applied, so "coder B did not
  apply code X to excerpt 7" needs to know that B read excerpt 7. With ``coder_scope: source`` (the
  default) a coder who applied any code in a transcript is taken to have read all of it, as coders work
  through whole transcripts; with ``coder_scope: excerpt`` only the excerpts a coder applied some code to.
* **Which codings count** for the theme tables is ``code_rule``: a code counts on an excerpt when *any*
  coder who reviewed it applied it, *all* did, a *majority* (more than half) did, or the named *consensus*
  coder did.
* **Which quotes may reach a funder.** An exemplar quote goes into the theme table, and from there into
  ``funder/themes.csv``, the performance story and the DOCX, so a quote in which the identifier screen
  (:mod:`evaluation.core.identifiers`) finds a name, a date, a phone or record number or a
  ``qualitative.deny_terms`` word is passed over for the next best quote, unless the evaluator cleared its
  ``excerpt_id`` in ``qualitative.approved_quotes``. :func:`held_back_quotes` lists what was passed over and
  how to clear it.
"""

from __future__ import annotations
import dataclasses
from dataclasses import dataclass
from pathlib import Path
import numpy as np
import pandas as pd
from evaluation.core.errors import ParamsError
from evaluation.core.groups import TeamCap, first
from evaluation.core.identifiers import Finding, describe, screen_quote
from evaluation.core.params import Params
from evaluation.core.problems import QUALITY_COLUMNS
from evaluation.core.schema import CODE_RULES, CODER_SCOPES
from evaluation.data.cohort import Cohort
from evaluation.data.qualitative import QUALITATIVE_TABLES, QualitativeTables
from evaluation.data.refi_qda import read_qdpx
from evaluation.data.refi_qda_writer import export_qdpx

THEME_ROW = "all"  # the `code` of a theme's own row in the theme table (the project's `group = all` habit)
PHASE_LABELS = {"mid_cycle": "Mid-cycle focus groups", "end_of_cycle": "End-of-cycle interviews"}

# The theme-by-team heatmap draws at most this many teams (about a third of an inch a row: 30 rows fill a page).
# A statewide cohort has 1,000 teams, most of which took part in no focus group; the figure then draws the
# teams with the most excerpts and its caption says so; tables/themes_by_team.csv keeps every team.
TEAMS_SHOWN = 30

THEME_COLUMNS = ["theme", "code", "n_excerpts", "n_teams", "pct_teams", "exemplar", "exemplar_id", "exemplar_team",
                 "exemplar_note"]
HELD_BACK_COLUMNS = ["excerpt_id", "team_id", "theme", "code", "kinds", "found", "approve"]
NO_QUOTE_CLEARED = "no quote cleared for funders"


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
    min_coder_excerpts: int = 10  # a coder who read fewer shared excerpts gets a warning in the reliability

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
        """The settings of ``params.qualitative``, with the cohort's seed and alpha for the bootstrap."""
        q = params.qualitative
        return cls(code_rule=q.get("code_rule", "any"), consensus_coder=q.get("consensus_coder"),
                   coder_scope=q.get("coder_scope", "source"), bootstrap_samples=q.get("bootstrap_samples", 1000),
                   seed=params.seed, alpha=params.alpha, approved_quotes=tuple(q.get("approved_quotes") or ()),
                   deny_terms=tuple(q.get("deny_terms") or ()), min_coder_excerpts=q.get("min_coder_excerpts", 10))

    def describe(self) -> str:
        """The code rule in words, for the notebook's overview table."""
        rule = {"any": "any coder applied it", "all": "every coder who read the excerpt applied it",
                "majority": "more than half of the coders who read the excerpt applied it",
                "consensus": f"the consensus coder ({self.consensus_coder}) applied it"}[self.code_rule]
        return f"a code counts on an excerpt when {rule}"


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
    """A column of the teams table by team id (empty when the teams table lacks it)."""
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

    def findings(self, excerpt_id, text) -> list[Finding]:
        if excerpt_id not in self._seen:
            self._seen[excerpt_id] = screen_quote(text, self.deny_terms)
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


def _held_row(theme: str, code: str, row: pd.Series, found: list[Finding]) -> dict:
    return {"excerpt_id": row["excerpt_id"], "team_id": None if pd.isna(row["team_id"]) else row["team_id"],
            "theme": theme, "code": code, "kinds": ", ".join(dict.fromkeys(f.kind for f in found)),
            "found": describe(found),
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


def presence_teams(presence: pd.DataFrame, n: int = TEAMS_SHOWN) -> TeamCap:
    """The teams the theme-by-team heatmap draws, in the table's order (by track, then team): every team when
    there are at most ``n``; else the ``n`` with the most excerpts over all themes (ties by team id)."""
    teams = list(dict.fromkeys(presence["team_id"]))
    excerpts = presence.groupby("team_id", sort=False)["n_excerpts"].sum().reindex(teams)
    ranked = pd.DataFrame({"team_id": teams, "n": excerpts.to_numpy()}).sort_values(
        ["n", "team_id"], ascending=[False, True], kind="stable")
    cap = first(list(ranked["team_id"]), n, rule="those with the most excerpts")
    chosen = set(cap.teams)
    return dataclasses.replace(cap, teams=[t for t in teams if t in chosen])


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
