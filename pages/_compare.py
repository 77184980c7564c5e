"""Compare mode in the chat: 2 to 4 models answer one message side by side (chatbot/compare.py).

The sidebar's "Compare models" switch shows the choice of models and blind mode; the chat's
fragment calls ``compare_panel``, which draws the comparison (streaming, or as saved) under the
history and sends the next message to every model on its own branch. The replies stream in
threads of the core, not of this page run: a column's Stop (a rerun of the fragment) stops that
model only, and a reload finds every reply saved. Columns stack on a narrow screen, as
Streamlit's columns do.

Blind mode shows "Reply A", "Reply B"... in a random order until the user votes; the vote
(chatbot/votes.py) then reveals the models. The order shown is fixed by the round and the person
(chatbot.compare.blind_order) and blind mode is kept with the round's questions, so a reload or
another tab shows the same hidden order.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from chatbot.compare import LABELS, MAX_MODELS, Compare, Comparing, Comparison, Lane, LiveLane
from chatbot.conversation import Turn
from chatbot.errors import ChatError, restore
from chatbot.i18n import t
from chatbot.providers import Catalogue
from chatbot.reply import TurnSetup
from chatbot.votes import Verdict, Votes
from pages import _cost
from pages._common import Context, show_error
from pages._markdown import markdown
from pages._state import CONVERSATION, NEW_CHAT_PRESET, Key

COMPARE_ON = Key[bool]("compare_on")  # the sidebar's "Compare models" switch
COMPARE_MODELS = Key[list[str]]("compare_models")  # the sidebar's choice: a new message compares these
BLIND = Key[bool]("compare_blind")  # the sidebar's blind-mode switch
COMPARE_REFUSED = Key[ChatError | None]("compare_refused")  # a refused vote or choice (said on the next run)
LIVE_COMPARISON = Key[Comparison | None]("compare_live")  # the round streaming now
FULL_RUN = Key[bool]("compare_full_run")  # a button in the chat's fragment changed what the whole page shows
REDRAW_EVERY = 0.25  # seconds between redraws of the streaming columns (each redraw sends every column's text)
STOP_WAIT = 10.0  # seconds a new message waits for the stopped replies of the round before to be saved


def _services(ctx: Context) -> tuple[Compare, Votes]:
    return Compare(ctx.turns, ctx.sessions, ctx.turns.owner), Votes(ctx.sessions, ctx.turns.owner)


def compare_controls(catalogue: Catalogue, label: Callable[[str], str]) -> None:
    """The sidebar's "Compare models" switch and, while it is on, the models and blind mode (main
    run). Drawn only when on: the multiselect is the heaviest element every chat page would
    otherwise draw. Off, Streamlit drops the choices it no longer draws, so one model answers."""
    if not st.toggle(t("compare.models"), key=str(COMPARE_ON), help=t("compare.models_help", high=MAX_MODELS)):
        return
    keys = [m.key for m in catalogue.models]
    chosen = [k for k in COMPARE_MODELS.get([]) if k in keys]
    if chosen != COMPARE_MODELS.get([]):
        COMPARE_MODELS.set(chosen)  # a model gone from the list leaves the choice
    st.multiselect(
        t("compare.choose"),
        keys,
        key=str(COMPARE_MODELS),
        max_selections=MAX_MODELS,
        format_func=label,
        placeholder=t("compare.models_placeholder"),
        label_visibility="collapsed",
    )
    st.toggle(t("compare.blind"), key=str(BLIND), help=t("compare.blind_help"))


def stats_line(ttft: float | None, rate: float | None, tokens: int | None) -> str:
    parts = []
    if tokens:
        parts.append(t("compare.tokens", count=tokens))
    if ttft is not None:
        parts.append(t("usage.ttft", seconds=f"{ttft:.2f}"))
    if rate:
        parts.append(t("usage.rate", rate=f"{rate:.0f}"))
    return " · ".join(parts)


def _stop_lane(comparison: Comparison, index: int) -> None:
    comparison.stop(index)


def _heading(label: str, model: str, hidden: bool, blind: bool) -> str:
    if hidden:
        return t("compare.reply_label", label=label)
    return t("compare.reply_label_model", label=label, model=model) if blind else model


def _stop_all(comparison: Comparison) -> None:
    comparison.stop_all()


@st.fragment(run_every=REDRAW_EVERY)
def _streaming() -> None:
    """The round as it streams, redrawn every REDRAW_EVERY seconds by its own short runs: a
    column per model with its text, stats and own Stop. (A loop in one long run would hold back
    the Stop buttons' clicks until it ended: a click in a fragment never interrupts a run.)"""
    comparison = LIVE_COMPARISON.get(None)
    if comparison is None or comparison.conversation_id != CONVERSATION.get(None):
        return
    done = not comparison.running  # read before drawing: the last draw shows the final text
    for i, (column, lane) in enumerate(
        zip(st.columns(len(comparison.lanes), border=True), comparison.lanes, strict=True)
    ):
        with column:
            st.markdown(f"**{_heading(lane.label, lane.model.id, comparison.blind, comparison.blind)}**")
            _draw_live(lane)
            st.button(
                t("compare.stop"),
                icon=":material/stop_circle:",
                key=f"compare_stop_{i}",
                disabled=lane.stop.is_set() or lane.done,
                on_click=_stop_lane,
                args=(comparison, i),
            )
    if not done:
        st.button(
            t("compare.stop_all"),
            icon=":material/stop:",
            key="compare_stop_all",
            on_click=_stop_all,
            args=(comparison,),
        )
        return
    LIVE_COMPARISON.set(None)
    st.rerun()  # the whole page: the round as saved, with its votes and buttons


def compare_stream() -> None:
    """The main run's place for a round that streams (under the history, above the chat's own
    fragment); nothing when none does."""
    comparison = LIVE_COMPARISON.get(None)
    if comparison is not None and st.session_state.get("show_final"):
        comparison.stop_all()  # this run redraws after the chat input's Stop (pages/_chat_view.html)
    if comparison is not None and comparison.conversation_id == CONVERSATION.get(None):
        _streaming()


def _draw_live(lane: LiveLane) -> None:
    with st.chat_message("assistant"):
        if lane.text:
            markdown(lane.text)
        elif not lane.done:
            st.caption(t("compare.waiting"))
        if lane.done and lane.error is not None:
            show_error(lane.error)
        elif lane.status == "stopped":
            st.caption(t("compare.stopped"))
        if line := stats_line(lane.time_to_first_token, lane.tokens_per_second, lane.tokens):
            st.caption(line)


def _choose(compare: Compare, conversation_id: str, lane: Lane) -> None:
    try:
        compare.choose(conversation_id, lane)
    except ChatError as error:
        COMPARE_REFUSED.set(error)
        return
    COMPARE_MODELS.set([])  # one model again: the next message goes to this branch only
    COMPARE_ON.set(False)
    FULL_RUN.set(True)  # the history above (the main run's) now goes down this branch


def _vote(votes: Votes, conversation_id: str, shown: list[str], verdict: Verdict) -> None:
    try:
        votes.vote_pair(conversation_id, (shown[0], shown[1]), verdict)
    except ChatError as error:
        COMPARE_REFUSED.set(error)


def _vote_ranking(votes: Votes, conversation_id: str, shown: list[str]) -> None:
    ranks = {mid: int(st.session_state.get(f"compare_rank_{mid}", i + 1)) for i, mid in enumerate(shown)}
    try:
        votes.vote_ranking(conversation_id, ranks)
    except ChatError as error:
        COMPARE_REFUSED.set(error)


def saved(compare: Compare, votes: Votes, conversation_id: str, comparing: Comparing) -> None:
    """The comparison as saved: each model's branch in its column, its stats and errors; in a
    blind round, the replies as "Reply A"... until the vote."""
    blind = comparing.blind
    vote = votes.verdict_on(conversation_id, [r.id for r in comparing.newest_replies]) if blind else None
    hidden = blind and vote is None
    lanes = comparing.shown_lanes  # a blind round's letters stay with its replies, before and after the vote
    columns = st.columns(len(lanes), border=True)
    for i, (column, lane) in enumerate(zip(columns, lanes, strict=True)):
        with column:
            st.markdown(f"**{_heading(LABELS[i], lane.model, hidden, blind)}**")
            turns = [lane.newest_reply] if hidden and lane.newest_reply else lane.turns
            for turn in turns:
                _draw_turn(turn, hidden)
            if hidden and len(lanes) > 2 and lane.newest_reply is not None:
                st.selectbox(
                    t("compare.rank"),
                    list(range(1, len(lanes) + 1)),
                    index=i,
                    key=f"compare_rank_{lane.newest_reply.id}",
                )
            if not hidden:
                st.button(
                    t("compare.continue_with"),
                    icon=":material/check:",
                    key=f"compare_choose_{lane.leaf}",
                    on_click=_choose,
                    args=(compare, conversation_id, lane),
                )
    if hidden:
        shown = [lane.newest_reply.id for lane in lanes if lane.newest_reply is not None]
        _vote_buttons(votes, conversation_id, shown)
    elif vote is not None:
        st.caption(t("compare.voted"))
    st.caption(t("compare.keep_comparing", count=len(lanes)))
    if (refused := COMPARE_REFUSED.pop(None)) is not None:
        show_error(refused)


def _vote_buttons(votes: Votes, conversation_id: str, shown: list[str]) -> None:
    st.caption(t("compare.vote_prompt"))
    row = st.container(horizontal=True, gap="small", key="compare_votes")
    if len(shown) == 2:
        verdicts: list[tuple[Verdict, str]] = [
            ("a", t("compare.vote_a")),
            ("b", t("compare.vote_b")),
            ("tie", t("compare.vote_tie")),
            ("both_bad", t("compare.vote_both_bad")),
        ]
        for verdict, text in verdicts:
            row.button(
                text, key=f"compare_vote_{verdict}", on_click=_vote, args=(votes, conversation_id, shown, verdict)
            )
    else:
        row.button(
            t("compare.vote_ranking"),
            icon=":material/how_to_vote:",
            key="compare_vote_ranking",
            on_click=_vote_ranking,
            args=(votes, conversation_id, shown),
        )


def _draw_turn(turn: Turn, hidden: bool) -> None:
    with st.chat_message(turn.role):
        if turn.content:
            markdown(turn.content)
        if turn.error_code:
            show_error(restore(turn.error_code, turn.error_values))
        elif turn.status == "stopped":
            st.caption(t("compare.stopped"))
        if turn.role == "assistant" and (
            line := stats_line(turn.time_to_first_token, turn.tokens_per_second, turn.completion_tokens)
        ):
            st.caption(line)
        if not hidden:  # an unknown price names the model
            _cost.under_reply(turn)  # what it cost, where prices are known (pages/_cost.py)


def compare_panel(ctx: Context, catalogue: Catalogue, prompt: str | None, setup: TurnSetup) -> bool:
    """In the chat's fragment: the comparison under the history, and a message sent to it.

    True when ``prompt`` went to the comparison (or to the models chosen in the sidebar), so the
    chat does not send it again."""
    if FULL_RUN.pop(False):
        st.rerun()  # the whole page, not only this fragment
    compare, votes = _services(ctx)
    conversation_id = CONVERSATION.get(None)
    live = LIVE_COMPARISON.get(None)
    if live is not None and live.conversation_id == conversation_id:
        if prompt is None:
            return False  # compare_stream draws it
        live.stop_all()  # a new message stops the replies still streaming, and waits for them to be saved
        live.join(STOP_WAIT)
        LIVE_COMPARISON.set(None)
    try:
        comparing = compare.comparing(conversation_id) if conversation_id else None
    except ChatError as error:
        show_error(error)
        return prompt is not None
    if comparing is not None and conversation_id:
        saved(compare, votes, conversation_id, comparing)
    chosen = COMPARE_MODELS.get([])
    if prompt is None or (comparing is None and len(chosen) < 2):
        return False
    keys = comparing.models if comparing is not None else sorted(chosen)  # the saved round's order: no jump
    setups = [replace_model(setup, catalogue, key) for key in keys]
    try:
        comparison = compare.send(
            conversation_id,
            prompt,
            [s for s in setups if s is not None],
            blind=BLIND.get(False),
            new_chat=NEW_CHAT_PRESET.get(None) if conversation_id is None else None,
        )
    except ChatError as error:
        show_error(error)
        return True
    NEW_CHAT_PRESET.pop(None)
    LIVE_COMPARISON.set(comparison)
    CONVERSATION.set(comparison.conversation_id)
    st.query_params["c"] = comparison.conversation_id
    st.rerun()  # the question joins the history above; the round streams below it
    return True  # not reached: st.rerun() ends the run


def replace_model(setup: TurnSetup, catalogue: Catalogue, key: str) -> TurnSetup | None:
    """The chat's setup for another model (None: that model is no longer listed)."""
    model = catalogue.find(key)
    return TurnSetup(model, setup.settings, setup.tokens_per_minute) if model is not None else None
