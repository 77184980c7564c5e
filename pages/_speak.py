"""The speaker button under each reply: the reply read aloud by Groq's text-to-speech.

Cheap until clicked: the button only records which reply it belongs to (on_click); the next run
draws the audio under that reply, made once by chatbot/speech.py and kept in the database, so a
replay costs no request. Only the newest clicked reply has a player, and it plays at once.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot.conversation import Turn
from chatbot.errors import ChatError
from chatbot.i18n import t
from chatbot.speech import DEFAULT_VOICE, MAX_READ_CHARS
from pages._common import page_context, show_error
from pages._state import Key

# The reply whose speaker button was clicked last, and whether its player is yet to autoplay.
SPEAKING = Key[str | None]("speak_message")
SPEAK_FRESH = Key[bool]("speak_fresh")
# What that reply's button gave: (message id, WAV or the error), so a rerun asks nothing again.
SPOKEN = Key[tuple[str, bytes | ChatError] | None]("speak_result")


def _clicked(message_id: str) -> None:
    SPEAKING.set(message_id)
    SPEAK_FRESH.set(True)
    SPOKEN.set(None)  # a click asks again (after an error: the way to retry)


def speak_button(row: DeltaGenerator, turn: Turn, voice: str = DEFAULT_VOICE) -> None:
    """A speaker button in the reply's action ``row``; after a click, the reply's audio (or why
    not) under the reply, in the container the row is in."""
    if turn.role != "assistant" or turn.status == "streaming" or not turn.content.strip():
        return
    row.button(
        t("speech.read_aloud"),
        icon=":material/volume_up:",
        key=f"speak_{turn.id}",
        type="tertiary",
        on_click=_clicked,
        args=(turn.id,),
    )
    if SPEAKING.get(None) != turn.id:
        return
    result = SPOKEN.get(None)
    if result is None or result[0] != turn.id:
        try:
            with st.spinner(t("speech.reading")):
                outcome: bytes | ChatError = page_context().speech.read_aloud(turn.id, turn.content, voice)
        except ChatError as error:
            outcome = error
        result = (turn.id, outcome)
        SPOKEN.set(result)
    outcome = result[1]
    if isinstance(outcome, ChatError):
        show_error(outcome)
        return
    st.audio(outcome, format="audio/wav", autoplay=SPEAK_FRESH.pop(False))
    if len(turn.content) > MAX_READ_CHARS and page_context().speech.is_cut(turn.content):
        st.caption(t("speech.cut", limit=f"{MAX_READ_CHARS:,}"))
