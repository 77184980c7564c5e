"""The chat: the open conversation, its model and options, one streamed turn at a time.

Drawn for speed (benchmarks/): the main run draws the sidebar and a window of the newest
messages (older ones on demand); the turns sent since then, and the chat input, live in a
fragment, so sending a message reruns only the fragment, never the history above it. Each
message carries one small button for its actions (edit, fork), drawn only when opened; the
last reply keeps Regenerate and Continue in view. Long replies stream in Markdown segments,
so every update costs the size of a segment, not of the whole reply.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.typing import ChatInputValue

from chatbot import exporting
from chatbot.attachments import chars_that_fit, read_files, with_files
from chatbot.audio import is_audio_name
from chatbot.citations import without_citation_marks
from chatbot.conversation import Turn, TurnWindow
from chatbot.errors import ChatError, DatabaseUnavailable, InvalidInput, restore
from chatbot.i18n import current_language, set_language, t, t_md
from chatbot.providers.base import ModelInfo, RateLimits, ReasoningDelta, TextDelta, ToolRun, Usage
from chatbot.reply import (
    ContinueOn,
    FallBack,
    Nothing,
    Reply,
    ResendSmaller,
    TurnSetup,
    WaitThenRetry,
)
from chatbot.streaming import Segments, coalesce
from chatbot.turns import check_text
from pages import _cost, _images, _tools
from pages._common import Context, page_context, show_error
from pages._compare import compare_controls, compare_panel, compare_stream
from pages._conversation_options import conversation_chip, options_button
from pages._conversations import OPEN_MESSAGE
from pages._copy import copy_buttons
from pages._endpoints import provider_label
from pages._local_model import demo_note
from pages._markdown import markdown, stream_markdown
from pages._preload import preload_write_stream
from pages._speak import speak_button
from pages._state import (
    ACTION,
    ACTIONS_SHOWN,
    CONVERSATION,
    FILES_TOO_LONG,
    LIVE,
    LIVE_TURNS,
    MODEL_SWITCHES,
    NEW_CHAT_MODEL,
    NEW_CHAT_PRESET,
    OPENED,
    OPENS,
    OUTGOING,
    PROMPT,
    REFUSED,
    WINDOW,
    Action,
    Continue,
    Edit,
    Fork,
    Regenerate,
    Show,
)

OPENING_MESSAGES = 30
# A conversation opens on about this much of its newest text: the page draws it, and scrolls
# down to it, in a time that grows with its height and its messages' action rows (a few
# screens, not 30 long replies); "Load earlier" brings the rest.
OPENING_CHARS = 10_000
LIVE_MAX = 20  # after this many, a full run takes them into the history (once the reply is done)
FOUND = "found_message"  # the key (CSS class st-key-found_message) around an opened search hit
# Scrolls to that message and marks it for a moment (why it takes a script: see the file).
SHOW_FOUND = Path(__file__).with_name("_found_message.html")
# How the page scrolls (follows a stream, jumps to the newest message) and what a Stop redraws.
CHAT_VIEW = Path(__file__).with_name("_chat_view.html")

ctx: Context = page_context()

if not CONVERSATION.present():  # a fresh browser session: the URL says which chat
    CONVERSATION.set(st.query_params.get("c"))
    st.session_state[OPEN_MESSAGE] = st.query_params.get("m")  # and which search hit, if any
conversation_id = CONVERSATION.get(None)
conversation = ctx.history.summary(conversation_id) if conversation_id else None
if conversation_id and conversation is None:
    if st.query_params.get("c") == conversation_id:  # a link to one deleted, or someone else's
        st.warning(t("chat.not_found"), icon=":material/link_off:")
    CONVERSATION.set(None)
    conversation_id = None
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
    return f"{info.id if info else key} · {provider_label(key.partition(':')[0])}"


# The conversation keeps its own model; one that is gone falls back to the default, said once.
wanted = conversation.model_key if conversation else NEW_CHAT_MODEL.get(default.key)
# Groq's list failing (key refused, network down, already explained above) says nothing about
# whether this model still exists: borrow the default for now, but keep the conversation's own.
groq_unknown = catalogue.unknown(wanted)
if catalogue.find(wanted) is None:
    if conversation is not None and not groq_unknown:
        st.info(t_md("chat.model_gone", old=conversation.model, new=default.id), icon=":material/swap_horiz:")
    wanted = default.key
keys = [m.key for m in catalogue.models]

with st.sidebar:
    st.divider()
    # A model the page switched by itself (a retired one) gets a fresh box: the browser would
    # otherwise send the old box's value back and switch the conversation back.
    switches = MODEL_SWITCHES.get({}).get(conversation_id, 0)
    chosen_key = st.selectbox(
        t("sidebar.model"),
        keys,
        index=keys.index(wanted),
        format_func=model_label,
        key=f"model_{conversation_id}" + (f"_{switches}" if switches else ""),
    )
model: ModelInfo = catalogue.find(chosen_key) or default
with st.sidebar:
    demo_note(ctx, model)  # the SmolLM2 demo says it is one (pages/_local_model.py)
    _tools.switches(ctx, conversation_id, model)  # "Search the web", "Run code" where offered
# The endpoint of the chosen model, or of the conversation's own when it cannot be listed now.
lost = conversation.provider if conversation is not None and catalogue.unknown(conversation.model_key) else None
if (endpoint_error := catalogue.endpoint_errors.get(lost or model.provider)) is not None:
    show_error(endpoint_error)  # its server is down or refused the key: said before a message is typed
if conversation is not None and chosen_key != conversation.model_key and not (groq_unknown and chosen_key == wanted):
    ctx.conversations.set_model(conversation.id, chosen_key)
elif conversation is None:
    NEW_CHAT_MODEL.set(chosen_key)


def conversation_options() -> None:
    """The conversation settings dialog's button (pages/_conversation_options.py)."""
    options_button(ctx, conversation, catalogue, model)


