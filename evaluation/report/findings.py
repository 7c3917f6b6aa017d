"""Key findings: one registry mapping each report section to its analysis' findings function, and the sentences
they write, made safe for a funder.

Each analysis package writes its own sentences from the tables its notebook saved (``analyses/<x>/findings.py``,
``(params) -> list[str]``); an analysis that did not run says so. Here they are gathered in report order and
every small count of patients is written as ``<11`` (:func:`~evaluation.core.disclosure.suppress_text`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from evaluation.analyses.engagement.findings import findings_engagement
from evaluation.analyses.focus_groups.findings import findings_themes
from evaluation.analyses.outcomes.findings import findings_outcomes, findings_run_charts
from evaluation.analyses.overview.findings import findings_cohort
from evaluation.analyses.time_to_goal.findings import findings_time_to_goal
from evaluation.analyses.value.findings import findings_value
from evaluation.core.disclosure import suppress_text
from evaluation.core.labels import SECTIONS
from evaluation.core.params import Params

FINDINGS: dict[str, Callable[[Params], list[str]]] = {  # section -> its analysis' findings, in report order
    "cohort": findings_cohort, "engagement": findings_engagement, "themes": findings_themes,
    "outcomes": findings_outcomes, "run_charts": findings_run_charts, "time_to_goal": findings_time_to_goal,
    "value": findings_value,
}
FINDINGS_COLUMNS = ["section", "finding"]


@dataclass(frozen=True)
class Headline:
    """A sentence of the executive summary, in plain words with units, and the figure that shows it (its
    ``figure_id`` in the manifest; None when no figure does): one slide of the funder deck each."""

    section: str
    text: str
    figure_id: str | None = None


@dataclass
class Findings:
    """Key findings as sentences; ``table`` has one row per sentence (section, finding); ``headlines`` the
    executive summary (5 to 7 sentences).

    Shown in a notebook as a list under section headings (a DataFrame would cut the sentences short).
    """

    table: pd.DataFrame
    headlines: list[Headline] = field(default_factory=list)

    def by_section(self) -> dict[str, list[str]]:
        """Section key -> its sentences, in report order (sections without a sentence left out)."""
        return {key: self.table.loc[self.table["section"] == key, "finding"].tolist()
                for key in dict.fromkeys(self.table["section"])}

    def __repr__(self) -> str:
        lines = []
        for key, sentences in self.by_section().items():
            lines.append(SECTIONS.get(key, key))
            lines += [f"  - {s}" for s in sentences]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        return "".join(f"<p><b>{e(SECTIONS.get(k, k))}</b></p><ul>" + "".join(f"<li>{e(s)}</li>" for s in v) + "</ul>"
                       for k, v in self.by_section().items())


def key_findings(params: Params) -> Findings:
    """The cohort's key findings as sentences (section, finding), computed from the tables in ``tables/``."""
    rows = [{"section": key, "finding": suppress_text(sentence, params.suppress_below)}
            for key, make in FINDINGS.items() for sentence in make(params)]
    table = pd.DataFrame(rows, columns=FINDINGS_COLUMNS)
    first = table.drop_duplicates("section")
    return Findings(table, [Headline(r.section, r.finding) for r in first.itertuples(index=False)])


def findings_table(findings: Findings | pd.DataFrame) -> pd.DataFrame:
    """The (section, finding) table of ``findings`` (a :class:`Findings` or the table itself)."""
    return findings.table if isinstance(findings, Findings) else findings
