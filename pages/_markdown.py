"""Message text and reasoning as Markdown on a page: every message, reply and Thinking
section is drawn through these two functions, so what Markdown may do with model or user
text (e.g. load remote images) is decided in one place (``chatbot.safe_markdown``)."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def markdown(text: str, where: DeltaGenerator | None = None) -> None:
    """Draw finished message text (or reasoning) as Markdown."""
    (where or st).markdown(text)


def stream_markdown(chunks: Iterable[str], where: DeltaGenerator | None = None) -> str:
    """Stream message text into one element; returns the text as received (not as drawn)."""
    received: list[str] = []

    def tee() -> Iterable[str]:
        for chunk in chunks:
            received.append(chunk)
            yield chunk

    (where or st).write_stream(tee())
    return "".join(received)