conversation_chip(ctx, conversation, model)  # the model and preset, at the top of the chat

with st.sidebar:
    conversation_options()
    compare_controls(catalogue, model_label)  # 2-4 models at once: pages/_compare.py
    limits_slot = st.empty()
    stats_slot = st.empty()
    cost_slot = _cost.sidebar(conversation_id)  # the conversation's cost so far, budget warnings


def show_limits() -> None:
    limits = ctx.providers.rate_limits()
    if limits is None or limits.remaining_requests is None:
        limits_slot.empty()  # written on every run: the fragment fills it later (Streamlit's rule)
        return
    limits_slot.caption(
        t(
            "chat.rate_limits",
            requests=limits.remaining_requests,
            requests_limit=limits.limit_requests or "?",
            tokens=limits.remaining_tokens if limits.remaining_tokens is not None else "?",
            tokens_limit=limits.limit_tokens or "?",
        )
    )


def usage_line(turn: Turn) -> str | None:
    if turn.role != "assistant" or turn.completion_tokens is None:
        return None
    tokens = "usage.tokens_estimated" if turn.tokens_estimated else "usage.tokens"  # "≈": the app's estimate
    parts = [t(tokens, prompt=turn.prompt_tokens or 0, completion=turn.completion_tokens)]
    if turn.time_to_first_token is not None:
        parts.append(t("usage.ttft", seconds=f"{turn.time_to_first_token:.2f}"))
    if turn.tokens_per_second:
        parts.append(t("usage.rate", rate=f"{turn.tokens_per_second:.0f}"))
    if turn.queue_time:
        parts.append(t("usage.queue", seconds=f"{turn.queue_time:.3f}"))
    return " · ".join(parts)


def show_stats(turn: Turn | None) -> None:
    line = usage_line(turn) if turn else None
    if line:
        stats_slot.caption(t("chat.last_reply", usage=line))
    else:
        stats_slot.empty()


def tokens_per_minute() -> int | None:
    """The context budget also fits the tokens-per-minute limit (newest headers, 413s too)."""
    limits = ctx.providers.rate_limits()
    return limits.limit_tokens if limits else None


