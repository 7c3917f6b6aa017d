"""The headline findings as slides: ``funder/<cohort>_headlines.pptx`` (16:9).

A title slide; then one slide per sentence of the executive summary (``story.summary``): the sentence as the
slide title, the figure that shows it scaled to fit with its aspect kept (its alt text on the picture, for
screen readers) and its numbered caption in a text box and in the speaker notes, or, when no figure shows it,
the section's other findings; a last slide with the disclosure rule and the gist of the methods and
limitations (whole in its notes). Every text is the story's (already made safe for a funder) and passes once
more through :func:`~evaluation.core.disclosure.suppress_text`.

The caption goes under the figure, or beside it when that shows the figure at least 30% larger (most figures
are wider than tall but not as wide as a 16:9 slide less a caption); a caption too long for its box is cut at
a sentence on the slide and kept whole in the notes. python-pptx measures no text, so a title or caption is
fitted by estimate (an average character a little over half the font size wide): the font shrinks step by
step until the wrapped lines fit the box. The file is dated by the data's as-of date and has the same bytes
for the same story.
"""

from __future__ import annotations

import io
from pathlib import Path

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.presentation import Presentation as Deck
from pptx.util import Emu, Inches, Pt

from evaluation.core.disclosure import suppress_text
from evaluation.core.labels import SECTIONS
from evaluation.core.outputs import atomic_write
from evaluation.core.params import Params

from .contents import Story, StoryFigure, slides_name
from .funder import FUNDER_DIR
from .ooxml import as_of_stamp, stable_zip

SLIDE_WIDTH, SLIDE_HEIGHT = Inches(13.333), Inches(7.5)  # 16:9
MARGIN = Inches(0.5)
CONTENT_WIDTH = SLIDE_WIDTH - 2 * MARGIN
LAYOUT_TITLE, LAYOUT_CONTENT, LAYOUT_TITLE_ONLY = 0, 1, 5  # python-pptx's default template
KICKER_TOP, KICKER_HEIGHT = Inches(0.3), Inches(0.4)  # the section's name above the title
TITLE_TOP, TITLE_HEIGHT = Inches(0.7), Inches(1.4)
BODY_TOP, BODY_BOTTOM = Inches(2.2), Inches(7.1)
GAP = Inches(0.1)
TITLE_SIZES = (32, 30, 28, 26, 24, 22, 20, 18)  # points, largest first
BODY_SIZES = (22, 20, 18, 16, 14, 13, 12)
CAPTION_SIZES = (13, 12, 11, 10)
CAPTION_MAX_HEIGHT = Inches(1.3)  # under a figure; a longer caption is cut on the slide, whole in the notes
SIDE_SHARE, SIDE_GAIN = 0.6, 1.3  # a tall figure takes up to 60% of the width, caption beside it, if 30% larger
CHAR_EM = 0.55  # the average character width, as a share of the font size (a little wider than Calibri's)
LINE_SPACING = 1.2
INSET_X, INSET_Y = Inches(0.1), Inches(0.05)  # a text box's default margins
BULLET_INDENT = Emu(342900)  # the template's first-level bullet indent
MAX_BULLETS = 5
SHORT_LIMIT = 110  # characters of a methods note on the about slide (the notes keep it whole)
GREY = RGBColor(0x59, 0x59, 0x59)
AUTHOR = "CMM evaluation workbench"
CUT = " (\u2026 the full caption is in the notes)"


def caption_text(f: StoryFigure) -> str:
    """``Figure 4. Title. Caption``: the figure's numbered caption, as every layout words it."""
    title = f.title.rstrip()
    return f"Figure {f.number}. {title}{'' if title.endswith(('.', '?', '!')) else '.'} {f.caption}".strip()


