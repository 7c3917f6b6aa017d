"""The report's HTML pages: each executed notebook rendered, and the front page (``index.html``) linking the
performance story, the notebooks, the tables and every figure with its caption."""

from __future__ import annotations
import datetime as dt
import html
from pathlib import Path
import pandas as pd
from evaluation.core.params import Params
from .notebooks import NotebookRun


def render_html(staging: Path, runs: list[NotebookRun]) -> None:
    """Render each executed notebook of ``runs`` to ``<staging>/<notebook>.html``."""
    if not runs:
        return
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    for run in runs:
        nb_path = staging / run.path
        if nb_path.exists():
            body, _ = exporter.from_notebook_node(nbformat.read(nb_path, as_version=4))
            (staging / f"{nb_path.stem}.html").write_text(body, encoding="utf-8")


def write_index(staging: Path, params: Params, runs: list[NotebookRun], quality_counts: dict[str, int],
                started: dt.datetime) -> Path:
    """The report's front page: links to the performance story, every notebook, tables and figures."""
    e = html.escape
    items = []
    for r in runs:
        stem = Path(r.path).stem
        items.append(f'<li><a href="{e(stem)}.html">{e(stem.replace("_", " ", 1))}</a> '
                     f'<span class="muted">({r.status}, {r.seconds:.1f} s)</span></li>')
    story = ""
    if (staging / "performance_story.html").exists():
        story = '<p class="lead"><a href="performance_story.html">Read the performance story</a> (key findings, figures and tables for funders).</p>'
    tables = sorted(p.name for p in (staging / "tables").glob("*.csv"))
    figures = []
    manifest = staging / "figures" / "manifest.csv"
    if manifest.exists():
        for row in pd.read_csv(manifest, keep_default_na=False).itertuples(index=False):
            png = next((f for f in row.files.split(";") if f.endswith(".png")), "")
            figures.append(f'<figure><a href="{e(png)}"><img src="{e(png)}" alt="{e(row.alt_text)}" loading="lazy"></a>'
                           f'<figcaption><b>{e(row.title)}.</b> {e(row.caption)} '
                           f'<span class="muted">[{e(row.notebook)}; '
                           + " ".join(f'<a href="{e(f)}">{e(f.rsplit(".", 1)[1].upper())}</a>' for f in row.files.split(";"))
                           + "]</span></figcaption></figure>")
    q = quality_counts
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(params.title)}: evaluation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
.muted {{ color: #666; font-size: 0.9em; }} .lead {{ font-size: 1.15em; }}
figure {{ display: inline-block; width: 28rem; max-width: 100%; margin: 0.5rem; vertical-align: top; }}
figure img {{ width: 100%; border: 1px solid #ddd; }} figcaption {{ font-size: 0.85em; }}
</style></head><body>
<h1>{e(params.title)}</h1>
<p class="muted">Cohort <code>{e(params.cohort_id)}</code> &middot; run started {started:%Y-%m-%d %H:%M} UTC &middot;
<a href="provenance.json">provenance</a> (params, input file hashes, package and code versions, timings)</p>
{story}
<h2>Data quality</h2>
<p>{q.get('error', 0)} errors, {q.get('warning', 0)} warnings, {q.get('note', 0)} notes:
<a href="tables/data_quality.csv">tables/data_quality.csv</a> (table, row, column, severity, problem).</p>
<h2>Notebooks</h2>
<ul>{''.join(items)}</ul>
<h2>Tables</h2>
<ul>{''.join(f'<li><a href="tables/{e(t)}">{e(t)}</a></li>' for t in tables)}</ul>
<h2>Figures</h2>
<p class="muted">Each figure as PNG (300 dpi), SVG and PDF; captions and alt text in
<a href="figures/manifest.csv">figures/manifest.csv</a>.</p>
{''.join(figures)}
</body></html>
"""
    path = staging / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