# What this run's turns are sent with; a retired model's conversation moves to the default first.
# A button's one-shot choice (retry on demand, ask again) applies to the turn this run carries out.
setup = _cost.turn_setup(TurnSetup(model, ctx.settings, tokens_per_minute, (default, *catalogue.models)))
chat = ctx.turns


def act(action: Action) -> Callable[[], None]:
    def callback() -> None:
        ACTION.set(action)

    return callback


def local_zone() -> tzinfo:
    """The browser's time zone (st.context), UTC when it did not say."""
    try:
        return ZoneInfo(st.context.timezone) if st.context.timezone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        offset = st.context.timezone_offset  # minutes behind UTC, as JavaScript gives it
        return timezone(timedelta(minutes=-offset)) if offset is not None else UTC


ZONE = local_zone()


def written(turn: Turn) -> str:
    """When the message was written (in the browser's time zone) and, for a reply, by which model."""
    when = ""
    if turn.created_at is not None:
        local = turn.created_at.astimezone(ZONE)
        when = local.strftime("%H:%M" if local.date() == datetime.now(ZONE).date() else "%Y-%m-%d %H:%M")
    if turn.role == "assistant" and turn.model:
        return t("chat.written_by", model=turn.model, when=when) if when else turn.model
    return when


def save_feedback(message_id: str) -> None:
    """st.feedback's thumbs (1 up, 0 down, None taken back) stored as 1, -1 or None."""
    current = CONVERSATION.get(None)
    value = st.session_state.get(f"feedback_{message_id}")
    if current:
        try:
            ctx.conversations.set_feedback(current, message_id, None if value is None else (1 if value else -1))
        except ChatError as error:
            REFUSED.set(error)  # shown under the messages on this rerun


def icon_button(where: DeltaGenerator, label: str, icon: str, key: str, on_click: Callable[[], None]) -> None:
    """A small icon button whose label is its accessible name and its tooltip: pages/_chat_view.html
    hides the label's text on screen and gives it as aria-label and title. (Not help=: Streamlit's
    tooltip doubles every button in the page, and a long conversation has dozens.)"""
    where.button(label, icon=icon, key=key, type="tertiary", on_click=on_click)


def alternatives_pager(row: DeltaGenerator, turn: Turn) -> None:
    if len(turn.alternatives) < 2:
        return
    i = turn.alternative_index
    last = len(turn.alternatives) - 1
    row.button(
        t("chat.previous_version"),
        icon=":material/chevron_left:",
        key=f"prev_{turn.id}",
        disabled=i == 0,
        type="tertiary",
        on_click=act(Show(turn.alternatives[i - 1] if i else turn.id)),
    )
    # Only as wide as its text: stretched, it pushed the "next" arrow to the far edge of the reply.
    row.caption(f"{i + 1} / {len(turn.alternatives)}", width="content")
    row.button(
        t("chat.next_version"),
        icon=":material/chevron_right:",
        key=f"next_{turn.id}",
        type="tertiary",
        disabled=i == last,
        on_click=act(Show(turn.alternatives[min(i + 1, last)])),
    )


