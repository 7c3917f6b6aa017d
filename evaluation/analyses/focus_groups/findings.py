"""The report's sentences on what teams said, read from the saved theme table (tables/themes.csv), so the
report only quotes what the theme table let through the identifier screen; and the section's headline."""

from __future__ import annotations
from evaluation.analyses.wording import HeadlineText
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import not_analysed


THEMES_FIGURE = "qualitative_theme_presence_team"  # excerpts per team and theme


def _top_themes(params: Params, k: int = 3):
    """The whole cohort's ``k`` themes with the most excerpts (None without the table)."""
    t = read_table(params, "themes")
    if t is None:
        return None
    rows = t[t["code"].astype(str) == "all"] if "code" in t.columns else t
    return rows.sort_values("n_excerpts", ascending=False, kind="stable").head(k)


def _listed(parts: list[str]) -> str:
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def findings_themes(params: Params) -> list[str]:
    """The three themes raised most often (coded excerpts, teams) and the exemplar quote of the first, shortened
    to 240 characters; a sentence saying why when the qualitative notebook did not run."""
    rows = _top_themes(params)
    if rows is None:
        return [not_analysed("Focus groups and interviews were", "themes", "no qualitative data, or the qualitative notebook did not run")]
    if rows.empty:
        return ["No theme was coded in the focus groups and interviews."]
    parts = [f"{r.theme} ({int(r.n_excerpts)} coded excerpts, from {int(r.n_teams)} team{'' if int(r.n_teams) == 1 else 's'})"
             for r in rows.itertuples()]
    out = [f"In focus groups and interviews, the themes teams raised most often were {_listed(parts)}."]
    top = rows.iloc[0]
    quote = top.get("exemplar")
    if isinstance(quote, str) and quote.strip():
        quote = quote.strip()
        quote = quote if len(quote) <= 240 else quote[:237].rsplit(" ", 1)[0] + "..."
        out.append(f"On {top['theme']}, one participant said: \u201c{quote}\u201d")
    return out


def headline_themes(params: Params) -> HeadlineText | None:
    """The themes raised most often, shown by the themes-by-team figure; None without a coded theme."""
    rows = _top_themes(params)
    if rows is None or rows.empty:
        return None
    return (f"In focus groups and interviews, teams spoke most often about {_listed(list(rows['theme'].astype(str)))}.",
            THEMES_FIGURE)
