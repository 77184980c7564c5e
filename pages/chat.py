"""The chat: the open conversation, the model picker, one streamed turn."""

from collections.abc import Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot import exporting
from chatbot.errors import ChatError, InvalidInput, ModelUnavailable
from chatbot.i18n import t
from chatbot.providers.base import ModelInfo, ReasoningDelta, StreamEvent, TextDelta
from chatbot.service import PendingTurn, ReplyState, Turn
from chatbot.streaming import coalesce
from pages._common import CONVERSATION, Context, page_context, show_error

ctx: Context = page_context()
service = ctx.service

if CONVERSATION not in st.session_state:  # a fresh browser session: the URL says which chat
    st.session_state[CONVERSATION] = st.query_params.get("c")
conversation_id: str | None = st.session_state[CONVERSATION]
conversation = service.conversation(conversation_id) if conversation_id else None
if conversation_id and conversation is None:
    st.session_state[CONVERSATION] = conversation_id = None
    st.query_params.clear()

catalogue = ctx.catalogue()
if catalogue.error is not None:
    show_error(catalogue.error)
default = ctx.default_model(catalogue)
if default is None:
    show_error(ChatError("error.no_models", {}, ("install_local",)))
    st.stop()


def model_label(key: str) -> str:
    info = catalogue.find(key)
    where = t("provider.groq") if key.startswith("groq:") else t("provider.local")
    return f"{info.id if info else key} · {where}"


# The conversation keeps its own model; one that is gone falls back to the default, said once.
wanted = conversation.model_key if conversation else st.session_state.get("new_chat_model", default.key)
if catalogue.find(wanted) is None:
    if conversation is not None:
        st.info(t("chat.model_gone", old=conversation.model, new=default.id), icon=":material/swap_horiz:")
    wanted = default.key
keys = [m.key for m in catalogue.models]
with st.sidebar:
    st.divider()
    chosen_key = st.selectbox(
        t("sidebar.model"), keys, index=keys.index(wanted), format_func=model_label, key=f"model_{conversation_id}"
    )
    stats_slot = st.empty()
model: ModelInfo = catalogue.find(chosen_key) or default
if conversation is not None and chosen_key != conversation.model_key:
    service.set_model(conversation.id, chosen_key)
elif conversation is None:
    st.session_state["new_chat_model"] = chosen_key


def show_stats(turn: Turn | None) -> None:
    if turn is None or turn.role != "assistant" or turn.completion_tokens is None:
        return
    stats_slot.caption(
        t(
            "chat.stats",
            tokens=turn.completion_tokens,
            rate=f"{turn.tokens_per_second:.0f}" if turn.tokens_per_second else "–",
            ttft=f"{turn.time_to_first_token:.2f}" if turn.time_to_first_token else "–",
        )
    )


def show_turn(turn: Turn) -> None:
    with st.chat_message(turn.role):
        if turn.reasoning:
            with st.expander(t("chat.thinking"), icon=":material/psychology:"):
                st.markdown(turn.reasoning)
        st.markdown(turn.content)
        if turn.status in ("stopped", "interrupted", "error"):
            st.caption(t(f"status.{turn.status}"))
            if turn.error_code:
                st.caption(t(turn.error_code))


turns = service.messages(conversation_id) if conversation_id else []
if not turns:
    st.title(t("chat.empty_title"))
    st.caption(t("chat.empty_hint", model=model.id))
for turn in turns:
    show_turn(turn)
show_stats(turns[-1] if turns else None)

if conversation is not None and turns:
    with st.sidebar:
        st.caption(t("sidebar.export"))
        left, right = st.columns(2)
        left.download_button(
            "Markdown", lambda: exporting.to_markdown(conversation, turns), file_name=exporting.file_name(conversation, "md"),
            mime="text/markdown", icon=":material/download:", on_click="ignore",
        )
        right.download_button(
            "JSON", lambda: exporting.to_json(conversation, turns), file_name=exporting.file_name(conversation, "json"),
            mime="application/json", icon=":material/download:", on_click="ignore",
        )


def text_only(events: Iterator[StreamEvent], thinking: DeltaGenerator) -> Iterator[str]:
    """Text for st.write_stream; reasoning goes to its own collapsible section as it arrives."""
    reasoning: list[str] = []
    box = None
    for event in events:
        if isinstance(event, TextDelta):
            yield event.text
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
            if box is None:
                box = thinking.expander(t("chat.thinking"), icon=":material/psychology:", expanded=False).empty()
            box.markdown("".join(reasoning))


def stream(pending: PendingTurn) -> None:
    state = ReplyState()
    with st.chat_message("assistant"):
        thinking = st.container()
        try:
            st.write_stream(coalesce(text_only(service.stream_reply(pending, state), thinking)))
        except ChatError as error:
            show_error(error)
            if isinstance(error, ModelUnavailable):
                service.set_model(pending.conversation_id, default.key)
                st.info(t("chat.switched_model", model=default.id))
    latest = service.messages(pending.conversation_id)
    show_stats(latest[-1] if latest else None)


prompt = st.chat_input(t("chat.placeholder"), key="prompt", submit_mode="stop")
if prompt is not None:
    try:
        pending = service.start_turn(conversation_id, prompt, model, ctx.settings)
    except InvalidInput as error:
        show_error(error)
    else:
        if pending.conversation_id != conversation_id:
            st.session_state[CONVERSATION] = pending.conversation_id
        st.query_params["c"] = pending.conversation_id
        with st.chat_message("user"):
            st.markdown(prompt)
        stream(pending)
        if pending.conversation_id != conversation_id:
            st.rerun()  # the new conversation joins the sidebar list
elif turns and turns[-1].role == "assistant" and turns[-1].status in ("interrupted", "error"):
    if st.button(t("action.retry"), icon=":material/refresh:"):
        stream(service.retry_turn(conversation_id, model, ctx.settings))
        st.rerun()