def message_actions(turn: Turn, last: bool) -> None:
    """One compact row under every message: copy, edit (questions) or regenerate (replies),
    continue (the last reply, when cut), the versions, fork, thumbs (replies), who wrote it when.

    Kept cheap for long conversations: tertiary buttons in one horizontal container, the copy
    button put into the row by one component for all messages (pages/_copy.py), the edit form
    only under the message being edited (a form per message made long conversations slow to draw).
    """
    row = st.container(horizontal=True, gap="small", vertical_alignment="center", key=f"row_{turn.id}")
    editing = ACTIONS_SHOWN.get(None) == turn.id
    if turn.role == "user":
        icon_button(
            row,
            t("chat.edit_message"),
            ":material/edit:",
            f"edit_{turn.id}",
            lambda: ACTIONS_SHOWN.set(None if editing else turn.id),
        )
    elif turn.status != "streaming":
        icon_button(row, t("chat.regenerate"), ":material/refresh:", f"regen_{turn.id}", act(Regenerate(turn.id)))
        if last and (turn.finish_reason == "length" or turn.status in ("stopped", "interrupted")):
            icon_button(row, t("chat.continue"), ":material/double_arrow:", f"cont_{turn.id}", act(Continue(turn.id)))
    alternatives_pager(row, turn)
    icon_button(row, t("chat.fork"), ":material/fork_right:", f"fork_{turn.id}", act(Fork(turn.id)))
    if turn.role == "assistant" and turn.status != "streaming":
        row.feedback(
            "thumbs",
            key=f"feedback_{turn.id}",
            default=None if turn.feedback is None else int(turn.feedback > 0),
            on_change=save_feedback,
            args=(turn.id,),
        )
        speak_button(row, turn, ctx.settings.speech_voice)
    if when := written(turn):
        row.caption(when, width="content")
    if turn.role == "user" and editing:
        with st.form(f"editform_{turn.id}", border=False):
            st.text_area(t("chat.edit"), turn.content, key=f"edit_text_{turn.id}")
            buttons = st.container(horizontal=True, gap="small")
            with buttons:
                st.form_submit_button(
                    t("chat.edit_send"),
                    icon=":material/send:",
                    key=f"resend_{turn.id}",
                    on_click=lambda: ACTION.set(Edit(turn.id, st.session_state[f"edit_text_{turn.id}"])),
                )
                st.form_submit_button(
                    t("chat.cancel"), key=f"cancel_{turn.id}", on_click=lambda: ACTIONS_SHOWN.set(None)
                )


def thinking_label(turn: Turn) -> str:
    if turn.thinking_time is None:
        return t("chat.thinking")
    return f"{t('chat.thinking')} · {t('chat.thought_for', seconds=f'{turn.thinking_time:.1f}')}"


def show_turn(turn: Turn, last: bool) -> None:
    with st.chat_message(turn.role):
        if turn.reasoning:
            # Keyed and tracked (on_change): Streamlit keeps it open or closed across reruns.
            thinking = st.expander(
                thinking_label(turn), icon=":material/psychology:", key=f"thinking_{turn.id}", on_change=lambda: None
            )
            markdown(turn.reasoning, where=thinking)
        markdown(without_citation_marks(turn.content) if turn.tools else turn.content)
        _tools.show(turn.tools)  # what the built-in tools did: searches, sources, code (pages/_tools.py)
        _images.show(ctx, turn)  # its images, as thumbnails that open full size
        if turn.status in ("stopped", "interrupted", "error", "streaming"):
            st.caption(t(f"status.{turn.status}"))
            if turn.error_code:  # the full message, with its values and way forward, as when it failed
                show_error(restore(turn.error_code, turn.error_values))
            if last and turn.status in ("interrupted", "error"):
                st.button(
                    t("action.retry"),
                    icon=":material/refresh:",
                    key=f"retry_{turn.id}",
                    on_click=act(Regenerate(turn.id)),
                )
        if turn.role == "assistant":
            if turn.prompt_tokens_omitted:
                st.caption(t("chat.omitted", count=turn.prompt_tokens_omitted))
            if line := usage_line(turn):
                st.caption(line)
            _cost.under_reply(turn)
        message_actions(turn, last)


def reply_text(reply: Reply, thinking: DeltaGenerator) -> Iterator[str]:
    """The reply's text, for drawing; its reasoning goes to a collapsible section above it as it
    arrives (redrawn at most every 0.1 s, for the reason coalesce exists: a redraw costs its
    whole length)."""
    reasoning: list[str] = []
    box: DeltaGenerator | None = None
    last_draw = 0.0
    tools_slot: DeltaGenerator | None = None
    for event in reply:
        match event:
            case TextDelta(text=text):
                yield text
            case ReasoningDelta(text=text):
                reasoning.append(text)
                if box is None:
                    box = thinking.expander(t("chat.thinking"), icon=":material/psychology:", expanded=True).empty()
                if time.monotonic() - last_draw > 0.1:
                    markdown("".join(reasoning), where=box)
                    last_draw = time.monotonic()
            case ToolRun():  # said while it runs; the whole section follows the reply
                if tools_slot is None:
                    tools_slot = thinking.empty()
                tools_slot.caption(_tools.working(event))
            case Usage() | RateLimits():
                pass  # kept with the reply; the sidebar reads the newest limits once it ends
            case _:
                assert_never(event)
    if tools_slot is not None:
        tools_slot.empty()
    if box is not None:
        markdown("".join(reasoning), where=box)


