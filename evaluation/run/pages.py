"""The report's HTML pages: each executed notebook rendered twice, and the front page (``index.html``) linking the
performance story, the notebooks, the tables and every figure with its caption.

A notebook page (``NN_name.html``, with the code) and its reader page (``NN_name.reader.html``, code and prompts
hidden) load nothing from another host (the template in ``templates/report_page`` drops nbconvert's require.js,
MathJax, Mermaid and widget scripts), are titled by the notebook's heading and the cohort, show each figure with
the alt text and caption of the figure manifest, and name no folder of the machine that ran them: the injected
parameters and every output show paths relative to the repository, and the run's staging folder as ``.``
(the report's folder).
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import html
import re
from pathlib import Path

import nbformat
import pandas as pd
import yaml
from nbconvert import HTMLExporter

from evaluation.core.figures import read_manifest
from evaluation.core.labels import INTERNAL_SECTIONS
from evaluation.core.paths import REPO_ROOT, shown_path
from evaluation.core.params import Params

from .notebooks import NotebookRun

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "report_page"  # templates/report_page: package data (pyproject's [tool.setuptools.package-data])
READER_SUFFIX = ".reader.html"
PATH_PARAMS = ("data_dir", "output_dir", "params_file")  # injected parameters that hold a folder or file
_FIGURE_TEXT = re.compile(r"^Figure (?P<id>[A-Za-z0-9_-]+) \(\d+ panels?\)")  # ShownFigure's text (core.figures)
_ASSIGNMENT = re.compile(r"^(?P<name>\w+) = (?P<value>.+)$", re.M)


def reader_page(stem: str) -> str:
    """The reader page of the notebook ``stem`` (``04_time_to_goal`` -> ``04_time_to_goal.reader.html``)."""
    return f"{stem}{READER_SUFFIX}"


def exporter(reader: bool) -> HTMLExporter:
    """The HTML exporter of the report's pages; ``reader``: code cells' input and every prompt hidden."""
    return HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)], exclude_input=reader,
                        exclude_input_prompt=reader, exclude_output_prompt=reader)


def injected_parameters(nb: nbformat.NotebookNode) -> dict:
    """The parameters the run injected into an executed notebook (literal values by name; {} if none)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            found = {}
            for m in _ASSIGNMENT.finditer(cell.source):
                try:
                    found[m["name"]] = ast.literal_eval(m["value"])
                except (ValueError, SyntaxError):
                    continue
            return found
    return {}


def shown_folder(path: str, staging: Path) -> str:
    """A path as the pages show it: ``.`` for the run's staging folder (the report's folder once published),
    relative to it or to the repository when inside them, else the last part alone (``…/cohort_2015``)."""
    p = Path(path)
    if not p.is_absolute():
        return path
    try:
        return p.resolve().relative_to(staging.resolve()).as_posix()  # "." for the folder itself
    except ValueError:
        relative = shown_path(p)
    return relative if not Path(relative).is_absolute() else f"\u2026/{p.name}"


def path_replacements(nb: nbformat.NotebookNode, staging: Path) -> list[tuple[str, str]]:
    """(text, replacement) for every machine path a page could show, the longest first: the injected path
    parameters, the staging folder and the repository."""
    pairs = {str(staging): ".", str(staging.resolve()): ".", f"{REPO_ROOT}/": "", f"{REPO_ROOT.resolve()}/": ""}
    for name, value in injected_parameters(nb).items():
        if name in PATH_PARAMS and isinstance(value, str) and Path(value).is_absolute():
            pairs[value] = shown_folder(value, staging)
    return sorted(pairs.items(), key=lambda kv: len(kv[0]), reverse=True)


def _replace(value, pairs: list[tuple[str, str]]):
    """``value`` (a notebook node or part of one) with every path of ``pairs`` replaced, images left alone."""
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace(v, pairs) for v in value]
    if isinstance(value, dict):
        for k in list(value):
            if not str(k).startswith("image/"):
                value[k] = _replace(value[k], pairs)
        return value
    return value


