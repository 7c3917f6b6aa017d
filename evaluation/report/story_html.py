"""The performance story as a web page: ``<report>/performance_story.html``, linked first from the report's index.

It lays out the :class:`~evaluation.report.contents.Story` (findings, then per section its figures with
captions and alt text, and its suppressed tables) and links the funder pack; :mod:`.story_docx` lays out the
same story as a Word file.
"""

from __future__ import annotations

import html
from pathlib import Path

from evaluation.core.outputs import atomic_write
from evaluation.core.params import Params

from .contents import STORY_FILE, Story, StoryFigure, StoryTable, docx_name, zip_name
from .funder import FUNDER_DIR

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
.muted { color: #666; font-size: 0.9em; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; margin-top: 0.3rem; } .scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; margin-top: 0.4rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: right; } th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
"""
esc = html.escape


def _figure(f: StoryFigure) -> str:
    files = " ".join(f'<a href="{esc(x)}">{esc(x.rsplit(".", 1)[-1].upper())}</a>' for x in f.files)
    return (f'<figure id="{esc(f.figure_id)}"><img src="{esc(f.png)}" alt="{esc(f.alt_text)}">'
            f"<figcaption><b>Figure {f.number}. {esc(f.title)}.</b> {esc(f.caption)} "
            f'<span class="muted">[{files}]</span></figcaption></figure>')


def _table(t: StoryTable) -> str:
    return (f'<figure class="table"><figcaption><b>Table {t.number}. {esc(t.title)}.</b> '
            f'{esc(t.note)} <a href="{esc(t.csv)}">CSV</a></figcaption><div class="scroll"><table>'
            "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in t.header) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in t.rows)
            + "</tbody></table></div></figure>")


def story_page(params: Params, story: Story) -> str:
    """The page's HTML."""
    parts = [f"<h1>{esc(story.title)}</h1>",
             f'<p class="muted">Performance story of cohort <code>{esc(story.cohort_id)}</code>, data as of '
             f"{story.as_of}. Every number is computed from the cohort's tables by the evaluation workbench.</p>",
             f'<p class="muted">{esc(story.disclosure_note)}</p>',
             "<h2>Key findings</h2><ul>", *(f"<li>{esc(f)}</li>" for g in story.findings for f in g.sentences), "</ul>"]
    for section in story.sections:
        parts.append(f'<section id="{esc(section.key)}"><h2>{esc(section.heading)}</h2>')
        parts += [_figure(f) for f in section.figures]
        parts += [_table(t) for t in section.tables]
        parts.append("</section>")
    parts.append(f"<h2>Funder pack</h2><p>{esc(story.disclosure_note)}</p><ul>"
                 f'<li><a href="{FUNDER_DIR}/{esc(docx_name(params))}">Performance story (Word)</a></li>'
                 f'<li><a href="{FUNDER_DIR}/{esc(zip_name(params))}">Every figure (PNG, SVG, PDF) with the manifest (zip)</a></li>'
                 "<li>Tables: " + ", ".join(f'<a href="{FUNDER_DIR}/{esc(n)}.csv">{esc(n)}</a>' for n in story.table_names)
                 + "</li></ul>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(story.title)}: performance story</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style></head><body>
{chr(10).join(parts)}
</body></html>
"""


def write_story_html(params: Params, story: Story) -> Path:
    """Write ``<report>/performance_story.html``; return its path."""
    path = params.output_dir / STORY_FILE
    atomic_write(path, story_page(params, story).encode("utf-8"))
    return path
