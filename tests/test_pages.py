"""The report's pages: the performance story page (summary, grouped findings, labelled tables, print rules) and
the notebook pages (no request to another host, a real title, the manifest's alt text, no machine path, a reader
page without code, both linked from the index)."""
from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import html
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
from nbconvert import HTMLExporter

from evaluation.run.notebooks import GOLDEN_DIR
from evaluation.core import figures as figure_io
from evaluation.core.paths import REPO_ROOT
from evaluation.core.params import check
from evaluation.report.contents import (STORY_FILE, FindingGroup, Story, StoryColumn, StoryFigure, StorySection,
                                        StoryTable)
from evaluation.report.findings import Headline
from evaluation.report.methods import MethodNote
from evaluation.report.story_html import PART_FIT, column_parts, pack_links, print_width, write_story_html
from evaluation.run.notebooks import NotebookRun
from evaluation.run.pages import READER_SUFFIX, render_html, write_index


class Tags(HTMLParser):
    """Every start tag with its attributes, the <title> text and the text inside <style> and <script>."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.title = ""
        self.code: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in in ("style", "script"):
            self.code.append(data)


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    return parser


def remote_references(page: str) -> list[str]:
    """Every src/href (and CSS url()/@import) naming another host: http://, https:// or //host."""
    p = parse(page)
    found = [f"{tag} {k}={v}" for tag, attrs in p.tags for k, v in attrs.items()
             if k in ("src", "href", "data-src", "srcset") and v and re.match(r"\s*(https?:)?//", v, re.I)]
    css = "\n".join(p.code)
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)  # a URL in a comment fetches nothing
    found += re.findall(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)|@import[^;]*", css, flags=re.I)
    found += re.findall(r"import\(\s*['\"](?:https?:)?//[^'\"]*", css, flags=re.I)  # a module loaded by a script
    return found


# ----- the performance story page -------------------------------------------------------------------------------