def notebook_title(nb: nbformat.NotebookNode) -> str:
    """The page title: the notebook's first ``# heading`` and the cohort's title (from the injected parameters)."""
    heading = next((line[2:].strip() for cell in nb.cells if cell.cell_type == "markdown"
                    for line in cell.source.splitlines() if line.startswith("# ")), "Notebook")
    cohort = injected_parameters(nb).get("title") or injected_parameters(nb).get("cohort_id")
    return f"{heading} \u00b7 {cohort}" if cohort else heading


def figure_records(staging: Path) -> dict[str, dict]:
    """The exported figures by id (title, caption, alt text), from the sidecar records the manifest is built from."""
    folder = staging / "figures"
    if not folder.is_dir():
        return {}
    return {str(r["figure_id"]): {k: str(r[k]) for k in ("figure_id", "title", "caption", "alt_text")}
            for r in read_manifest(folder).to_dict("records")}


def _figure_of(output: dict, figures: dict[str, dict]) -> dict | None:
    """The manifest record of a figure output: by the id in its text (a shown figure), else by its caption."""
    text = output.get("data", {}).get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    m = _FIGURE_TEXT.match(text)
    if m and m["id"] in figures:
        return figures[m["id"]]
    return next((f for f in figures.values() if f["caption"] and f["caption"] in text), None)


def page_notebook(nb: nbformat.NotebookNode, staging: Path, figures: dict[str, dict]) -> nbformat.NotebookNode:
    """A copy of an executed notebook ready to render: titled, each figure output carrying its manifest record,
    and no machine path in its cells, outputs or metadata."""
    nb = copy.deepcopy(nb)
    pairs = path_replacements(nb, staging)
    nb.metadata["title"] = notebook_title(nb)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                record = _figure_of(output, figures)
                if record:
                    output.setdefault("metadata", {})["report_figure"] = record
    _replace(nb, pairs)
    return nb


def render_page(nb: nbformat.NotebookNode, staging: Path, figures: dict[str, dict], reader: bool,
                with_exporter: HTMLExporter | None = None) -> str:
    """One page of an executed notebook: the full page, or with ``reader`` the reader page (no code)."""
    body, _ = (with_exporter or exporter(reader)).from_notebook_node(page_notebook(nb, staging, figures))
    return body


def render_html(staging: Path, runs: list[NotebookRun]) -> None:
    """Render each executed notebook of ``runs`` to ``<staging>/<notebook>.html`` and ``<notebook>.reader.html``."""
    if not runs:
        return
    figures = figure_records(staging)
    exporters = {reader: exporter(reader) for reader in (False, True)}
    for run in runs:
        nb_path = staging / run.path
        if nb_path.exists():
            nb = nbformat.read(nb_path, as_version=4)
            for name, reader in ((f"{nb_path.stem}.html", False), (reader_page(nb_path.stem), True)):
                page = render_page(nb, staging, figures, reader, exporters[reader])
                (staging / name).write_text(page, encoding="utf-8")


def shown_setting(value) -> str:
    """A resolved setting as the index page shows it: as YAML writes it inline (``< 7``, ``[track, sex]``,
    ``null``), so it reads as it would be written in a params file or after ``--set``."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def variant_section(variant: dict | None) -> str:
    """The index page's account of a variant: its name, the params file it varies and a table of every setting
    that differs from it (empty for a main report)."""
    if not variant:
        return ""
    e = html.escape
    base = variant.get("base_params_file")
    base = f"\u2026/{Path(base).name}" if base and Path(base).is_absolute() else base or "its params file"
    rows = "".join(f"<tr><td><code>{e(d['key'])}</code></td><td>{e(shown_setting(d['base']))}</td>"
                   f"<td>{e(shown_setting(d['variant']))}</td></tr>" for d in variant.get("differs_from_base", []))
    given = "".join(f" --set '{k}={shown_setting(v)}'" for k, v in variant.get("overrides", {}).items()
                    if k != "output_dir")  # a folder of the machine that ran it: not shown
    command = f"python -m evaluation run {base}{given} --variant {variant['name']}"
    table = (f'<table class="differs"><thead><tr><th>setting</th><th>{e(base)}</th><th>this variant</th></tr></thead>'
             f"<tbody>{rows}</tbody></table>" if rows else
             "<p>No resolved setting differs from the params file: the results are those of the main report.</p>")
    return f"""<section class="variant">
