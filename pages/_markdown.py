"""Message text and reasoning as Markdown on a page: every message, reply and Thinking
section is drawn through these two functions, so what Markdown may do with model or user
text (e.g. load remote images) is decided in one place (``chatbot.safe_markdown``)."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot.safe_markdown import MarkdownStream, safe_markdown


def markdown(text: str, where: DeltaGenerator | None = None) -> None:
    """Draw finished message text (or reasoning) as Markdown that loads no remote image."""
    (where or st).markdown(safe_markdown(text))


def stream_markdown(chunks: Iterable[str], where: DeltaGenerator | None = None) -> str:
    """Stream message text into one element, each draw made safe on the whole text so far
    (an image's ``!`` and ``[`` may arrive in different chunks); returns the text as received.

    A hand-rolled ``st.empty()`` loop rather than ``st.write_stream``: the latter's first step
    imports numpy, pandas and pyarrow (seconds on a busy machine) to ask whether the stream is
    a dataframe. Nothing is drawn for a stream without text.
    """
    stream = MarkdownStream()
    slot: DeltaGenerator | None = None
    for chunk in chunks:
        if not chunk:
            continue
        if slot is None:
            slot = (where or st).empty()
        slot.markdown(stream.feed(chunk))
    return stream.received
