"""The sensitivity summary's page (``index.html`` of ``reports/sweeps/<name>/``): what the sweep varied, which
conclusions hold across the grid and which change, the headline results by variant, the figures with their
captions and alt text, links to each variant's report and a methods note on the rules.

One self-contained page: its style is inline, nothing is fetched from another host, every link is relative (the
variants' reports, the CSVs, the figures) and no folder of the machine that wrote it is named.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from evaluation.core.outputs import atomic_write

from .sensitivity_figures import MANIFEST, SweepFigure

BASE = "base"
DASH = "\u2013"
DIFFERS, BASE_ROW = ' class="differs"', ' class="base"'
esc = html.escape

STYLE = """
body { font-family: system-ui, "DejaVu Sans", sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
.muted { color: #666; font-size: 0.9em; }
h1 { margin-bottom: 0.3rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.table-block { overflow-x: auto; margin: 1rem 0; }
table.data { border-collapse: collapse; font-size: 0.85em; }
table.data caption { text-align: left; font-weight: 600; margin-bottom: 0.3rem; }
table.data th, table.data td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: left; vertical-align: top; }
table.data th { background: #f3f3f3; font-weight: 600; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.base td { background: #fff3ec; font-weight: 600; }
td.differs { font-weight: 700; color: #b34700; }
td.flips { color: #b34700; font-weight: 600; }
ul.findings li { margin-bottom: 0.4rem; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; margin-top: 0.3rem; }
dl.methods dt { font-weight: 600; margin-top: 0.5rem; } dl.methods dd { margin-left: 1.2rem; }
@media print { figure, tr { break-inside: avoid; } a { color: inherit; text-decoration: none; } }
"""


def _table(header: Sequence[str], rows: Iterable[str], caption: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<div class="table-block"><table class="data">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def grid_section(grid: pd.DataFrame, keys: list[str], links: dict[tuple[str, str], str]) -> str:
    """The variants and the value of each swept setting; the base row highlighted, a value that differs from the
    base's in bold; each variant's name links to its report."""
    several = grid["cohort_id"].nunique() > 1
    rows = []
    for cohort_id, mine in grid.groupby("cohort_id", sort=False):
        base = mine[mine["variant"] == BASE]
        base = base.iloc[0] if not base.empty else None
        for _, r in mine.iterrows():
            link = links.get((cohort_id, r["variant"]))
            name = f'<a href="{esc(link)}">{esc(r["variant"])}</a>' if link else esc(r["variant"])
            cells = [f"<td>{esc(cohort_id)}</td>"] if several else []
            cells.append(f"<td>{name}</td>")
            for k in keys:
                differs = base is not None and r["variant"] != BASE and r[k] != base[k]
                cells.append(f"<td{DIFFERS if differs else ''}><code>{esc(str(r[k]))}</code></td>")
            rows.append(f"<tr{BASE_ROW if r['variant'] == BASE else ''}>{''.join(cells)}</tr>")
    header = (["Cohort"] if several else []) + ["Variant (its report)"] + keys
    if not keys:
        return "<p>No setting is varied: every variant runs the params file as written.</p>" + _table(header, rows)
    return ("<p>Each row is one complete report, run with these settings (the value a variant does not set is the "
            "one its params file resolves to). A value that differs from the base's is in bold.</p>"
            + _table(header, rows))


def _list(items: list[str], empty: str) -> str:
    if not items:
        return f"<p>{esc(empty)}</p>"
    return '<ul class="findings">' + "".join(f"<li>{esc(s)}</li>" for s in items) + "</ul>"


def results_section(table: pd.DataFrame, conclusions: pd.DataFrame, order: dict[str, list[str]], ci_label: str,
                    threshold: int) -> str:
    """Per cohort a table: one row per headline result, its method, its value in each variant (estimate with
    the CI in brackets, suppression marks as the funder tables show them) and whether its conclusion holds."""
    out = []
    several = len(order) > 1
    for cohort_id, names in order.items():
        mine = table[table["cohort_id"] == cohort_id]
        verdicts = {(c["result"], c["measure"]): c for c in conclusions[conclusions["cohort_id"] == cohort_id]
                    .to_dict("records")}
        rows = []
        for (result, measure), rs in mine.groupby(["result", "measure"], sort=False):
            first = rs.iloc[0]
            cells = [f"<td>{esc(first['label'])}</td>", f"<td>{esc(first['method'])}</td>"]
            for n in names:
                pick = rs[rs["variant"] == n]
                text = pick.iloc[0]["estimate_text"] if not pick.empty else DASH
                cells.append(f'<td class="num">{esc(text)}</td>')
            c = verdicts.get((result, measure))
            if c is None:
                cells.append("<td></td>")
            elif c["holds"]:
                cells.append(f"<td>{esc(c['conclusion'])} in every variant</td>")
            else:
                cells.append(f'<td class="flips">{esc(c["conclusion"])}, except {esc(", ".join(c["differs_in"].split(";")))}</td>')
            rows.append(f"<tr>{''.join(cells)}</tr>")
        caption = f"Cohort {cohort_id}" if several else ""
        out.append(_table(["Result", "Method", *names, "Conclusion"], rows, caption))
    return (f"<p>Each cell is the estimate with its {esc(ci_label)} in brackets, as the variant's funder tables show "
            f"it; <code>&lt;{threshold}</code> and <code>*</code> mark values those tables suppress.</p>" + "".join(out))


def figures_section(figures: list[SweepFigure]) -> str:
    if not figures:
        return "<p>No headline result to draw.</p>"
    return "".join(f'<figure id="figure-{f.number}"><img src="{esc(f.file)}" alt="{esc(f.alt_text)}">'
                   f"<figcaption>{esc(f.caption)}</figcaption></figure>" for f in figures)


METHODS = [
    ("Headline results", "Read from each variant's funder tables (group: all patients): per measure, the patients "
     "with a baseline and a follow-up value, the share at goal at baseline and at follow-up and the mean change "
     "(paired t CI); the median time to goal (Kaplan-Meier); the rate ratio of each kind of acute-care use, after "
     "against before; the net return on investment; the median time to MTP resolution. The numbers are those the "
     "funder tables show, rounded as a reader reads them; a table a variant did not produce gives no row."),
    ("Mean change", "\u201cfell\u201d when its whole CI lies below 0, \u201crose\u201d when above 0, otherwise "
     "\u201cno clear change\u201d (also when there is no CI)."),
    ("Rate ratio", "\u201cfewer\u201d events after than before when its whole CI lies below 1, \u201cmore\u201d "
     "when above 1, otherwise \u201cno clear change\u201d."),
    ("% at goal", "the share at follow-up is \u201cabove baseline\u201d, \u201cbelow baseline\u201d or the "
     "\u201csame as baseline\u201d."),
    ("Median times", "\u201creached\u201d or \u201cnot reached\u201d (the Kaplan-Meier curve never fell to half)."),
    ("Net return on investment", "\u201cpositive\u201d, \u201cnegative\u201d or \u201cbreak-even\u201d."),
    ("Holds or changes", "A conclusion holds when it is the same in every variant of the cohort; otherwise the page "
     "names the variants whose conclusion differs from the base's (or, without a base, from the most common one). "
     "A value the funder tables suppress gives the conclusion \u201csuppressed\u201d, never a guess."),
]


def write_page(path: Path, *, sweep_name: str, description: str | None, grid: pd.DataFrame, keys: list[str],
               table: pd.DataFrame, conclusions: pd.DataFrame, holds: list[str], changes: list[str],
               figures: list[SweepFigure], links: dict[tuple[str, str], str], mixed_thresholds: list[str],
               threshold: int, ci_label: str = "95% CI") -> Path:
    """Write the summary page to ``path`` (its CSVs and figures/ beside it) and return it."""
    order = {c: mine["variant"].tolist() for c, mine in grid.groupby("cohort_id", sort=False)}
    counts = ", ".join(f"{len(v)} variant{'s' if len(v) != 1 else ''} of cohort {c}" for c, v in order.items())
    intro = f"<p>{esc(description)}</p>" if description else ""
    suppression = ("Values the variants' funder tables suppress (a small count of patients, or a cell that would "
                   "reveal one) stay suppressed here, shown with the same mark; the figures leave them out and "
                   "their captions say so.")
    if mixed_thresholds:
        suppression += (f" The suppression threshold differs between the variants of {', '.join(mixed_thresholds)}: "
                        "each variant's values are suppressed by its own threshold, as its funder tables are.")
    methods = "".join(f"<div><dt>{esc(t)}</dt><dd>{esc(d)}</dd></div>" for t, d in METHODS)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep {esc(sweep_name)}: how the headline results move</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style></head><body>
<h1>Sweep {esc(sweep_name)}: how the headline results move across the grid</h1>
<p class="muted">{esc(counts)} &middot; the
tables as CSV: <a href="sensitivity.csv">sensitivity.csv</a> (one row per variant and headline result) and
<a href="conclusions.csv">conclusions.csv</a> (each conclusion in each variant); captions and alt text in
<a href="figures/{MANIFEST}">figures/{MANIFEST}</a>.</p>
{intro}
<h2>What was varied</h2>
{grid_section(grid, keys, links)}
<h2>What holds across the grid</h2>
{_list(holds, "No conclusion is the same in every variant.")}
<h2>What changes</h2>
{_list(changes, "No conclusion changes: every headline result reads the same way in every variant.")}
<h2>Headline results by variant</h2>
{results_section(table, conclusions, order, ci_label, threshold)}
<h2>Figures</h2>
{figures_section(figures)}
<h2>Methods</h2>
<dl class="methods">{methods}</dl>
<p>{esc(suppression)}</p>
</body></html>
"""
    atomic_write(Path(path), page)
    return Path(path)
