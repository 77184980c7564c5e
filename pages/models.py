"""Every chat model the providers offer now, which one the chat uses, and a picker to change it
here (the chat page's own picker is in its sidebar, which this page does not have)."""

import streamlit as st

from chatbot.i18n import t, t_md
from pages._common import Context, page_context, show_error
from pages._cost import add_limits, limits_note
from pages._endpoints import provider_label
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

if not catalogue.models:
    st.info(t("models.none"))
    st.stop()

keys = [m.key for m in catalogue.models]


def label(key: str) -> str:
    info = catalogue.find(key)
    return f"{info.id if info else key} · {provider_label(key.partition(':')[0])}"


picked = st.selectbox(
    t_md("models.pick_for_chat", title=conversation.title) if conversation else t("models.pick_for_new_chat"),
    keys,
    index=keys.index(selected) if selected in keys else 0,
    format_func=label,
    key=f"models_pick_{conversation_id}",
)
if picked != selected:
    if conversation is not None:
        ctx.conversations.set_model(conversation.id, picked)
    else:
        NEW_CHAT_MODEL.set(picked)
    selected = picked
st.page_link("pages/chat.py", label=t("models.open_chat"), icon=":material/chat:")

ID, PROVIDER, OWNER, CONTEXT, MAX_OUTPUT, SELECTED = (
    t(k)
    for k in ("models.id", "models.provider", "models.owner", "models.context", "models.max_output", "models.selected")
)
rows = [
    {
        SELECTED: m.key == selected,
        ID: m.id,
        PROVIDER: provider_label(m.provider),  # Groq, the built-in model, or an endpoint's name
        OWNER: m.owned_by,
        CONTEXT: m.context_window,
        MAX_OUTPUT: m.max_completion_tokens,
    }
    for m in catalogue.models
]
add_limits(rows, catalogue.models)  # each Groq model's limits as last seen (pages/_cost.py)
# Columns wide enough for their headings, and numbers with thousands separators (as on the
# Usage page).
st.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    column_config={
        ID: st.column_config.TextColumn(width="large"),
        PROVIDER: st.column_config.TextColumn(width="medium"),
        OWNER: st.column_config.TextColumn(width="medium"),
        CONTEXT: st.column_config.NumberColumn(format="localized", width="medium"),
        MAX_OUTPUT: st.column_config.NumberColumn(format="localized", width="medium"),
        SELECTED: st.column_config.CheckboxColumn(width="small"),
    },
)
st.caption(t("models.hint"))
limits_note()  # what the limit columns are (pages/_cost.py)
