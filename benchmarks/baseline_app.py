"""The tutorial pattern most Streamlit chat apps copy: the baseline for the speed figures.

History in st.session_state, every message re-rendered on every run, one st.write_stream
update per token. BASELINE_HISTORY=N preloads N messages (the same text generator as ours).
"""

import os

import streamlit as st
from groq import Groq

client = Groq()
MODEL = os.environ.get("BASELINE_MODEL", "openai/gpt-oss-20b")

if "messages" not in st.session_state:
    from benchmarks.fixtures import history_messages

    st.session_state.messages = history_messages(int(os.environ.get("BASELINE_HISTORY", "0")))

for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])

if prompt := st.chat_input("What is up?"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stream = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": m["role"], "content": m["content"]} for m in st.session_state.messages],
            stream=True,
        )
        response = st.write_stream(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    st.session_state.messages.append({"role": "assistant", "content": response})
