"""Key findings and the executive summary: one registry mapping each report section to its analysis' findings
and headline functions, and the sentences they write, made safe for a funder.

Each analysis package writes its own sentences in plain words with units from the tables its notebook saved
(``analyses/<x>/findings.py``: ``findings_<section>(params) -> list[str]``; an analysis that did not run says
so) and its headline for the executive summary (``headline_<section>(params)``: a ``(sentence, figure_id)``
pair, a list of them, or None). Here they are gathered in report order and every small count of patients is
written as ``<11`` (:func:`~evaluation.core.disclosure.suppress_text`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Callable, Sequence, Union

import pandas as pd

from evaluation.analyses.engagement.findings import findings_engagement, headline_engagement
from evaluation.analyses.focus_groups.findings import findings_themes, headline_themes
from evaluation.analyses.outcomes.findings import findings_outcomes, findings_run_charts, headline_outcomes, headline_run_charts
from evaluation.analyses.overview.findings import findings_cohort, headline_cohort
from evaluation.analyses.time_to_goal.findings import findings_time_to_goal, headline_time_to_goal
from evaluation.analyses.value.findings import findings_value, headline_value
from evaluation.analyses.wording import HeadlineText
from evaluation.core.disclosure import suppress_text
from evaluation.core.figures import read_manifest
from evaluation.core.labels import SECTIONS
from evaluation.core.params import Params

FINDINGS: dict[str, Callable[[Params], list[str]]] = {  # section -> its analysis' findings, in report order
    "cohort": findings_cohort, "engagement": findings_engagement, "themes": findings_themes,
    "outcomes": findings_outcomes, "run_charts": findings_run_charts, "time_to_goal": findings_time_to_goal,
    "value": findings_value,
}
FINDINGS_COLUMNS = ["section", "finding"]
HeadlineMaker = Callable[[Params], Union[HeadlineText, Sequence[HeadlineText], None]]
HEADLINES: dict[str, HeadlineMaker] = {  # section -> its analysis' headline(s), in report order
    "cohort": headline_cohort, "engagement": headline_engagement, "themes": headline_themes,
    "outcomes": headline_outcomes, "run_charts": headline_run_charts, "time_to_goal": headline_time_to_goal,
    "value": headline_value,
}
SUMMARY_MAX = 7  # sentences of the executive summary at most (one slide each)
LEFT_OUT_FIRST = ("run_charts", "themes")  # sections whose headline goes first when there are more than SUMMARY_MAX
NOTHING_RAN = "No analysis produced a result for this cohort; the findings below say why."


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
    executive summary (5 to 7 sentences; the count rule is :func:`executive_summary`'s).

    Shown in a notebook as a list under section headings (a DataFrame would cut the sentences short).
    """

    table: pd.DataFrame
    headlines: list[Headline] = field(default_factory=list)

    def by_section(self) -> dict[str, list[str]]:
        """Section key -> its sentences, in report order (sections without a sentence left out)."""
        return {key: self.table.loc[self.table["section"] == key, "finding"].tolist()
                for key in dict.fromkeys(self.table["section"])}

    def __repr__(self) -> str:
        lines = ["Executive summary"] + [f"  {i}. {h.text}" for i, h in enumerate(self.headlines, 1)] if self.headlines else []
        for key, sentences in self.by_section().items():
            lines.append(SECTIONS.get(key, key))
            lines += [f"  - {s}" for s in sentences]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        summary = ("<p><b>Executive summary</b></p><ol>" + "".join(f"<li>{e(h.text)}</li>" for h in self.headlines)
                   + "</ol>") if self.headlines else ""
        return summary + "".join(f"<p><b>{e(SECTIONS.get(k, k))}</b></p><ul>" + "".join(f"<li>{e(s)}</li>" for s in v) + "</ul>"
                       for k, v in self.by_section().items())


def _as_list(made: HeadlineText | Sequence[HeadlineText] | None) -> list[HeadlineText]:
    if made is None:
        return []
    return [made] if isinstance(made, tuple) else list(made)


def executive_summary(params: Params, table: pd.DataFrame | None = None) -> list[Headline]:
    """The executive summary: the headlines of the sections, in report order, each made safe for a funder.

    Count rule: each section whose analysis ran gives its headline (value gives up to three: acute-care use,
    the return, medication therapy problems); a section whose analysis did not run gives none. With more than
    :data:`SUMMARY_MAX` (7), the headlines of :data:`LEFT_OUT_FIRST` (run charts, then themes) are left out
    until 7 remain, then the last ones. With none at all, the summary is one sentence: the first finding (which
    says why), or :data:`NOTHING_RAN`. So a cohort with every analysis gets 5 to 7 sentences, and every summary
    has at least one. A headline's figure is kept only when the figure was exported (it is in the figures
    folder); otherwise the headline has no figure.
    """
    made = [(key, text, figure) for key, make in HEADLINES.items() for text, figure in _as_list(make(params))]
    for key in LEFT_OUT_FIRST:
        if len(made) > SUMMARY_MAX:
            made = [m for m in made if m[0] != key]
    made = made[:SUMMARY_MAX]
    folder = params.figures_dir
    exported = set(read_manifest(folder)["figure_id"]) if folder.exists() else set()
    summary = [Headline(key, suppress_text(text, params.suppress_below), figure if figure in exported else None)
               for key, text, figure in made]
    if summary:
        return summary
    if table is not None and len(table):
        return [Headline(str(table["section"].iloc[0]), str(table["finding"].iloc[0]))]
    return [Headline(next(iter(HEADLINES)), NOTHING_RAN)]


def key_findings(params: Params) -> Findings:
    """The cohort's key findings as sentences (section, finding), computed from the tables in ``tables/``, and
    the executive summary (:func:`executive_summary`)."""
    rows = [{"section": key, "finding": suppress_text(sentence, params.suppress_below)}
            for key, make in FINDINGS.items() for sentence in make(params)]
    table = pd.DataFrame(rows, columns=FINDINGS_COLUMNS)
    return Findings(table, executive_summary(params, table))


def findings_table(findings: Findings | pd.DataFrame) -> pd.DataFrame:
    """The (section, finding) table of ``findings`` (a :class:`Findings` or the table itself)."""
    return findings.table if isinstance(findings, Findings) else findings