def countdown(seconds: float) -> None:
    slot = st.empty()
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        slot.info(t("chat.retry_in", seconds=int(left) + 1), icon=":material/timer:")
        time.sleep(min(1.0, left))
    slot.empty()


def note_model_switch(reply: Reply) -> None:
    """The core moved the conversation to another model: the page's own state follows."""
    switched = MODEL_SWITCHES.setdefault({})
    switched[conversation_id] = switched.get(conversation_id, 0) + 1  # a fresh model box (see above)
    if NEW_CHAT_MODEL.get("") == reply.pending.model_key:
        NEW_CHAT_MODEL.pop("")


def draw_reply(reply: Reply, drawn: list[str] | None) -> DeltaGenerator | None:
    """Stream one reply: a place at its foot (for its usage line and buttons) once complete.

    ``drawn``, a plain list taken from the session state before streaming, gets the reply's id
    whatever happens, so the next fragment run draws it again; after a Stop only plain Python
    works (any st.* call or st.session_state access raises again).
    """
    if reply.omitted:
        st.caption(t("chat.omitted", count=reply.omitted))
    thinking = st.container()
    try:
        with reply:  # leaving it early (a Stop) ends the reply, which saves it as it stands
            for segment in Segments(coalesce(reply_text(reply, thinking))):  # a long reply: one element each
                stream_markdown(segment)
    finally:
        retrying = isinstance(reply.next_step, (WaitThenRetry, ResendSmaller, FallBack))
        if drawn is not None and reply.message_id and not retrying:
            drawn.append(reply.message_id)
        show_limits()
    _tools.show(reply.tools)
    if reply.error is None:
        _cost.after_reply(reply)  # the model's last request today, as its headers say: where to go on
        return st.container()
    match reply.next_step:
        case WaitThenRetry() | ResendSmaller() | FallBack():
            return None  # the caller retries; nothing to offer
        case ContinueOn(model=replacement):
            show_error(reply.error)
            note_model_switch(reply)
            st.info(t_md("chat.switched_model", model=replacement.id))
        case Nothing():
            show_error(reply.error)
            _cost.after_reply(reply)  # a daily limit: the models to continue on; a flex 498: on demand
        case _:
            assert_never(reply.next_step)
    # Its message says "press Retry": offer it now, not after some later rerun (a reply in an
    # existing conversation is not followed by one). Keys of their own: a continued reply's row
    # above has its buttons under its id already.
    st.button(
        t("action.retry"),
        icon=":material/refresh:",
        key=f"retry_now_{reply.message_id}",
        on_click=act(Regenerate(reply.message_id)),
    )
    if reply.text and reply.message_id:  # a partial reply is kept: it can be continued, too
        st.button(
            t("chat.continue"),
            icon=":material/double_arrow:",
            key=f"cont_now_{reply.message_id}",
            on_click=act(Continue(reply.message_id)),
        )
    return None


def answer(reply: Reply, drawn: list[str] | None = None) -> tuple[Reply, DeltaGenerator | None]:
    """A reply under the history, retried when the core says so (after a countdown for a short
    rate limit); the last attempt and, when it completed, the place at its foot."""
    with st.chat_message("assistant"):
        while True:
            attempt = st.empty()
            with attempt.container():
                foot = draw_reply(reply, drawn)
            match reply.next_step:
                case WaitThenRetry(seconds=seconds):
                    with attempt.container():  # which limit, while the countdown runs
                        if reply.error is not None:
                            show_error(reply.error)
                        countdown(seconds)
                    attempt.empty()
                case ResendSmaller():
                    attempt.empty()  # the resend's caption says how many messages it left out
                case FallBack(model=fallback):
                    with attempt.container():  # why another model answers
                        if reply.error is not None:
                            show_error(reply.error)
                        _cost.falling_back(reply, fallback)
                    note_model_switch(reply)
                case ContinueOn() | Nothing():
                    return reply, foot
                case _:
                    assert_never(reply.next_step)
            reply = chat.retry(reply)