<h2>Variant {e(variant['name'])}</h2>
<p>This report is a variant of <code>{e(base)}</code>, run beside the cohort's main report (which it leaves
untouched) with <code>{e(command)}</code>. These settings differ from the params file as written:</p>
{table}
</section>
"""


def figure_items(staging: Path, with_files: bool = True) -> list[str]:
    """Each figure of the manifest as an index page shows it: the PNG, linked, with its alt text, title and caption
    (and with ``with_files`` its notebook and a link to each format). The teams' internal figures (the priority
    list's) stay on their notebook's page: the index is read as a funder reads it."""
    e = html.escape
    manifest = staging / "figures" / "manifest.csv"
    if not manifest.exists():
        return []
    out = []
    for row in pd.read_csv(manifest, keep_default_na=False).itertuples(index=False):
        if getattr(row, "section", "") in INTERNAL_SECTIONS:
            continue
        files = row.files.split(";")
        png = next((f for f in files if f.endswith(".png")), "")
        links = (f' <span class="muted">[{e(row.notebook)}; '
                 + " ".join(f'<a href="{e(f)}">{e(f.rsplit(".", 1)[1].upper())}</a>' for f in files) + "]</span>"
                 if with_files else "")
        out.append(f'<figure><a href="{e(png)}"><img src="{e(png)}" alt="{e(row.alt_text)}" loading="lazy"></a>'
                   f'<figcaption><b>{e(row.title)}.</b> {e(row.caption)}{links}</figcaption></figure>')
    return out


def write_index(staging: Path, params: Params, runs: list[NotebookRun], quality_counts: dict[str, int],
                started: dt.datetime, variant: dict | None = None) -> Path:
    """The report's front page: links to the performance story, every notebook (its reader page and the page
    with code), tables and figures; for a variant, what differs from its params file (``variant``, the
    provenance's variant record)."""
    e = html.escape
    items = []
    for r in runs:
        stem = Path(r.path).stem
        reader = (f'<a href="{e(reader_page(stem))}">read</a> &middot; '
                  if (staging / reader_page(stem)).exists() else "")
        items.append(f'<li>{e(stem.replace("_", " ", 1))}: {reader}<a href="{e(stem)}.html">with code</a> '
                     f'<span class="muted">({r.status}, {r.seconds:.1f} s)</span></li>')
    story = ""
    if (staging / "performance_story.html").exists():
        story = '<p class="lead"><a href="performance_story.html">Read the performance story</a> (key findings, figures and tables for funders).</p>'
    tables = sorted(p.name for p in (staging / "tables").glob("*.csv"))
    figures = figure_items(staging)
    q = quality_counts
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(params.title)}: evaluation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
.muted {{ color: #666; font-size: 0.9em; }} .lead {{ font-size: 1.15em; }}
figure {{ display: inline-block; width: 28rem; max-width: 100%; margin: 0.5rem; vertical-align: top; }}
figure img {{ width: 100%; border: 1px solid #ddd; }} figcaption {{ font-size: 0.85em; }}
.variant {{ border-left: 4px solid #b35900; padding: 0.1rem 1rem; background: #fff8f0; }}
table.differs {{ border-collapse: collapse; }} table.differs th, table.differs td {{ text-align: left; padding: 0.2rem 0.8rem; border-bottom: 1px solid #ddd; }}
</style></head><body>
<h1>{e(params.title)}</h1>
<p class="muted">Cohort <code>{e(params.cohort_id)}</code> &middot; run started {started:%Y-%m-%d %H:%M} UTC &middot;
<a href="provenance.json">provenance</a> (params, input file hashes, package and code versions, timings)</p>
{variant_section(variant)}{story}
<h2>Data quality</h2>
<p>{q.get('error', 0)} errors, {q.get('warning', 0)} warnings, {q.get('note', 0)} notes:
<a href="tables/data_quality.csv">tables/data_quality.csv</a> (table, row, column, severity, problem).</p>
<h2>Notebooks</h2>
<p class="muted">Each notebook's reader page shows its text, tables and figures; the page with code shows every cell. These are the evaluation team's pages, with tables that are not suppressed: send funders the <a href="funder/">funder pack</a>, not these.</p>
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