def story_params(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    return check({"cohort_id": "tiny", "data_dir": str(data), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "title": "Tiny cohort"})


def wide_table() -> StoryTable:
    """A team table of 30 columns: two of text, then 28 numbers, as wide as no page is."""
    cols = [StoryColumn("team_id", "Team"), StoryColumn("track", "Track")]
    cols += [StoryColumn(f"m{i}", f"Measure number {i}", "%", numeric=True) for i in range(28)]
    rows = [[f"T{k:02d}", "initial"] + [f"{1000 + 17 * i + k:,}.5" for i in range(28)] for k in range(1, 6)]
    return StoryTable(2, "wide", "Every measure by team", "Counts are not patients.", cols, rows)


def small_story() -> Story:
    narrow = StoryTable(1, "value_roi", "Return on investment", "Dollars.",
                        [StoryColumn("group", "Group"), StoryColumn("net_return", "Net return", "$", numeric=True),
                         StoryColumn("change", "Change")],  # not marked numeric, but every cell is a number
                        [["All patients", "675,123", "\u22120.82"], ["Initial track", "<11", "*"]])
    figure = StoryFigure(1, "value_roi_bars", "Return on investment", "A net return of $675,123.",
                         "Bar chart of cost avoided and program cost.", "figures/value_roi_bars.png",
                         ("figures/value_roi_bars.png", "figures/value_roi_bars.svg"))
    return Story("Tiny cohort", "tiny", "2016-12-31", "Counts from 1 to 10 are shown as <11.",
                 [Headline("value", f"Headline {i}.", "value_roi_bars" if i == 0 else None) for i in range(5)],
                 [FindingGroup("engagement", "Engagement in the collaborative", ["Teams attended 73% of events."]),
                  FindingGroup("value", "Value and return on investment", ["Net return $675,123.", "ROI 132%."])],
                 [StorySection("value", "Value and return on investment", [figure], [narrow, wide_table()])],
                 [MethodNote("Goals", "HbA1c < 8."), MethodNote("Small numbers", "Counts from 1 to 10 are not shown.")],
                 ["No comparison group."], ["value_roi", "wide"])


def test_story_page_lays_out_summary_findings_methods_and_the_pack(tmp_path):
    params = story_params(tmp_path)
    path = write_story_html(params, small_story())
    assert path == params.output_dir / STORY_FILE
    page = path.read_text(encoding="utf-8")
    assert page.index("<h1>Tiny cohort</h1>") < page.index('<nav class="contents"')
    page = page[page.index("</nav>"):]  # after the contents line, which names every section
    order = ["Executive summary", "Key findings", "Engagement in the collaborative", "Value and return on investment",
             "Figure 1. Return on investment.", "Table 1. Return on investment.", "Methods and limitations",
             "No comparison group.", "Funder pack"]
    assert [page.index(s) for s in order] == sorted(page.index(s) for s in order)
    summary = page[page.index("Executive summary"):page.index("Key findings")]
    assert summary.count("<li>") == 5 and '<a href="#value_roi_bars">(Figure 1)</a>' in summary
    findings = page[page.index("Key findings"):page.index('<section id="value">')]
    assert re.findall(r"<h3>([^<]+)</h3>", findings) == ["Engagement in the collaborative", "Value and return on investment"]
    assert findings.count("<li>") == 3
    assert '<dt>Goals</dt><dd>HbA1c &lt; 8.</dd>' in page
    assert re.findall(r'<img src="([^"]+)" alt="([^"]+)"', page) == [("figures/value_roi_bars.png",
                                                                      "Bar chart of cost avoided and program cost.")]
    hrefs = {a.get("href") for tag, a in parse(page).tags if tag == "a"}
    assert {"funder/tiny_performance_story.pdf", "funder/tiny_performance_story.docx", "funder/tiny_tables.xlsx",
            "funder/tiny_headlines.pptx", "funder/tiny_figures.zip", "funder/value_roi.csv", "funder/wide.csv"} <= hrefs
    assert [f for _, f in pack_links(params)] == ["funder/tiny_performance_story.pdf", "funder/tiny_performance_story.docx",
                                                  "funder/tiny_tables.xlsx", "funder/tiny_headlines.pptx", "funder/tiny_figures.zip"]
    assert remote_references(page) == []


def test_story_tables_are_labelled_and_numbers_right_aligned_by_class(tmp_path):
    page = write_story_html(story_params(tmp_path), small_story()).read_text(encoding="utf-8")
    block = page[page.index('id="table-value_roi"'):page.index('id="table-wide"')]
    heads = re.findall(r'<th scope="col"( class="num")?>([^<]+)</th>', block)
    assert heads == [("", "Group"), (' class="num"', "Net return ($)"), (' class="num"', "Change")]
    cells = re.findall(r"<td( class=\"num\")?>([^<]+)</td>", block)
    assert cells == [("", "All patients"), (' class="num"', "675,123"), (' class="num"', "\u22120.82"),
                     ("", "Initial track"), (' class="num"', "&lt;11"), (' class="num"', "*")]
    style = page[page.index("<style>"):page.index("</style>")]
    assert re.search(r"table\.data \.num \{[^}]*text-align: right", style)
    assert not re.search(r"(td|th):(first|last|nth)-child", style)  # alignment by class, never by position


def test_story_print_rules_clip_nothing_and_hide_the_pack(tmp_path):
    """No fixed paper size (Letter and A4 both print), a landscape named page for wide tables, figures and rows
    never split, headings kept with what follows, the pack's links not printed; a table too wide even for a
    landscape page is printed in parts, each repeating the row labels and together holding every column."""
    page = write_story_html(story_params(tmp_path), small_story()).read_text(encoding="utf-8")
    style = page[page.index("<style>"):page.index("</style>")]
    pages = re.findall(r"@page[^{]*\{[^}]*\}", style)
    assert "@page { margin: 18mm; }" in pages and "@page wide { size: landscape; }" in pages
    assert not any(re.search(r"size:\s*(letter|a4)", p, re.I) for p in pages)
    printed = style[style.index("@media print"):]
    assert re.search(r"figure[^{]*\{[^}]*break-inside: avoid", printed)
    assert re.search(r"h1, h2, h3[^{]*\{[^}]*break-after: avoid", printed)
    assert re.search(r"section\.pack[^{]*\{ display: none", printed)
    assert re.search(r"\.table-block\.landscape \{ page: wide; \}", printed)
    assert re.search(r"table\.data \{[^}]*table-layout: fixed", printed)
    assert 'id="pack" class="pack"' in page

    wide = wide_table()
    assert 'class="table-block landscape split" id="table-wide"' in page
    block = page[page.index('id="table-wide"'):]
    block = block[:block.index("</section>")]
    parts = re.findall(r"<table class=\"data\"[^>]*><caption><b>Table 2 \(part (\d) of (\d)\)(.*?)</table>", block, re.S)
    assert len(parts) >= 2 and {int(total) for _, total, _ in parts} == {len(parts)}
    headings = [re.findall(r"<th[^>]*>([^<]+)</th>", body) for _, _, body in parts]
    assert all(h[:2] == ["Team", "Track"] for h in headings)  # the row labels repeat in every part
    assert sorted({x for h in headings for x in h[2:]}) == sorted(c.heading for c in wide.columns[2:])
    assert sum(len(h) - 2 for h in headings) == 28  # each column printed once
    for h in headings:  # and each part fits the page: count its characters from the cells themselves
        cols = [i for i, c in enumerate(wide.columns) if c.heading in h]
        part = StoryTable(2, "part", "", "", [wide.columns[i] for i in cols], [[r[i] for i in cols] for r in wide.rows])
        assert print_width(part) <= PART_FIT[2]
    assert column_parts(wide)[0][:2] == [0, 1]


# ----- the notebook pages ---------------------------------------------------------------------------------------

def png_output(shown) -> nbformat.NotebookNode:
    """The output a notebook stores for a shown figure (what IPython's formatters make of it)."""
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(shown._repr_png_()).decode(),
                                                        "text/plain": repr(shown)})