def live_turns() -> list[Turn]:
    """The turns the fragment drew since the last full run, from its cache (the database only
    for one it has not read yet, e.g. a reply cut by Stop)."""
    ids = LIVE.setdefault([])
    cache = LIVE_TURNS.setdefault({})
    missing = [i for i in ids if i not in cache]
    current = CONVERSATION.get(None)
    if missing and current:
        cache.update({turn.id: turn for turn in ctx.conversations.turns(current, missing)})
    return [cache[i] for i in ids if i in cache]


def send(prompt: str) -> None:
    """One turn: save the question, stream the answer under the turns above."""
    current = CONVERSATION.get(None)
    drawn = LIVE.setdefault([])
    pictures = _images.pending(prompt)
    try:
        reply = chat.send(current, prompt, setup, NEW_CHAT_PRESET.get(None) if current is None else None, pictures)
    except DatabaseUnavailable as error:  # locked, read-only, damaged: explained, and the text kept
        show_error(error)
        st.caption(t("input.kept"))
        st.code(prompt, language=None, wrap_lines=True)
        return
    except ChatError as error:
        show_error(error)
        return
    NEW_CHAT_PRESET.pop(None)  # used (a new chat) or not needed
    CONVERSATION.set(reply.conversation_id)
    if st.query_params.get("c") != reply.conversation_id:  # each change is a message to the browser
        st.query_params["c"] = reply.conversation_id
    if "m" in st.query_params:  # the search hit is behind us: a reload opens at the newest
        del st.query_params["m"]
    drawn.append(reply.user_message_id)
    with st.chat_message("user"):
        markdown(prompt)
        _images.show_sent(pictures)
        question_foot = st.container()  # its button, once the reply is in
    try:
        reply, foot = answer(reply, drawn)
        done = (
            ctx.conversations.turns(reply.conversation_id, [reply.user_message_id, reply.message_id])
            if reply.complete and reply.message_id
            else []
        )
    except ChatError as error:  # a retry or a read the database refused
        show_error(error)
        return
    if len(done) == 2 and foot is not None:  # what both show when drawn again: usage, buttons
        question, answered = done
        show_stats(answered)
        _cost.conversation_cost(cost_slot, reply.conversation_id)
        with question_foot:
            message_actions(question, last=False)
        with foot:
            if line := usage_line(answered):
                st.caption(line)
            _cost.under_reply(answered)
            message_actions(answered, last=True)
        copy_buttons(done, answered.id)
    # A failed first reply keeps its error on screen; the list catches up on the next run.
    if reply.complete and reply.conversation_id != current:
        # A short, cheap Groq request names the new chat (unless switched off in Settings);
        # the first words stay otherwise.
        if ctx.settings.auto_titles:
            ctx.history.auto_title(reply.conversation_id, ctx.providers, catalogue.models)
        st.rerun()  # the new conversation joins the sidebar list
    if reply.complete and len(drawn) >= LIVE_MAX:
        st.rerun()  # fold them into the history's window: each fragment run redraws them all


