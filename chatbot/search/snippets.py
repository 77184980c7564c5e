"""Snippets as (text, highlighted) segments, and their safe Markdown form.

SQL marks matches with two private-use characters; we split on them here, so no markup from
the database (or from a hostile imported message) is ever interpreted by the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from chatbot.safe_markdown import escape_markdown as safe_escape_markdown
from chatbot.search.query import Term

START, END = "\ue000", "\ue001"
Segment = tuple[str, bool]
CONTEXT_BEFORE = 30
WINDOW = 110

_SPACE = re.compile(r"\s+")


def _tidy(text: str) -> str:
    return _SPACE.sub(" ", text)


def from_marked(text: str) -> tuple[Segment, ...]:
    """Split SQL's marked text into segments; tolerant of unbalanced markers."""
    segments: list[Segment] = []
    highlighted = False
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            piece = _tidy("".join(buffer))
            if piece:
                segments.append((piece, highlighted))
            buffer.clear()

    for ch in text or "":
        if ch in (START, END):
            flush()
            highlighted = ch == START
        else:
            buffer.append(ch)
    flush()
    return tuple(_merge(segments))


def _merge(segments: Iterable[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for text, hot in segments:
        if out and out[-1][1] == hot:
            out[-1] = (out[-1][0] + text, hot)
        else:
            out.append((text, hot))
    return out


def around_terms(text: str, terms: Iterable[Term]) -> tuple[Segment, ...]:
    """A window of ``text`` around the first match of any term, every match in it marked.

    Used where the database gives no snippet (LIKE matches). Case-insensitive like LIKE.
    """
    words = sorted({t.text for t in terms if t.text}, key=len, reverse=True)
    if not words:
        return ((_tidy(text[:WINDOW]), False),) if text else ()
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    first = pattern.search(text)
    start = max(0, first.start() - CONTEXT_BEFORE) if first else 0
    end = min(len(text), start + WINDOW)
    window = text[start:end]
    segments: list[Segment] = []
    if start > 0:
        segments.append(("…", False))
    position = 0
    for match in pattern.finditer(window):
        if match.start() > position:
            segments.append((window[position : match.start()], False))
        segments.append((match.group(0), True))
        position = match.end()
    if position < len(window):
        segments.append((window[position:], False))
    if end < len(text):
        segments.append(("…", False))
    return tuple(_merge((_tidy(s), hot) for s, hot in segments if s))


def plain(segments: Iterable[Segment]) -> str:
    return "".join(text for text, _ in segments)


def escape_markdown(text: str) -> str:
    """Everything Markdown (and Streamlit's :color[...] / $math$ / autolinks) could read, made
    literal: see ``chatbot.safe_markdown.escape_markdown``."""
    return safe_escape_markdown(text)


def to_markdown(segments: Iterable[Segment]) -> str:
    """Segments as Markdown: text escaped, matches highlighted."""
    parts = []
    for text, hot in segments:
        escaped = escape_markdown(text)
        if hot and text.strip():
            parts.append(f":orange-background[**{escaped}**]")
        else:
            parts.append(escaped)
    return "".join(parts)


def mark_terms(segments: Iterable[Segment], terms: Iterable[Term]) -> tuple[Segment, ...]:
    """Also mark ``terms`` inside the unmarked parts (short terms the index did not mark)."""
    words = sorted({t.text for t in terms if t.text}, key=len, reverse=True)
    if not words:
        return tuple(segments)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[Segment] = []
    for text, hot in segments:
        if hot:
            out.append((text, True))
            continue
        position = 0
        for match in pattern.finditer(text):
            if match.start() > position:
                out.append((text[position : match.start()], False))
            out.append((match.group(0), True))
            position = match.end()
        if position < len(text):
            out.append((text[position:], False))
    return tuple(_merge(out))
