"""The headline slides (evaluation/report/slides.py), read back with python-pptx: a title slide, one slide per
headline finding with its figure (alt text, caption, notes) or its section's findings, the about slide; all
inside a 16:9 slide, no small count in any text, and the same bytes from the same story."""
from __future__ import annotations

import time
import zipfile

import matplotlib.pyplot as plt
import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from evaluation.core.disclosure import small_counts_in_text
from evaluation.core.params import check
from evaluation.report.contents import FindingGroup, Story, StoryFigure, StorySection
from evaluation.report.findings import Headline
from evaluation.report.funder import suppression_note
from evaluation.report.methods import limitations, methods
from evaluation.report.slides import write_slides

LONG = ("HbA1c: half of the 278 patients not at goal at baseline reached it within 373 days (upper confidence "
        "limit not reached, log-log), and half of the 120 patients on the advanced track within 300 days, "
        "a difference the log-rank test does not distinguish from chance (p = 0.94).")


@pytest.fixture
def params(tmp_path, tiny_cohort):
    return check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "title": "Tiny cohort", "report": {"prepared_by": "The evaluation team"}})


def _png(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=size, dpi=100)
    ax.plot([0, 1, 2], [3, 1, 2])
    fig.savefig(path)
    plt.close(fig)


@pytest.fixture
def story(params):
    """A story of three figures (wide, tall, and one whose caption runs long), four headlines (two with a
    figure, one whose section has more findings, one with a figure that has no PNG)."""
    _png(params.output_dir / "figures" / "wide.png", (8, 4.5))
    _png(params.output_dir / "figures" / "tall.png", (4, 6))
    wide = StoryFigure(3, "wide", "Change in HbA1c", "Mean HbA1c fell from 9.0 to 8.0; 5 patients had no follow-up.",
                       "Line chart of mean HbA1c falling from 9.0 to 8.0.", "figures/wide.png", ("figures/wide.png",))
    tall = StoryFigure(4, "tall", "Run chart of HbA1c at goal", " ".join(["Each team's share at goal rose."] * 200),
                       "Run charts, one per team, of the share at goal.", "figures/tall.png", ("figures/tall.png",))
    draft = StoryFigure(5, "draft", "Draft figure", "No PNG in a draft run.", "Nothing drawn.", "", ())
    summary = [Headline("outcomes", "HbA1c fell by 1.0 point (95% CI 0.7 to 1.3; n = 367).", "wide"),
               Headline("time_to_goal", LONG, "tall"),
               Headline("value", "Readmissions fell 56% after enrollment.", None),
               Headline("engagement", "Attendance fell across the cycle.", "draft")]
    findings = [FindingGroup("value", "Value and return on investment",
                             ["Readmissions fell 56% after enrollment.", "Net return $675,123 (net ROI 132%).",
                              "ED visits fell 17% among 590 patients."])]
    sections = [StorySection("outcomes", "Clinical outcomes", [wide, tall, draft], [])]
    return Story("Tiny cohort", "tiny", "2016-12-31", suppression_note(params), summary, findings, sections,
                 methods(params), limitations(params), [])


@pytest.fixture
def deck(params, story):
    return Presentation(str(write_slides(params, story)))


def _texts(slide) -> list[str]:
    out = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
    if slide.has_notes_slide:
        out.append(slide.notes_slide.notes_text_frame.text)
    return out


def _pictures(slide):
    return [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]


def test_one_slide_per_headline_between_the_title_and_about_slides(deck, story):
    slides = list(deck.slides)
    assert len(slides) == 1 + len(story.summary) + 1
    title = " ".join(_texts(slides[0]))
    assert "Tiny cohort" in title and "2016-12-31" in title and "tiny" in title and "The evaluation team" in title
    for slide, h in zip(slides[1:], story.summary):
        assert slide.shapes.title.text_frame.text == h.text
    about = slides[-1]
    body = " ".join(s.text_frame.text for s in about.shapes if s.has_text_frame)
    assert story.disclosure_note in body  # once: a methods note that repeats the rule is left out
    assert all(f"{m.label}: " in body for m in story.methods if m.text != story.disclosure_note)
    notes = about.notes_slide.notes_text_frame.text  # every method and limitation in full
    assert all(m.text in notes for m in story.methods) and all(t in notes for t in story.limitations)


def test_deck_is_16_by_9_and_every_shape_is_on_its_slide(deck):
    assert deck.slide_width / deck.slide_height == pytest.approx(16 / 9, rel=1e-3)
    for slide in deck.slides:
        for s in slide.shapes:
            assert s.left >= 0 and s.top >= 0, s.name
            assert s.left + s.width <= deck.slide_width and s.top + s.height <= deck.slide_height, s.name


def test_figure_slides_carry_the_picture_alt_text_caption_and_notes(deck, story, params):
    slides = list(deck.slides)
    for slide, h in zip(slides[1:3], story.summary[:2]):
        f = story.figure(h.figure_id)
        (picture,) = _pictures(slide)
        assert picture._element.nvPicPr.cNvPr.get("descr") == f.alt_text
        with Image.open(params.output_dir / f.png) as im:  # the aspect ratio is kept
            assert picture.width / picture.height == pytest.approx(im.width / im.height, rel=0.01)
        notes = slide.notes_slide.notes_text_frame.text
        assert notes.startswith(f"Figure {f.number}. {f.title}.")
        caption = next(s for s in slide.shapes if s.name == "Caption")
        assert caption.text_frame.text.startswith(f"Figure {f.number}. {f.title}.")
        boxes = [slide.shapes.title, picture, caption]  # title, picture and caption do not overlap
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = (a.left + a.width <= b.left or b.left + b.width <= a.left or
                         a.top + a.height <= b.top or b.top + b.height <= a.top)
                assert apart, (a.name, b.name)
    long_caption = slides[2].notes_slide.notes_text_frame.text  # the long caption is whole in the notes only
    assert long_caption.endswith(story.figure("tall").caption)
    assert len(next(s for s in slides[2].shapes if s.name == "Caption").text_frame.text) < len(long_caption)


def test_headlines_without_a_figure_get_a_text_slide(deck):
    slides = list(deck.slides)
    value, draft = slides[3], slides[4]
    assert _pictures(value) == [] and _pictures(draft) == []
    body = " ".join(_texts(value))
    assert "Net return $675,123" in body and "ED visits fell 17%" in body


def test_a_long_headline_gets_a_smaller_font(deck):
    slides = list(deck.slides)

    def size(slide):
        return {r.font.size.pt for p in slide.shapes.title.text_frame.paragraphs for r in p.runs}

    short, long = size(slides[1]), size(slides[2])
    assert len(short) == len(long) == 1 and max(long) < max(short)


def test_no_small_count_in_any_text_of_the_deck(deck):
    texts = [t for slide in deck.slides for t in _texts(slide)]
    texts += [s._element.nvPicPr.cNvPr.get("descr") for slide in deck.slides for s in _pictures(slide)]
    assert [p for t in texts for p in small_counts_in_text(t, 11)] == []
    assert any("<11 patients had no follow-up" in t for t in texts)  # the caption's 5 patients, made safe


def test_same_story_gives_the_same_bytes_whatever_the_clock(params, story, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)  # zip entries are stamped with time.time()
    first = write_slides(params, story).read_bytes()
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    second = write_slides(params, story).read_bytes()
    assert first == second
    with zipfile.ZipFile(write_slides(params, story)) as zf:
        core = zf.read("docProps/core.xml").decode("utf-8")
    assert core.count("2016-12-31T00:00:00Z") == 2  # created and modified: the data's as-of date
