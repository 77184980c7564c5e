"""Message text and reasoning as Markdown on a page: every message, reply and Thinking
section is drawn through these two functions, so what Markdown may do with model or user
text (e.g. load remote images) is decided in one place (``chatbot.safe_markdown``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot.safe_markdown import StreamedText, safe_markdown


def markdown(text: str, where: DeltaGenerator | None = None) -> None:
    """Draw finished message text (or reasoning) as Markdown that loads no remote image."""
    (where or st).markdown(safe_markdown(text))


def stream_markdown(chunks: Iterable[str], where: DeltaGenerator | None = None) -> str:
    """Stream message text into one element with ``st.write_stream`` (half-typed Markdown
    shown closed), loading no image on the way, then draw the finished text as ``markdown``
    does; returns the text as received. Nothing is drawn for a stream without text.

    ``st.write_stream`` imports pandas on its first call; ``pages._preload`` pays for that
    when the server starts, not during a reply.
    """
    text = StreamedText()

    def passed_on() -> Iterator[str]:
        for chunk in chunks:
            if chunk:
                yield text.feed(chunk)
        yield text.flush()

    slot = (where or st).empty()
    slot.write_stream(passed_on())
    if text.received:
        slot.markdown(safe_markdown(text.received))
    return text.received
