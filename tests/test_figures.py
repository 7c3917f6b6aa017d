"""Figures that may reach a funder draw no small count, and record what they draw for the gate
(the exporter in evaluation/core/figures.py, the drawing in evaluation/analyses/, the gate in evaluation/report/gate.py).

The Kaplan-Meier data set is made by hand so that every count of its numbers table is known: 22 patients,
17 reaching goal (days 10, 20, ..., 80, 85, then 100, 110, ..., 170) and 5 censored (days 25, 75, 95, 125, 155).
Ticks at 0, 90 and 180 days give

    day   at risk  events  censored
      0        22       0         0
     90        11       9         2
    180         0      17         5
"""
from __future__ import annotations

import io
import json
import zipfile

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaluation.analyses import charts
from evaluation.analyses.outcomes import figures as outcomes_figures
from evaluation.analyses.overview import figures as overview_figures
from evaluation.analyses.time_to_goal import figures as ttg_figures
from evaluation.analyses.time_to_goal import kaplan_meier as ttg_km
from evaluation.analyses.time_to_goal import km_chart
from evaluation.core import figures as figure_io
from evaluation.core.params import check
from evaluation.report.gate import check_funder_outputs

EVENT_DAYS = [10, 20, 30, 40, 50, 60, 70, 80, 85, 100, 110, 120, 130, 140, 150, 160, 170]
CENSOR_DAYS = [25, 75, 95, 125, 155]


@pytest.fixture
def params(tmp_path, monkeypatch):
    monkeypatch.setenv(figure_io.FORMATS_ENV, "svg")  # the gate reads the SVG; PNG and PDF are drawn from the same figure
    return check({"cohort_id": "km", "data_dir": str(tmp_path), "output_dir": str(tmp_path / "report")})


def hand_made_km(params):
    data = pd.DataFrame({"measure": "a1c", "followed": True, "days": EVENT_DAYS + CENSOR_DAYS,
                         "event": [True] * 17 + [False] * 5, "cause": [1] * 17 + [0] * 5})
    return ttg_km.kaplan_meier(data, params, "a1c")


def shown_cells(fig) -> dict[str, str]:
    return {c["id"]: c["shown"] for c in figure_io.figure_counts(fig)["cells"]}


def funder_zip(params, figure_id: str, svg: str | None = None, counts: str | None = None) -> None:
    """The funder's figure zip of one exported figure (its SVG, its counts record, a manifest line)."""
    folder = params.output_dir / "figures"
    (params.output_dir / "funder").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(params.output_dir / "funder" / "km_figures.zip", "w") as zf:
        zf.writestr(f"figures/{figure_id}.svg", svg if svg is not None else (folder / f"{figure_id}.svg").read_text())
        if counts is not None or (folder / f"{figure_id}.counts.json").exists():
            zf.writestr(f"figures/{figure_id}.counts.json",
                        counts if counts is not None else (folder / f"{figure_id}.counts.json").read_text())
        zf.writestr("manifest.csv", (folder / "manifest.csv").read_text())


def test_the_numbers_table_hides_what_would_give_a_small_count_away(params):
    """With primary suppression only, day 180 reads 22 = 0 + 17 + censored: censored = 5. The table hides the
    17 as well ("*", at least 11): 22 = 0 + e + c with e >= 11 and 1 <= c <= 10 lets c be anything from 1 to 10.
    Day 90 needs nothing more: 22 = 11 + e + c with both 1..10 allows e = 1..10."""
    fig = km_chart.survival_km_chart(hand_made_km(params), suppress_below=11)
    shown = shown_cells(fig)
    assert [shown[f"0:{c}:180"] for c in ("at_risk", "events", "censored")] == ["0", "*", "<11"]
    assert [shown[f"0:{c}:90"] for c in ("at_risk", "events", "censored")] == ["11", "<11", "<11"]
    assert shown["0:at_risk:0"] == "22" and shown["total"] == "22"
    title = fig.axes[1].get_title(loc="left")
    assert "* hidden so that a small count cannot be worked out" in title
    plt.close(fig)