def spec(figure_id: str, caption: str) -> figure_io.FigureSpec:
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1])
    return figure_io.FigureSpec(figure_id, fig, f"Title of {figure_id}", caption, f"Line chart {figure_id} rising.",
                                "cohort", "00_small")


def executed_notebook(staging: Path) -> Path:
    """A small executed notebook as the runner leaves it in staging: a heading, the injected parameters with
    machine paths, a code cell printing a staging path, a shown figure, and an image matched by its caption."""
    first = figure_io.show(spec("small_first", "The first caption, 12 patients."), staging)
    second = figure_io.show(spec("small_second", "The second caption."), staging)
    injected = "\n".join(["# Parameters", 'cohort_id = "small"', f'data_dir = "{REPO_ROOT / "data" / "small"}"',
                          'title = "Small cohort 2015"', f'output_dir = "{staging}"',
                          f'params_file = "{REPO_ROOT / "params" / "small.yaml"}"'])
    cells = [nbformat.v4.new_markdown_cell("# Small notebook\n\nWhat it shows."),
             nbformat.v4.new_code_cell("params_file = None", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]}),
             nbformat.v4.new_code_cell("print(params.tables_dir)", outputs=[
                 nbformat.v4.new_output("stream", name="stdout", text=f"{staging / 'tables'}\n")]),
             nbformat.v4.new_code_cell("ev.show(first, params)", execution_count=4, outputs=[png_output(first)]),
             nbformat.v4.new_code_cell("plt.show()", outputs=[nbformat.v4.new_output(
                 "display_data", data={"image/png": png_output(second).data["image/png"],
                                       "text/plain": "Drawn again: The second caption."})])]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"papermill": {"output_path": str(staging / "notebooks")}})
    path = staging / "notebooks" / "00_small.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def text_of(page: str) -> str:
    """A page's text: style and script blocks dropped, tags stripped."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def machine_paths(page: str, *folders: Path) -> list[str]:
    """Machine paths a page shows: any of ``folders`` or the repository, outside the images' base64 data."""
    text = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+", "", page)
    return [str(f) for f in (*folders, REPO_ROOT) if str(f) in text]


def test_notebook_pages_are_offline_titled_with_alt_text_and_no_machine_path(tmp_path):
    staging = tmp_path / ".staging" / "small-20261201T000000-1"
    executed_notebook(staging)
    manifest = {r["figure_id"]: r for r in figure_io.read_manifest(staging / "figures").to_dict("records")}
    render_html(staging, [NotebookRun("small", "notebooks/00_small.ipynb")])
    full = (staging / "00_small.html").read_text(encoding="utf-8")
    reader = (staging / f"00_small{READER_SUFFIX}").read_text(encoding="utf-8")
    for page in (full, reader):
        assert remote_references(page) == []
        tags = parse(page)
        assert tags.title == "Small notebook \u00b7 Small cohort 2015"
        images = [a for tag, a in tags.tags if tag == "img"]
        assert [a["alt"] for a in images] == [manifest["small_first"]["alt_text"], manifest["small_second"]["alt_text"]]
        assert "No description has been provided" not in page
        assert "The first caption, 12 patients." in page  # the caption under the figure
        assert machine_paths(page, tmp_path, staging) == []
    code = text_of(full)
    assert 'data_dir = "data/small"' in code and 'params_file = "params/small.yaml"' in code
    assert 'output_dir = "."' in code and "./tables" in code  # the report's folder
    assert "print(params.tables_dir)" in code and "ev.show(first, params)" in code
    shown = text_of(reader)
    assert "print(" not in shown and "ev.show" not in shown and "params_file" not in shown  # the reader page: no code
    assert "./tables" in shown and "What it shows." in shown  # its outputs and text stay
    assert "In\xa0[4]" in code and "In\xa0[" not in shown