def on_submit() -> None:
    """The chat input's on_submit, before the run it starts draws the input again.

    A recording (or audio file) is transcribed here, as the user's settings say: into the input
    to be read first, or sent at once with what was typed. Attached files' text joins the
    message under their names. A message the core refuses before anything else (over the
    length limit, audio or files it cannot take) goes back into the input with the reason,
    instead of being thrown away. Text set in this callback is put back into the box by
    Streamlit, and the input then returns None (nothing is sent).
    """
    value = PROMPT.get(None)
    text = value.text if isinstance(value, ChatInputValue) else (value or "")
    recording = value.audio if isinstance(value, ChatInputValue) and "audio" in value else None
    attached = value.files if isinstance(value, ChatInputValue) and "files" in value else []
    # An attached audio file is heard like a recording; the other files are read as text.
    clips = [recording] if recording is not None else []
    clips += [f for f in attached if is_audio_name(f.name)]
    pictures, files = _images.split([f for f in attached if not is_audio_name(f.name)])
    FILES_TOO_LONG.pop(None)
    try:
        review = False
        for clip in clips:
            heard = ctx.voice.hear(clip.name, clip.getvalue(), text, ctx.settings, language)
            text, review = heard.text, heard.review
        if review and not files and not pictures:  # with files it is sent: the input cannot be given files back
            PROMPT.set(text)
            return
        if clips:
            OUTGOING.set(text)
        if files:
            read = read_files([(f.name, f.getvalue()) for f in files])
            limit = chars_that_fit(model, ctx.settings.max_tokens)
            try:
                OUTGOING.set(with_files(text, read, limit))
            except InvalidInput:
                FILES_TOO_LONG.set((text, read, limit))  # offered: send their first part
                raise
        elif text.strip():
            check_text(text)
        _images.take(ctx, model, catalogue.models, OUTGOING.get(None) or text, pictures)
    except ChatError as error:
        REFUSED.set(error)
        if text.strip() or pictures:
            PROMPT.set(text)  # what was typed (or heard) stays in the box; nothing is sent
        OUTGOING.pop(None)
        _images.dropped()


def send_first_part() -> None:
    """The files that did not fit, cut to fit (the input's text goes with them)."""
    pending = FILES_TOO_LONG.pop(None)
    if pending is not None:
        typed, read, limit = pending
        OUTGOING.set(with_files(typed, read, limit, cut=True))
        PROMPT.set("")


def chat_input() -> str | None:
    """The chat input, pinned at the bottom (st.bottom), sending to this fragment only; with a
    microphone (voice input, transcribed on Groq in ``on_submit``) and files as context.

    In st.bottom, Streamlit leaves the scrolling alone (a chat input it pins by itself, from the
    page's top level, makes it stick to the bottom, pulling a reader who scrolls up during a
    stream back down); pages/_chat_view.html scrolls instead, as ChatGPT does.
    """
    value = st.bottom.chat_input(
        t("chat.placeholder"),
        key=str(PROMPT),
        submit_mode="stop",
        accept_audio=True,
        accept_file="multiple",
        max_upload_size=25,  # MB, Groq's audio limit; chatbot.attachments bounds files further
        on_submit=on_submit,
    )
    outgoing = OUTGOING.pop(None)
    if outgoing is not None:
        return outgoing
    if value is None:
        return None
    return value.text if isinstance(value, ChatInputValue) else value


@st.fragment
def live() -> None:
    """The chat input and the turns sent since the last full run: a message reruns only this."""
    set_language(language)  # a fragment run does not run app.py, which sets it
    if ACTION.get(None) is not None:
        st.rerun()  # a button of a turn drawn here: the full run carries it out
    _images.before_input()  # after "Send with the vision model": the box is emptied
    prompt = chat_input()
    turns_here = live_turns()
    for turn in turns_here:  # a new question makes none of them the last one
        show_turn(turn, last=turn is turns_here[-1] and prompt is None)
    copy_buttons(turns_here, "live")
    # The sidebar's lines are drawn from here, full run or not: a fragment may only write to
    # an outside container it also wrote to in the last full run.
    show_limits()
    newest = turns_here or turns
    show_stats(newest[-1] if newest else None)
    _cost.conversation_cost(cost_slot, CONVERSATION.get(None))  # with the replies sent since
    if (refused := REFUSED.pop(None)) is not None:
        show_error(refused)  # its text is back in the chat input
        if (too_long := FILES_TOO_LONG.get(None)) is not None:
            st.button(
                t("files.send_first_part", fits=too_long[2]),
                icon=":material/content_cut:",
                key="files_first_part",
                on_click=send_first_part,
            )
    _images.offer_vision_model(refused)  # a text-only model and images: one click to a model that sees them
    if compare_panel(ctx, catalogue, prompt, setup):
        return  # a comparison is open or was asked for: it took the message (pages/_compare.py)
    if prompt is not None:
        send(prompt)


