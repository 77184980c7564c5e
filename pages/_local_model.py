"""The built-in model: which GGUF file it runs (admins choose; everyone sees which), and the
plain note that the shipped SmolLM2 is a tiny demo."""

from __future__ import annotations

import streamlit as st

from chatbot.errors import ChatError
from chatbot.i18n import t
from chatbot.local_model import ENV_VARIABLE, MAX_PATH_CHARS, LocalModelSetting
from chatbot.providers.base import ModelInfo
from chatbot.providers.local import threads
from pages._common import Context, show_error


def demo_note(ctx: Context, model: ModelInfo) -> None:
    """Under the model picker: the SmolLM2 demo answers badly, and it says so."""
    if model.provider == "local" and ctx.providers.local.is_demo:
        st.caption(t("local.demo_note"))


def local_model_section(ctx: Context, setting: LocalModelSetting) -> None:
    st.subheader(t("local.title"))
    try:
        choice = setting.choice()
        model = ctx.providers.local.model()
    except ChatError as error:
        show_error(error)
        return
    if choice.path is None:
        st.caption(t("local.demo_note"))
    else:
        st.caption(t("local.in_use", file=choice.path.name, context=model.context_window or 0, threads=threads()))
    if choice.source == "environment":
        st.caption(t("local.from_environment", variable=ENV_VARIABLE))
        return
    if not ctx.actor.admin:
        st.caption(t("local.admins_only"))
        return
    with st.form("local_model_form"):
        text = st.text_input(
            t("local.path"),
            value=str(choice.path or ""),
            max_chars=MAX_PATH_CHARS,
            placeholder="/models/Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
            help=t("local.path_help", variable=ENV_VARIABLE),
        )
        if st.form_submit_button(t("local.save")):
            try:
                chosen = setting.save(ctx.actor, text)
            except ChatError as error:
                show_error(error)
            else:
                st.success(t("local.saved", file=chosen.name) if chosen else t("local.saved_demo"))
