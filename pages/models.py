"""Every chat model the providers offer now, and which one this chat uses."""

import streamlit as st

from chatbot.i18n import t
from pages._common import Context, page_context, show_error
from pages._state import CONVERSATION, NEW_CHAT_MODEL

ctx: Context = page_context()

st.title(t("models.title"))
catalogue = ctx.catalogue()
if catalogue.error is not None:
    show_error(catalogue.error)

conversation_id = st.session_state.get(CONVERSATION)
conversation = ctx.history.summary(conversation_id) if conversation_id else None
default = ctx.default_model(catalogue)
selected = conversation.model_key if conversation else NEW_CHAT_MODEL.get(default.key if default else "")

rows = [
    {
        t("models.id"): m.id,
        t("models.provider"): t(f"provider.{m.provider}"),
        t("models.owner"): m.owned_by,
        t("models.context"): m.context_window,
        t("models.max_output"): m.max_completion_tokens,
        t("models.selected"): m.key == selected,
    }
    for m in catalogue.models
]
if rows:
    st.dataframe(rows, hide_index=True, width="stretch")
else:
    st.info(t("models.none"))
st.caption(t("models.hint"))