def carry_out(action: Action, conversation_id: str) -> None:
    """A button's action, on the full run after its click."""
    newest = turns[-1].id if turns else None
    match action:
        case Continue(message_id=clicked) if clicked and newest and clicked != newest:
            pass  # a button left on an older reply (turns were added below it): just bring the page up to date
        case Show(message_id=message_id):
            ctx.conversations.show_alternative(conversation_id, message_id)
        case Fork(message_id=message_id):
            forked = ctx.conversations.fork(conversation_id, message_id)
            CONVERSATION.set(forked)
            st.query_params["c"] = forked
        case Edit(message_id=message_id, text=text):
            answer(chat.edit(conversation_id, message_id, text, setup))
        case Regenerate(message_id=clicked):
            answer(chat.regenerate(conversation_id, setup, None if clicked == newest else clicked))
        case Continue():
            answer(chat.continue_reply(conversation_id, setup))
        case _:
            assert_never(action)


language = current_language()
windows = WINDOW.setdefault({})
asked: int | None = windows.get(conversation_id) if conversation_id else None
# A search hit opened this chat: the window reaches back to it (and stays so on later runs);
# it is scrolled to and marked on this run only, then the scrolling is the user's again.
found: str | None = st.session_state.pop(OPEN_MESSAGE, None)
window = (
    ctx.conversations.recent_messages(
        conversation_id, asked or OPENING_MESSAGES, found, max_chars=None if asked else OPENING_CHARS
    )
    if conversation_id
    else TurnWindow([], 0)
)
turns = window.turns
_images.prefetch(ctx, turns)
shown_count = len(turns)
if found and conversation_id:
    windows[conversation_id] = max(shown_count, asked or 0)

if not window.total:
    st.title(t("chat.empty_title"))
    st.caption(t_md("chat.empty_hint", model=model.id))
    from pages._onboarding import first_run  # the empty chat's first-run note (no key: the demo model)

    first_run(ctx)
load_earlier = t("chat.load_earlier", count=window.total - len(turns))
if conversation_id and window.total > len(turns) and st.button(load_earlier, icon=":material/expand_less:"):
    windows[conversation_id] = shown_count + 100
    st.rerun()
show_found = bool(found) and any(turn.id == found for turn in turns)
if OPENED.get(None) != conversation_id:
    OPENS.set(OPENS.get(0) + 1)  # a new number tells the script: put the page at the newest message
OPENED.set(conversation_id)
# Above the messages: the browser loads the script while it draws them. Hidden (its style).
with st.container(key="chat_view"):
    st.html(CHAT_VIEW, unsafe_allow_javascript=True)  # our own file: no user text in it
    with st.container(key=f"chat_view_{OPENS.get(0)}"):
        st.caption(t("chat.jump_newest"))  # the jump button's label, read by the script
    # Pressed by the script once a stopped run has ended: this run draws the reply as saved.
    st.button(t("chat.show_final"), key="show_final")
for turn in turns:
    with st.container(key=FOUND) if turn.id == found else nullcontext():
        show_turn(turn, last=turn is turns[-1])
copy_buttons(turns, "window")
if show_found:
    with st.container(key=f"{FOUND}_script"):
        st.html(SHOW_FOUND, unsafe_allow_javascript=True)  # our own file: no user text in it

if conversation is not None and turns:
    exported = [conversation.id]
    with st.sidebar:
        st.caption(t("sidebar.export"))
        left, right = st.columns(2)
        left.download_button(
            "Markdown",
            lambda: ctx.history.export(exported, "md").data,
            file_name=exporting.file_name(conversation, "md"),
            mime="text/markdown",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "JSON",
            lambda: ctx.history.export(exported, "json").data,
            file_name=exporting.file_name(conversation, "json"),
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
        )

action = ACTION.pop(None)
# The main run drew every saved message: the fragment starts afresh below them.
LIVE.set([])
LIVE_TURNS.set({})
compare_stream()  # a comparison's round while it streams (pages/_compare.py)
live()

if action is not None and conversation_id:
    try:
        carry_out(action, conversation_id)
    except ChatError as error:  # refused input, or the database: explained
        show_error(error)
    else:
        st.rerun()
preload_write_stream()  # after the page is drawn: see pages/_preload.py