def test_the_gate_passes_the_protected_figure_and_names_the_recovery_in_the_old_one(params):
    km = hand_made_km(params)
    shown = figure_io.show(ttg_figures.km_figure(km, params), params)
    assert shown.figure_id == "survival_km_a1c" and shown.panels == 1
    folder = params.output_dir / "figures"
    svg = (folder / "survival_km_a1c.svg").read_text()
    counts = json.loads((folder / "survival_km_a1c.counts.json").read_text())
    assert "figures/survival_km_a1c.counts.json" in figure_io.read_manifest(folder).at[0, "files"]
    assert not any(c["id"] == "0:events:180" and c["shown"] == "17" for c in counts["cells"])  # no hidden value kept
    funder_zip(params, "survival_km_a1c")
    assert check_funder_outputs(params.output_dir, params, raise_on_problem=False).empty

    # The same figure as primary suppression alone drew it: 17 where the table now shows "*".
    star = next(c for c in counts["cells"] if c["shown"] == "*")
    assert f'<g id="{star["gid"]}">\n    <!-- * -->' in svg
    old_svg = svg.replace(f'<g id="{star["gid"]}">\n    <!-- * -->', f'<g id="{star["gid"]}">\n    <!-- 17 -->')
    star["shown"] = "17"
    funder_zip(params, "survival_km_a1c", old_svg, json.dumps(counts))
    problems = check_funder_outputs(params.output_dir, params, raise_on_problem=False)
    assert problems["file"].tolist() == ["funder/km_figures.zip:figures/survival_km_a1c.svg"]
    assert problems.at[0, "column"] == "all: censored, day 180"
    assert "can be worked out: it must be 5, from: " in problems.at[0, "problem"]
    assert "all: at risk + events + censored = n at day 180" in problems.at[0, "problem"]

    # An SVG that disagrees with its record is named; a numbers table without a record cannot be checked.
    funder_zip(params, "survival_km_a1c", old_svg)
    problems = check_funder_outputs(params.output_dir, params, raise_on_problem=False)
    assert f"element {star['gid']}" in problems["row"].tolist()
    assert "shows '17' where the counts record says '*'" in " ".join(problems["problem"])
    (folder / "survival_km_a1c.counts.json").unlink()
    funder_zip(params, "survival_km_a1c", svg)
    assert "a numbers table without its counts record" in check_funder_outputs(
        params.output_dir, params, raise_on_problem=False).at[0, "problem"]


def test_a_hidden_n_is_hidden_in_the_legend_and_the_caption_too(params):
    """Two tracks of 6 and 16 patients, 22 in the caption: 22 - 16 gives the 6 away, so the 16 is hidden in the
    legend, at risk at day 0 and the caption alike."""
    days = EVENT_DAYS + CENSOR_DAYS
    data = pd.DataFrame({"measure": "a1c", "followed": True, "days": days, "event": [True] * 17 + [False] * 5,
                         "cause": [1] * 17 + [0] * 5, "track": ["advanced"] * 6 + ["initial"] * 16})
    km = ttg_km.kaplan_meier(data, params, "a1c", by="track")
    spec = ttg_figures.km_figure(km, params)
    fig = spec.figure
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["advanced (n = <11)", "initial (n = *)"]
    assert shown_cells(fig)["1:at_risk:0"] == "*"
    figure_io.show(spec, params)
    caption = figure_io.read_manifest(params.figures_dir).at[0, "caption"]
    assert "advanced (n < 11)" in caption and "initial (n = *)" in caption and "(n = 16)" not in caption
    assert "the 22 patients" in caption
    funder_zip(params, "survival_km_a1c_by_track")
    assert check_funder_outputs(params.output_dir, params, raise_on_problem=False).empty