def _line_count(text: str, width: int, size: float) -> int:
    """Lines ``text`` wraps to in a box ``width`` EMU wide at ``size`` points (greedy, at spaces)."""
    chars = max(1, int(Emu(width).pt / (CHAR_EM * size)))
    lines, current = 0, -1
    for word in text.split():
        if current >= 0 and current + 1 + len(word) <= chars:
            current += 1 + len(word)
        else:
            lines += max(1, -(-len(word) // chars))
            current = len(word) % chars or chars
    return max(lines, 1)


def text_height(paragraphs: list[str], width: int, size: float, *, indent: int = 0, space_before: float = 0.0) -> int:
    """The height in EMU that ``paragraphs`` take in a text box ``width`` EMU wide at ``size`` points."""
    inner = width - 2 * INSET_X - indent
    lines = sum(_line_count(p, inner, size) for p in paragraphs)
    points = lines * size * LINE_SPACING + space_before * size * max(len(paragraphs) - 1, 0)
    return int(Pt(points)) + 2 * INSET_Y


def fit_size(paragraphs: list[str], width: int, height: int, sizes: tuple[int, ...], **kw) -> int | None:
    """The largest of ``sizes`` at which ``paragraphs`` fit the box, or None when none does."""
    return next((s for s in sizes if text_height(paragraphs, width, s, **kw) <= height), None)


def _fill(frame, paragraphs: list[str | tuple[str, str]], size: float, *, color: RGBColor | None = None,
          align=PP_ALIGN.LEFT, anchor=MSO_ANCHOR.TOP) -> None:
    """Put ``paragraphs`` in a text frame at ``size`` points; a (bold, plain) pair makes a lead-in label."""
    frame.clear()
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.NONE
    frame.vertical_anchor = anchor
    for i, item in enumerate(paragraphs):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        p.alignment = align
        parts = [(item[0], True), (item[1], False)] if isinstance(item, tuple) else [(item, False)]
        for text, bold in parts:
            run = p.add_run()
            run.text = text
            run.font.size = Pt(size)
            run.font.bold = bold
            if color is not None:
                run.font.color.rgb = color


def _place(shape, left: int, top: int, width: int, height: int) -> None:
    shape.left, shape.top, shape.width, shape.height = int(left), int(top), int(width), int(height)


def _title(slide, text: str, *, top: int = TITLE_TOP, height: int = TITLE_HEIGHT, sizes=TITLE_SIZES,
           align=PP_ALIGN.LEFT) -> None:
    """The slide's title placeholder (what a screen reader announces), its font shrunk to fit."""
    shape = slide.shapes.title
    _place(shape, MARGIN, top, CONTENT_WIDTH, height)
    size = fit_size([text], CONTENT_WIDTH, height, sizes) or sizes[-1]
    _fill(shape.text_frame, [text], size, align=align, anchor=MSO_ANCHOR.MIDDLE)


def _kicker(slide, text: str) -> None:
    """The section's name, small and grey above the title."""
    box = slide.shapes.add_textbox(MARGIN, KICKER_TOP, CONTENT_WIDTH, KICKER_HEIGHT)
    box.name = "Section"
    _fill(box.text_frame, [text], 14, color=GREY)


def _body(slide, paragraphs: list, top: int = BODY_TOP, bottom: int = BODY_BOTTOM) -> None:
    """The content placeholder (bulleted), placed under the title, its font shrunk to fit."""
    body = next(p for p in slide.placeholders if p.placeholder_format.idx == 1)
    _place(body, MARGIN, top, CONTENT_WIDTH, bottom - top)
    plain = [p if isinstance(p, str) else p[0] + p[1] for p in paragraphs]
    size = fit_size(plain, CONTENT_WIDTH, bottom - top, BODY_SIZES, indent=BULLET_INDENT, space_before=0.2)
    size = size or BODY_SIZES[-1]
    _fill(body.text_frame, paragraphs, size)


def _notes(slide, text: str) -> None:
    slide.notes_slide.notes_text_frame.text = text


def _cut_caption(text: str, width: int, height: int) -> tuple[str, int]:
    """The caption as the slide shows it and its font size: whole when it fits a box ``width`` by ``height``,
    else its first sentences that fit, marked as cut (the notes keep it whole)."""
    size = fit_size([text], width, height, CAPTION_SIZES)
    if size:
        return text, size
    size = CAPTION_SIZES[-1]
    sentences = text.split(". ")
    for n in range(len(sentences) - 1, 0, -1):
        shown = ". ".join(sentences[:n]).rstrip(".") + "." + CUT
        if text_height([shown], width, size) <= height:
            return shown, size
    words = text.split()
    while words and text_height([" ".join(words) + CUT], width, size) > height:
        words = words[:-1]
    return " ".join(words) + CUT, size


Box = tuple[float, float, float, float]  # left, top, width, height in EMU


def _figure_layout(aspect: float, caption: str) -> tuple[Box, Box, str, int]:
    """Where the picture and its caption go: the caption under the figure, or beside it when the figure is
    tall (a run-chart grid), whichever shows the figure larger. Returns the picture's and the caption's
    (left, top, width, height), the caption as shown and its font size."""
    body = BODY_BOTTOM - BODY_TOP
    shown, size = _cut_caption(caption, CONTENT_WIDTH, CAPTION_MAX_HEIGHT)
    under_h = text_height([shown], CONTENT_WIDTH, size)
    height = min(body - under_h - GAP, CONTENT_WIDTH / aspect)
    width = height * aspect
    under = ((MARGIN + (CONTENT_WIDTH - width) / 2, BODY_TOP, width, height),
             (MARGIN, BODY_TOP + height + GAP, CONTENT_WIDTH, under_h), shown, size)
    side_w = min(body * aspect, CONTENT_WIDTH * SIDE_SHARE)
    if side_w * (side_w / aspect) <= SIDE_GAIN * width * height:
        return under
    text_w = CONTENT_WIDTH - side_w - 3 * GAP
    side_shown, side_size = _cut_caption(caption, text_w, body)
    side = ((MARGIN, BODY_TOP, side_w, side_w / aspect),
            (MARGIN + side_w + 3 * GAP, BODY_TOP, text_w, body), side_shown, side_size)
    return side


def _figure_slide(prs, params: Params, heading: str, text: str, f: StoryFigure, safe) -> None:
    """A headline with its figure: title, picture (alt text), caption under (or beside) it, caption in the notes."""
    slide = prs.slides.add_slide(prs.slide_layouts[LAYOUT_TITLE_ONLY])
    _title(slide, text)
    _kicker(slide, heading)
    caption = safe(caption_text(f))
    picture = slide.shapes.add_picture(str(params.output_dir / f.png), MARGIN, BODY_TOP)
    frame, box_at, shown, size = _figure_layout(picture.width / picture.height, caption)
    _place(picture, *frame)
    picture.name = f"Figure {f.number}"
    picture._element.nvPicPr.cNvPr.set("descr", safe(f.alt_text))  # alt text for screen readers
    picture._element.nvPicPr.cNvPr.set("title", safe(f.title))
    box = slide.shapes.add_textbox(*(int(v) for v in box_at))
    box.name = "Caption"
    _fill(box.text_frame, [shown], size)
    _notes(slide, caption)


def _text_slide(prs, heading: str, text: str, others: list[str]) -> None:
    """A headline no figure shows: title, and the section's other findings as bullets."""
    slide = prs.slides.add_slide(prs.slide_layouts[LAYOUT_CONTENT if others else LAYOUT_TITLE_ONLY])
    if others:
        _title(slide, text)
        _body(slide, others[:MAX_BULLETS])
    else:
        _title(slide, text, top=TITLE_TOP, height=BODY_BOTTOM - TITLE_TOP, sizes=(40, 36, *TITLE_SIZES))
    _kicker(slide, heading)


def _title_slide(prs, params: Params, story: Story, safe) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[LAYOUT_TITLE])
    _title(slide, safe(story.title), top=Inches(1.9), height=Inches(1.8), sizes=(40, 36, 32, 28, 24),
           align=PP_ALIGN.CENTER)
    lines = [f"Headline findings of cohort {story.cohort_id}", f"Data as of {story.as_of}"]
    if params.report.get("prepared_by"):
        lines.append(f"Prepared by {params.report['prepared_by']}")
    subtitle = next(p for p in slide.placeholders if p.placeholder_format.idx == 1)
    _place(subtitle, MARGIN, Inches(3.9), CONTENT_WIDTH, Inches(1.8))
    _fill(subtitle.text_frame, [safe(t) for t in lines], 20, color=GREY, align=PP_ALIGN.CENTER)


def short(text: str, limit: int = SHORT_LIMIT) -> str:
    """The gist of a methods note for a slide: its first sentence, cut at a semicolon or a word (with an
    ellipsis) when longer than ``limit`` characters."""
    text = " ".join(str(text).split())
    first = text.split(". ", 1)[0].rstrip(".")
    if len(first) > limit and ";" in first[:limit]:
        return first[:limit].rsplit(";", 1)[0] + "; \u2026"
    if len(first) > limit:
        first = first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "\u2026"
    return first if first.endswith("\u2026") else first + "."


def _about_slide(prs, story: Story, safe) -> None:
    """The disclosure rule, the gist of each method and the first limitation on the slide; every method and
    limitation in full in the notes."""
    slide = prs.slides.add_slide(prs.slide_layouts[LAYOUT_CONTENT])
    _title(slide, "About these numbers", top=Inches(0.4), height=Inches(0.9))
    rule = safe(story.disclosure_note)
    shown = [m for m in story.methods if " ".join(m.text.split()) != " ".join(rule.split())]  # the rule once
    paragraphs = [("Disclosure rule: ", rule)] + [(f"{m.label}: ", safe(short(m.text))) for m in shown]
    if story.limitations:
        more = len(story.limitations) - 1
        paragraphs.append(("Limitations: ", safe(short(story.limitations[0])) +
                           (f" ({more} more in the notes.)" if more else "")))
    _body(slide, paragraphs, top=Inches(1.4))
    _notes(slide, "\n".join([f"Disclosure rule: {rule}", *(f"{m.label}: {safe(m.text)}" for m in story.methods),
                             *(f"Limitation: {safe(t)}" for t in story.limitations)]))


def headline_deck(params: Params, story: Story) -> Deck:
    """The deck: title slide, one slide per headline finding, the about-these-numbers slide."""
    def safe(text: str) -> str:
        return suppress_text(str(text), params.suppress_below)

    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_WIDTH, SLIDE_HEIGHT
    _title_slide(prs, params, story, safe)
    groups = {g.key: g.sentences for g in story.findings}
    for h in story.summary:
        heading = SECTIONS.get(h.section, h.section)
        f = story.figure(h.figure_id)
        if f is not None and f.png and (params.output_dir / f.png).is_file():
            _figure_slide(prs, params, heading, safe(h.text), f, safe)
        else:
            others = [safe(s) for s in groups.get(h.section, []) if s.strip() != h.text.strip()]
            _text_slide(prs, heading, safe(h.text), others)
    _about_slide(prs, story, safe)
    stamp = as_of_stamp(params)
    props = prs.core_properties
    props.created = props.modified = stamp
    props.last_modified_by = props.author = AUTHOR
    props.title = f"{story.title}: headline findings"
    props.revision = 1
    return prs


def write_slides(params: Params, story: Story) -> Path:
    """Write ``funder/<cohort>_headlines.pptx`` (the same story gives the same bytes); return its path."""
    buffer = io.BytesIO()
    headline_deck(params, story).save(buffer)
    path = params.output_dir / FUNDER_DIR / slides_name(params)
    atomic_write(path, stable_zip(buffer.getvalue(), as_of_stamp(params)))
    return path
