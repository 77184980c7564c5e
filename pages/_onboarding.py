"""The empty chat's first-run note: with no Groq key, replies come from a tiny offline demo model;
where to get a key, and a field to paste one (kept in this browser session only, as on the
Settings page)."""

import streamlit as st

from chatbot.i18n import t
from pages._common import Context
from pages._state import API_KEY, NEW_CHAT_MODEL

GROQ_KEYS_URL = "https://console.groq.com/keys"
MAX_KEY_CHARS = 200  # Groq keys are 56 characters; anything far longer is not a key


def first_run(ctx: Context) -> None:
    """Drawn in the empty chat; nothing once a key is in use."""
    if ctx.providers.api_key:
        return
    with st.container(border=True, key="onboarding"):
        st.info(t("onboarding.demo_model") + " " + t("onboarding.get_key", url=GROQ_KEYS_URL), icon=":material/key:")
        with st.form("onboarding_form", clear_on_submit=True, border=False):
            pasted = st.text_input(
                t("onboarding.key_input"),
                type="password",
                placeholder="gsk_…",
                max_chars=MAX_KEY_CHARS,
                help=t("onboarding.key_help", limit=MAX_KEY_CHARS),
                key="onboarding_key",
            )
            if st.form_submit_button(t("settings.use_key"), key="onboarding_use_key") and pasted.strip():
                st.session_state[API_KEY] = pasted.strip()
                NEW_CHAT_MODEL.pop("")  # a new chat picks the best model again
                st.rerun()
