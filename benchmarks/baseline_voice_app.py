"""The smallest voice input a Streamlit app can have: the baseline for transcription_to_input.

A chat input with a microphone; on submit the recording is transcribed with the groq SDK and the
text put back into the input through session state, to read before sending.
"""

import streamlit as st
from groq import Groq

client = Groq()


def on_submit() -> None:
    value = st.session_state.prompt
    if value is not None and value.audio is not None:
        heard = client.audio.transcriptions.create(
            file=(value.audio.name, value.audio.getvalue()), model="whisper-large-v3-turbo"
        )
        st.session_state.prompt = heard.text.strip()


if prompt := st.chat_input("Say something", key="prompt", accept_audio=True, on_submit=on_submit):
    st.chat_message("user").write(prompt.text)
