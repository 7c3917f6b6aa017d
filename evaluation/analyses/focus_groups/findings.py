"""The report's sentences on what teams said, read from the saved theme table (tables/themes.csv), so the
report only quotes what the theme table let through the identifier screen."""

from __future__ import annotations
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import not_analysed


def findings_themes(params: Params) -> list[str]:
    """The three themes raised most often (excerpts, teams) and the exemplar quote of the first, shortened to
    240 characters; a sentence saying why when the qualitative notebook did not run."""
    t = read_table(params, "themes")
    if t is None:
        return [not_analysed("Focus groups and interviews were", "themes", "no qualitative data, or the qualitative notebook did not run")]
    rows = t[t["code"].astype(str) == "all"] if "code" in t.columns else t
    rows = rows.sort_values("n_excerpts", ascending=False, kind="stable").head(3)
    if rows.empty:
        return ["No theme was coded in the focus groups and interviews."]
    parts = [f"{r.theme} ({int(r.n_excerpts)} excerpts from {int(r.n_teams)} teams)" for r in rows.itertuples()]
    out = [f"The themes teams raised most often were {', '.join(parts[:-1]) + ' and ' if len(parts) > 1 else ''}{parts[-1]}."]
    top = rows.iloc[0]
    quote = top.get("exemplar")
    if isinstance(quote, str) and quote.strip():
        quote = quote.strip()
        quote = quote if len(quote) <= 240 else quote[:237].rsplit(" ", 1)[0] + "..."
        out.append(f"On {top['theme']}, one participant said: \u201c{quote}\u201d")
    return out