def test_export_writes_captions_and_drawn_text_with_small_counts_suppressed(params):
    fig, ax = plt.subplots()
    ax.set_title("T01 (n = 7)")
    ax.plot([0, 1], label="5 patients")
    ax.legend()
    figure_io.export_figure(fig, params, "demo_fig", title="=HYPERLINK(\"x\") 3 deaths", caption="T01 (n = 7): median 20 days.",
                     alt_text="Bars of 4 of 10 teams and 2/40 patients.", notebook="00_data_quality", section="cohort")
    record = figure_io.read_manifest(params.figures_dir).iloc[0]
    assert record["caption"] == "T01 (n < 11): median 20 days."
    assert record["alt_text"] == "Bars of 4 of 10 teams and <11/40 patients."
    assert ax.get_title() == "T01 (n < 11)" and ax.get_legend().get_texts()[0].get_text() == "<11 patients"
    manifest = pd.read_csv(params.figures_dir / "manifest.csv")
    assert manifest.at[0, "title"] == "'=HYPERLINK(\"x\") <11 deaths"  # inert in a spreadsheet
    assert "counts.json" not in manifest.at[0, "files"]


def test_a_stale_counts_record_is_removed_and_never_read_as_a_figure(params):
    km = hand_made_km(params)
    figure_io.export_figure(km_chart.survival_km_chart(km), params, "fig_a", title="t", caption="c", alt_text="a", notebook="04", section="time_to_goal")
    assert (params.figures_dir / "fig_a.counts.json").exists()
    assert list(figure_io.read_manifest(params.figures_dir)["figure_id"]) == ["fig_a"]
    fig, _ = plt.subplots()
    figure_io.export_figure(fig, params, "fig_a", title="t", caption="c", alt_text="a", notebook="04", section="time_to_goal")
    assert not (params.figures_dir / "fig_a.counts.json").exists()


def test_small_bins_are_merged_with_a_neighbour():
    """[3, 20, 4, 5, 30]: the 3 joins the 20 (its only neighbour); the 4 joins the 5 (a small neighbour first);
    the 9 they make joins the 23 (the smaller of 23 and 30)."""
    assert charts.merge_small_bins([3, 20, 4, 5, 30], [0, 1, 2, 3, 4, 5], 11) == ([32, 30], [0, 4, 5])
    # a goal line at 1 the caption counts patients on either side of: the 3 cannot cross it and stays
    assert charts.merge_small_bins([3, 20, 4, 5, 30], [0, 1, 2, 3, 4, 5], 11, fixed=(1.0,)) == ([3, 29, 30], [0, 1, 4, 5])
    assert charts.merge_small_bins([0, 12, 0], [0, 1, 2, 3], 11) == ([0, 12, 0], [0, 1, 2, 3])


def test_histogram_bins_hold_no_small_count(params):
    """30-day bins of 12, 3, 0 and 20 patients: the 3 has no small neighbour and joins the 12 (the non-empty one),
    making one bin of 15 over 60 days, drawn 7.5 patients per 30 days high."""
    follow_up = pd.DataFrame({"follow_up_days": [5.0] * 12 + [40.0] * 3 + [100.0] * 20})
    fig = overview_figures.follow_up_histogram(follow_up)
    assert shown_cells(fig) == {"total": "35", "bin:0-60": "15", "bin:60-90": "0", "bin:90-120": "20"}
    assert sorted(p.get_height() for p in fig.axes[0].patches) == [7.5, 20.0]
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["15", "20"]
    plt.close(fig)


def test_patients_per_team_hides_a_small_team_and_the_one_that_would_give_it_away():
    """Teams of 7, 30 and 45 patients; the caption states 82 in all and the largest (45). Showing 30 would leave
    82 - 45 - 30 = 7, so it is hidden too: x + y = 37 with x in 1..10 and y >= 11 leaves x anywhere in 1..10."""
    table = pd.DataFrame({"team_name": ["A", "B", "C"], "patients": [7, 30, 45]})
    fig = overview_figures.patients_per_team_chart(table)
    shown = shown_cells(fig)
    assert [shown[f"team:{i}"] for i in range(3)] == ["<11", "*", "45"]
    assert [round(p.get_width()) for p in fig.axes[0].patches] == [45]  # no bar for a hidden count
    plt.close(fig)