def test_the_old_exporter_would_fail_these_checks(tmp_path):
    """The checks can fail: nbconvert's own page requests scripts from a CDN, is titled by the file name, has
    placeholder alt text and shows the machine paths."""
    staging = tmp_path / "staging"
    page, _ = HTMLExporter().from_notebook_node(nbformat.read(executed_notebook(staging), as_version=4))
    assert remote_references(page) and "No description has been provided" in page
    assert machine_paths(page, staging)


def test_a_real_notebook_renders_offline_with_its_figures_alt_text(tmp_path):
    """The data-quality notebook's golden (its outputs as the last regold left them), with injected parameters
    naming machine paths and the sidecar records of its figures, renders with no remote reference."""
    source = GOLDEN_DIR / "00_data_quality.ipynb"
    nb = nbformat.read(source, as_version=4)
    shown = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert shown, "the golden of 00_data_quality shows no figure"
    staging = tmp_path / "staging"
    (staging / "figures").mkdir(parents=True)
    alts = []
    for k, output in enumerate(shown):
        text = "".join(output["data"]["text/plain"])
        figure_id = re.match(r"Figure (\S+) \(", text).group(1)
        alts.append(f"Alt text {k} of {figure_id}.")
        (staging / "figures" / f"{figure_id}.json").write_text(
            '{"figure_id": "%s", "title": "T", "caption": "C", "alt_text": "%s", "notebook": "00_data_quality", '
            '"section": "cohort", "files": ""}' % (figure_id, alts[-1]))
    nb.cells.insert(1, nbformat.v4.new_code_cell(f'data_dir = "{tmp_path / "cohort"}"\noutput_dir = "{staging}"\n'
                                                 'title = "Real cohort"', metadata={"tags": ["injected-parameters"]}))
    (staging / "notebooks").mkdir()
    nbformat.write(nb, staging / "notebooks" / source.name)
    render_html(staging, [NotebookRun("data_quality", f"notebooks/{source.name}")])
    for name in ("00_data_quality.html", f"00_data_quality{READER_SUFFIX}"):
        page = (staging / name).read_text(encoding="utf-8")
        tags = parse(page)
        assert remote_references(page) == []
        assert tags.title.endswith("\u00b7 Real cohort") and not tags.title.startswith("Notebook")
        assert [a["alt"] for tag, a in tags.tags if tag == "img"] == alts
        assert machine_paths(page, tmp_path, staging) == []
        assert 'data_dir = "\u2026/cohort"' in text_of(page) or name.endswith(READER_SUFFIX)


def test_index_links_each_notebooks_reader_page_beside_the_full_one(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "00_small.html").write_text("full")
    (staging / f"00_small{READER_SUFFIX}").write_text("reader")
    params = check({"cohort_id": "small", "data_dir": str(tmp_path), "output_dir": str(tmp_path / "report"),
                    "as_of": "2016-12-31", "title": "Small cohort"})
    runs = [NotebookRun("small", "notebooks/00_small.ipynb", "ran", 1.5),
            NotebookRun("other", "notebooks/01_other.ipynb", "kept", 2.0)]  # rendered by an older run: no reader page
    page = write_index(staging, params, runs, {"warning": 1}, dt.datetime(2026, 1, 1)).read_text(encoding="utf-8")
    items = re.findall(r"<li>(.*?)</li>", page[page.index("<h2>Notebooks</h2>"):page.index("<h2>Tables</h2>")])
    assert re.findall(r'href="([^"]+)"', items[0]) == [f"00_small{READER_SUFFIX}", "00_small.html"]
    assert re.findall(r'href="([^"]+)"', items[1]) == ["01_other.html"]
    assert remote_references(page) == []


def test_template_is_package_data():
    """The page template ships with the package (pyproject lists it), so an installed workbench renders pages."""
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    listed = [p for patterns in data.values() for p in patterns]
    template = REPO_ROOT / "evaluation" / "run" / "templates" / "report_page"
    assert (template / "index.html.j2").is_file() and (template / "conf.json").is_file()
    assert any(fnmatch.fnmatch("run/templates/report_page/index.html.j2", p) for p in listed), listed