def test_a_share_at_goal_implying_a_small_count_is_not_drawn():
    """5% of 100 paired patients at goal is 5 patients: the baseline dot is not drawn; 50% (50 patients) is."""
    change = pd.DataFrame({"measure": ["a1c"], "goal": ["a1c < 8"], "group": ["all"], "n": [100],
                           "pct_goal_baseline": [5.0], "pct_goal_followup": [50.0]})
    fig = outcomes_figures.outcome_goal_chart(change)
    ax = fig.axes[0]
    baseline, followup = (c.get_offsets() for c in ax.collections)
    assert np.ma.getmaskarray(baseline).all()
    assert list(followup[:, 0]) == [50.0]
    assert any("a % hidden" in t.get_text() for t in ax.texts)
    plt.close(fig)


def _embedded_fonts(pdf_path) -> list:
    """The TrueType fonts a PDF embeds (FontFile2 of each descendant font), as fontTools fonts."""
    import io

    from fontTools.ttLib import TTFont
    from pypdf import PdfReader

    fonts = []
    for font in PdfReader(pdf_path).pages[0]["/Resources"]["/Font"].values():
        for descendant in font.get_object().get("/DescendantFonts", []):
            data = descendant.get_object()["/FontDescriptor"]["/FontFile2"].get_object().get_data()
            fonts.append(TTFont(io.BytesIO(data)))
    return fonts


def test_a_pdf_embeds_its_fonts_without_layout_tables_and_keeps_its_text(tmp_path, monkeypatch):
    """The PDF's font subsets leave out GSUB/GPOS/GDEF (no reader uses them; they were a third of the export
    time); the glyphs, the text a reader copies and fontTools' own defaults afterwards are unchanged."""
    from fontTools import subset
    from pypdf import PdfReader

    monkeypatch.setenv(figure_io.FORMATS_ENV, "pdf")
    default = list(subset.Options._drop_tables_default)
    fig, ax = plt.subplots()
    ax.set_title("Share at goal, fi ligature")
    ax.plot([0, 1], [0, 1])
    figure_io.export_figure(fig, tmp_path, "probe", title="t", caption="c", alt_text="a", notebook="n",
                            section="cohort")
    fonts = _embedded_fonts(tmp_path / "figures" / "probe.pdf")
    assert fonts and all("glyf" in f and "cmap" in f for f in fonts)
    assert not any(table in f for f in fonts for table in figure_io.LAYOUT_TABLES)
    assert "Share at goal, fi ligature" in PdfReader(tmp_path / "figures" / "probe.pdf").pages[0].extract_text()
    assert subset.Options._drop_tables_default == default
    # matplotlib alone keeps them: what the export leaves out is there to leave out
    with plt.rc_context(figure_io.HOUSE_STYLE):
        fig.savefig(tmp_path / "plain.pdf", format="pdf")
    assert any(table in f for f in _embedded_fonts(tmp_path / "plain.pdf") for table in figure_io.LAYOUT_TABLES)


def test_a_notebook_shows_the_exported_png_at_a_third_of_its_resolution(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.delenv(figure_io.FORMATS_ENV, raising=False)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    spec = figure_io.FigureSpec("probe", fig, "t", "c", "a", "cohort", "n")
    shown = figure_io.show(spec, tmp_path)
    with Image.open(tmp_path / "figures" / "probe.png") as exported, Image.open(io.BytesIO(shown.png)) as small:
        assert exported.info["dpi"][0] == pytest.approx(300, abs=1) and small.info["dpi"][0] == pytest.approx(100, abs=1)
        assert small.size == tuple(-(-n // 3) for n in exported.size)
        # a block's average: the pixel at the top left of the small image is the mean of the 3x3 block it stands for
        block = np.asarray(exported.convert("RGBA"))[:3, :3].reshape(-1, 4).mean(axis=0)
        assert np.allclose(np.asarray(small.convert("RGBA"))[0, 0], block, atol=1)
    monkeypatch.setenv(figure_io.FORMATS_ENV, "svg")  # no PNG exported: drawn at 100 dpi instead
    fig2, ax2 = plt.subplots()
    ax2.plot([0, 1])
    shown2 = figure_io.show(figure_io.FigureSpec("probe2", fig2, "t", "c", "a", "cohort", "n"), tmp_path)
    with Image.open(io.BytesIO(shown2.png)) as drawn:
        assert drawn.info["dpi"][0] == pytest.approx(100, abs=1)
