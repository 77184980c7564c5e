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
from pathlib import Path

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.delta_generator import DeltaGenerator

from chatbot import exporting
from chatbot.errors import (
    ChatError,
    InvalidInput,
    ModelUnavailable,
    RateLimited,
    RequestTooLarge,
    database_error,
    restore,
)
from chatbot.i18n import current_language, set_language, t
from chatbot.providers.base import ModelInfo, ReasoningDelta, StreamEvent, TextDelta
from chatbot.service import NewChatOptions, PendingTurn, ReplyState, Turn, TurnWindow
from chatbot.streaming import Segments, coalesce
from pages._common import CONVERSATION, Context, page_context, preset_label, show_error
from pages._conversations import OPEN_MESSAGE

ACTION = "chat_action"  # set by button callbacks, carried out below the history
WINDOW = "chat_window"  # conversation id -> how many recent messages are drawn (older on demand)
OPENING_MESSAGES = 40
# A conversation opens on about this much of its newest text: the page draws it, and scrolls
# down to it, in a time that grows with its height (a few screens, not 40 long replies).
OPENING_CHARS = 16_000
LIVE = "chat_live"  # ids of the messages the fragment drew since the last full run
LIVE_TURNS = "chat_live_turns"  # their Turns, so a fragment run redraws them without the database
ACTIONS_SHOWN = "chat_actions_shown"  # the message whose edit/fork actions are open
LIVE_MAX = 20  # after this many, a full run takes them into the history (once the reply is done)
NEW_CHAT_PRESET = "new_chat_preset"
AUTO_RETRY_MAX_WAIT = 60  # seconds; longer limits (per day) are explained, not waited out
MODEL_SWITCHES = "model_switches"  # conversation id -> times the page replaced its model itself
REASONING_EFFORTS = ("low", "medium", "high")
FOUND = "found_message"  # the key (CSS class st-key-found_message) around an opened search hit
# Scrolls to that message and marks it for a moment (why it takes a script: see the file).
SHOW_FOUND = Path(__file__).with_name("_found_message.html")
OPEN_AT_NEWEST = Path(__file__).with_name("_open_at_newest.html")
OPENED = "chat_opened"  # the conversation the page last opened (and put at its newest message)

ctx: Context = page_context()
service = ctx.service

if CONVERSATION not in st.session_state:  # a fresh browser session: the URL says which chat
    st.session_state[CONVERSATION] = st.query_params.get("c")
    st.session_state[OPEN_MESSAGE] = st.query_params.get("m")  # and which search hit, if any
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
# Groq's list failing (key refused, network down, already explained above) says nothing about
# whether this model still exists: borrow the default for now, but keep the conversation's own.
groq_unknown = catalogue.error is not None and wanted.startswith("groq:")
if catalogue.find(wanted) is None:
    if conversation is not None and not groq_unknown:
        st.info(t("chat.model_gone", old=conversation.model, new=default.id), icon=":material/swap_horiz:")
    wanted = default.key
keys = [m.key for m in catalogue.models]

with st.sidebar:
    st.divider()
    # A model the page switched by itself (a retired one) gets a fresh box: the browser would
    # otherwise send the old box's value back and switch the conversation back.
    switches = st.session_state.get(MODEL_SWITCHES, {}).get(conversation_id, 0)
    chosen_key = st.selectbox(
        t("sidebar.model"),
        keys,
        index=keys.index(wanted),
        format_func=model_label,
        key=f"model_{conversation_id}" + (f"_{switches}" if switches else ""),
    )
model: ModelInfo = catalogue.find(chosen_key) or default
if conversation is not None and chosen_key != conversation.model_key and not (groq_unknown and chosen_key == wanted):
    service.set_model(conversation.id, chosen_key)
elif conversation is None:
    st.session_state["new_chat_model"] = chosen_key


def conversation_options() -> None:
    """This conversation's system prompt, parameters and preset (over the global settings).

    Drawn only while its popover is open: the form and the presets (a database read) cost
    every run otherwise.
    """
    own = conversation.params if conversation else {}
    menu = st.popover(
        t("chat.options"),
        icon=":material/tune:",
        width="stretch",
        on_change="rerun",
        key=f"options_menu_{conversation_id}",
    )
    if not menu.open:
        return
    presets = {p.id: p for p in service.presets()}
    with menu:
        preset_id = st.selectbox(
            t("chat.preset"),
            ["", *presets],
            format_func=lambda k: preset_label(presets[k]) if k else t("chat.no_preset"),
            key=f"preset_{conversation_id}",
        )
        preset = presets.get(preset_id)
        with st.form(f"options_{conversation_id}", border=False):
            system_prompt = st.text_area(
                t("settings.system_prompt"),
                preset.system_prompt
                if preset
                else (conversation.system_prompt if conversation else ctx.settings.system_prompt) or "",
                height=120,
            )
            base = (preset.params if preset else own) or {}
            temperature = st.slider(
                t("settings.temperature"), 0.0, 2.0, float(base.get("temperature", ctx.settings.temperature)), 0.05
            )
            limit = model.max_completion_tokens or 131072
            max_tokens = st.number_input(
                t("settings.max_tokens"),
                1,
                limit,
                min(int(base.get("max_tokens", ctx.settings.max_tokens)), limit),
                help=t("settings.max_tokens_help", limit=limit),
            )
            effort = None
            if model.reasoning:
                effort = st.segmented_control(
                    t("chat.reasoning_effort"),
                    REASONING_EFFORTS,
                    default=own.get("reasoning_effort", "medium"),
                    format_func=lambda e: t(f"chat.effort_{e}"),
                )
            if st.form_submit_button(t("chat.apply"), type="primary"):
                params = {"temperature": temperature, "max_tokens": int(max_tokens)}
                if effort:
                    params["reasoning_effort"] = effort
                if conversation is not None:
                    service.update_options(conversation.id, system_prompt, params)
                    if preset and preset.model and catalogue.find(preset.model):
                        service.set_model(conversation.id, preset.model)
                else:
                    st.session_state[NEW_CHAT_PRESET] = NewChatOptions(system_prompt, params)
                    if preset and preset.model and catalogue.find(preset.model):
                        st.session_state["new_chat_model"] = preset.model
                st.rerun()


with st.sidebar:
    conversation_options()
    limits_slot = st.empty()
    stats_slot = st.empty()


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
    parts = [t("usage.tokens", prompt=turn.prompt_tokens or 0, completion=turn.completion_tokens)]
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


def act(*action: object) -> Callable[[], None]:
    def callback() -> None:
        st.session_state[ACTION] = action

    return callback


def alternatives_pager(turn: Turn) -> None:
    if len(turn.alternatives) < 2:
        return
    i = turn.alternative_index
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.button(
        "",
        icon=":material/chevron_left:",
        key=f"prev_{turn.id}",
        disabled=i == 0,
        type="tertiary",
        on_click=act("show", turn.alternatives[i - 1] if i else turn.id),
        help=t("chat.previous_version"),
    )
    # Only as wide as its text: stretched, it pushed the "next" arrow to the far edge of the reply.
    row.caption(f"{i + 1} / {len(turn.alternatives)}", width="content")
    row.button(
        "",
        icon=":material/chevron_right:",
        key=f"next_{turn.id}",
        type="tertiary",
        disabled=i == len(turn.alternatives) - 1,
        help=t("chat.next_version"),
        on_click=act("show", turn.alternatives[min(i + 1, len(turn.alternatives) - 1)]),
    )


def message_actions(turn: Turn, last: bool) -> None:
    """Regenerate and Continue stay in view on the last reply; edit and fork, for any message,
    sit behind one small button that shows them under that message only (a row of buttons and
    an edit form per message made long conversations slow to draw, and a popover per message
    still cost every later update a quarter more)."""
    where: DeltaGenerator = st.container(horizontal=True, gap="small") if last and turn.role == "assistant" else st
    if last and turn.role == "assistant":
        where.button(
            "",
            icon=":material/refresh:",
            key=f"regen_{turn.id}",
            type="tertiary",
            help=t("chat.regenerate"),
            on_click=act("regenerate", turn.id),
        )
        if turn.finish_reason == "length" or turn.status in ("stopped", "interrupted"):
            where.button(
                "",
                icon=":material/double_arrow:",
                key=f"cont_{turn.id}",
                type="tertiary",
                help=t("chat.continue"),
                on_click=act("continue", turn.id),
            )
    shown = st.session_state.get(ACTIONS_SHOWN) == turn.id
    where.button(
        "",
        icon=":material/expand_less:" if shown else ":material/more_horiz:",
        key=f"actions_{turn.id}",
        type="tertiary",
        help=t("chat.message_actions" if turn.role == "user" else "chat.fork"),
        on_click=lambda: st.session_state.__setitem__(ACTIONS_SHOWN, None if shown else turn.id),
    )
    if not shown:
        return
    if turn.role == "user":
        with st.form(f"edit_{turn.id}", border=False):
            st.text_area(t("chat.edit"), turn.content, key=f"edit_text_{turn.id}")
            st.form_submit_button(
                t("chat.edit_send"),
                icon=":material/edit:",
                on_click=lambda: st.session_state.__setitem__(
                    ACTION, ("edit", turn.id, st.session_state[f"edit_text_{turn.id}"])
                ),
            )
    st.button(
        t("chat.fork"),
        icon=":material/fork_right:",
        key=f"fork_{turn.id}",
        type="tertiary",
        on_click=act("fork", turn.id),
    )


def show_turn(turn: Turn, last: bool) -> None:
    with st.chat_message(turn.role):
        if turn.reasoning:
            with st.expander(t("chat.thinking"), icon=":material/psychology:"):
                st.markdown(turn.reasoning)
        st.markdown(turn.content)
        if turn.status in ("stopped", "interrupted", "error", "streaming"):
            st.caption(t(f"status.{turn.status}"))
            if turn.error_code:  # the full message, with its values and way forward, as when it failed
                show_error(restore(turn.error_code, turn.error_values))
            if last and turn.status in ("interrupted", "error"):
                st.button(
                    t("action.retry"),
                    icon=":material/refresh:",
                    key=f"retry_{turn.id}",
                    on_click=act("regenerate", turn.id),
                )
        if turn.role == "assistant":
            if turn.prompt_tokens_omitted:
                st.caption(t("chat.omitted", count=turn.prompt_tokens_omitted))
            if line := usage_line(turn):
                st.caption(line)
        alternatives_pager(turn)
        message_actions(turn, last)


def text_only(events: Iterator[StreamEvent], thinking: DeltaGenerator) -> Iterator[str]:
    """The reply's text, for drawing; reasoning goes to its own collapsible section as it arrives."""
    reasoning: list[str] = []
    box = None
    last_draw = 0.0
    for event in events:
        if isinstance(event, TextDelta):
            yield event.text
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
            if box is None:
                box = thinking.expander(t("chat.thinking"), icon=":material/psychology:", expanded=True).empty()
            if time.monotonic() - last_draw > 0.1:  # same reason as coalesce: redraws cost O(length)
                box.markdown("".join(reasoning))
                last_draw = time.monotonic()
    if box is not None:
        box.markdown("".join(reasoning))


def draw_stream(chunks: Iterator[str]) -> str:
    """``st.write_stream`` for text, without its first step: asking whether the stream is a
    dataframe imports numpy, pandas and pyarrow (0.7 s, several seconds on a busy machine),
    delaying the first reply of every server process. The same drawing otherwise: the growing
    text with half-typed Markdown shown closed (e.g. ``**bold``), then the final text."""
    slot: DeltaGenerator | None = None
    text = ""
    for chunk in chunks:
        if not chunk:
            continue
        if slot is None:
            slot = st.empty()
        text += chunk
        try:
            slot._markdown(text, unterminated_parsing=True)  # what st.write_stream calls
        except (AttributeError, TypeError):  # a Streamlit without it: plain Markdown
            slot.markdown(text)
    if slot is not None:
        slot.markdown(text)
    return text


def until_error(chunks: Iterator[str], failure: list[ChatError]) -> Iterator[str]:
    """End the text normally when the reply fails, so every received word is drawn (the
    coalescer's last batch too); the error is raised again once the text is drawn."""
    try:
        yield from chunks
    except ChatError as error:
        failure.append(error)


def countdown(seconds: float) -> None:
    slot = st.empty()
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        slot.info(t("chat.retry_in", seconds=int(left) + 1), icon=":material/timer:")
        time.sleep(min(1.0, left))
    slot.empty()


def stream(
    pending: PendingTurn, make_retry: Callable[[], PendingTurn] | None = None, drawn: list[str] | None = None
) -> tuple[bool, str | None, DeltaGenerator | None]:
    """Stream one reply under the history: (completed, the reply's message id, a place at the
    foot of the completed reply for its usage line and buttons).

    ``drawn``, a plain list taken from the session state before streaming, gets the reply's
    id whatever happens, so the next fragment run draws the reply again; after a Stop only
    plain Python works (any st.* call or st.session_state access raises again).
    """
    if pending.omitted:
        st.caption(t("chat.omitted", count=pending.omitted))
    state = ReplyState()
    retried = False
    with st.chat_message("assistant"):
        thinking = st.container()
        try:
            failure: list[ChatError] = []
            segments = Segments(
                coalesce(until_error(text_only(service.stream_reply(pending, state), thinking), failure))
            )
            try:
                for segment in segments:  # a long reply: one element per segment (chatbot/streaming.py)
                    draw_stream(segment)
            finally:
                segments.close()  # a Stop: the reply's own finally saves it now
            if failure:
                raise failure[0]
            return True, state.message_id, st.container()
        except RateLimited as error:
            if make_retry and error.retry_after and error.retry_after <= AUTO_RETRY_MAX_WAIT:
                notice = st.empty()  # which limit, while the countdown runs; gone once it retries
                with notice.container():
                    show_error(error)
                countdown(error.retry_after)
                notice.empty()
                retried = True
                return stream(make_retry(), None, drawn)
            show_error(error)
        except RequestTooLarge as error:
            if make_retry and not error.single:
                # The 413 said the tokens-per-minute limit: the budget now leaves the oldest
                # messages out, and the retry's caption says how many.
                retried = True
                return stream(make_retry(), None, drawn)
            show_error(error)
        except ModelUnavailable as error:
            show_error(error)
            failed = f"{pending.provider}:{pending.model}"
            replacement = next((m for m in [default, *catalogue.models] if m.key != failed), default)
            service.set_model(pending.conversation_id, replacement.key)
            switched = st.session_state.setdefault(MODEL_SWITCHES, {})
            switched[conversation_id] = switched.get(conversation_id, 0) + 1
            if st.session_state.get("new_chat_model") == failed:
                st.session_state.pop("new_chat_model")
            st.info(t("chat.switched_model", model=replacement.id))
        except ChatError as error:
            show_error(error)
        finally:
            if drawn is not None and state.message_id and not retried:
                drawn.append(state.message_id)  # plain Python: safe after a Stop, too
            show_limits()
        # Only a failed reply gets here. Its message says "press Retry": offer it now, not after
        # some later rerun (a reply in an existing conversation is not followed by one).
        st.button(
            t("action.retry"),
            icon=":material/refresh:",
            key=f"retry_{state.message_id}",
            on_click=act("regenerate", state.message_id),
        )
        if state.text and state.message_id:  # a partial reply is kept: it can be continued, too
            st.button(
                t("chat.continue"),
                icon=":material/double_arrow:",
                key=f"cont_{state.message_id}",
                on_click=act("continue", state.message_id),
            )
    return False, state.message_id, None


def tokens_per_minute() -> int | None:
    """The context budget also fits the tokens-per-minute limit (newest headers, 413s too)."""
    limits = ctx.providers.rate_limits()
    return limits.limit_tokens if limits else None


def live_turns() -> list[Turn]:
    """The turns the fragment drew since the last full run, from its cache (the database only
    for one it has not read yet, e.g. a reply cut by Stop)."""
    ids: list[str] = st.session_state.setdefault(LIVE, [])
    cache: dict[str, Turn] = st.session_state.setdefault(LIVE_TURNS, {})
    missing = [i for i in ids if i not in cache]
    current = st.session_state.get(CONVERSATION)
    if missing and current:
        cache.update({turn.id: turn for turn in service.turns(current, missing)})
    return [cache[i] for i in ids if i in cache]


def send(prompt: str) -> None:
    """One turn: save the question, stream the answer under the turns above."""
    current: str | None = st.session_state.get(CONVERSATION)
    drawn: list[str] = st.session_state.setdefault(LIVE, [])
    try:
        new_chat = st.session_state.pop(NEW_CHAT_PRESET, None) if current is None else None
        pending = service.start_turn(current, prompt, model, ctx.settings, tokens_per_minute(), new_chat)
        st.session_state[CONVERSATION] = pending.conversation_id
        if st.query_params.get("c") != pending.conversation_id:  # each change is a message to the browser
            st.query_params["c"] = pending.conversation_id
        if "m" in st.query_params:  # the search hit is behind us: a reload opens at the newest
            del st.query_params["m"]
        drawn.append(pending.user_message_id)
        with st.chat_message("user"):
            st.markdown(prompt)
            question_foot = st.container()  # its button, once the reply is in
        retry = lambda: service.regenerate_turn(pending.conversation_id, model, ctx.settings, tokens_per_minute())  # noqa: E731
        completed, reply_id, foot = stream(pending, retry, drawn)
        done = (
            service.turns(pending.conversation_id, [pending.user_message_id, reply_id])
            if completed and reply_id
            else []
        )
        if len(done) == 2 and foot is not None:  # what both show when drawn again: usage, buttons
            question, reply = done
            show_stats(reply)
            with question_foot:
                message_actions(question, last=False)
            with foot:
                if line := usage_line(reply):
                    st.caption(line)
                message_actions(reply, last=True)
        # A failed first reply keeps its error on screen; the list catches up on the next run.
        if completed and pending.conversation_id != current:
            # A short, cheap Groq request names the new chat (unless switched off in Settings);
            # the first words stay otherwise.
            if ctx.settings.auto_titles:
                ctx.history.auto_title(pending.conversation_id, ctx.providers, catalogue.models)
            st.rerun()  # the new conversation joins the sidebar list
        if completed and len(drawn) >= LIVE_MAX:
            st.rerun()  # fold them into the history's window: each fragment run redraws them all
    except InvalidInput as error:
        show_error(error)
    except SQLAlchemyError as error:  # locked, read-only, damaged: explained, and the text kept
        show_error(database_error(error))
        st.caption(t("input.kept"))
        st.code(prompt, language=None, wrap_lines=True)


def chat_input() -> str | None:
    """The chat input, pinned at the bottom, sending to this fragment only.

    Called as from the page's top level (``st._main``), not inside the fragment's own
    container: only then does Streamlit mark it as placed at the bottom by itself, and only
    then does the page open scrolled to the newest message and follow a streaming reply
    (``st.bottom.chat_input`` pins it, but the page stays at the top). Its submit still
    reruns just this fragment, which drew it.
    """
    main = getattr(st, "_main", None)
    if main is None:  # a Streamlit without it: pinned at the bottom all the same
        return st.bottom.chat_input(t("chat.placeholder"), key="prompt", submit_mode="stop")
    with main:
        return st.chat_input(t("chat.placeholder"), key="prompt", submit_mode="stop")


@st.fragment
def live() -> None:
    """The chat input and the turns sent since the last full run: a message reruns only this."""
    set_language(language)  # a fragment run does not run app.py, which sets it
    if st.session_state.get(ACTION) is not None:
        st.rerun()  # a button of a turn drawn here: the full run carries it out
    prompt = chat_input()
    turns_here = live_turns()
    for turn in turns_here:  # a new question makes none of them the last one
        show_turn(turn, last=turn is turns_here[-1] and prompt is None)
    # The sidebar's lines are drawn from here, full run or not: a fragment may only write to
    # an outside container it also wrote to in the last full run.
    show_limits()
    show_stats((turns_here or turns or [None])[-1])
    if prompt is not None:
        send(prompt)


language = current_language()
windows: dict[str, int] = st.session_state.setdefault(WINDOW, {})
asked: int | None = windows.get(conversation_id) if conversation_id else None
# A search hit opened this chat: the window reaches back to it (and stays so on later runs);
# it is scrolled to and marked on this run only, then the scrolling is the user's again.
found: str | None = st.session_state.pop(OPEN_MESSAGE, None)
window = (
    service.recent_messages(
        conversation_id, asked or OPENING_MESSAGES, found, max_chars=None if asked else OPENING_CHARS
    )
    if conversation_id
    else TurnWindow([], 0)
)
turns = window.turns
shown_count = len(turns)
if found and conversation_id:
    windows[conversation_id] = max(shown_count, asked or 0)

if not window.total:
    st.title(t("chat.empty_title"))
    st.caption(t("chat.empty_hint", model=model.id))
if conversation_id and window.total > len(turns):
    if st.button(t("chat.load_earlier", count=window.total - len(turns)), icon=":material/expand_less:"):
        windows[conversation_id] = shown_count + 100
        st.rerun()
show_found = bool(found) and any(turn.id == found for turn in turns)
if turns and not show_found and st.session_state.get(OPENED) != conversation_id:
    # On this run only (later runs leave the scrolling alone), and above the messages: the
    # browser loads what runs it while it draws them.
    with st.container(key="open_at_newest"):
        st.html(OPEN_AT_NEWEST, unsafe_allow_javascript=True)  # our own file: no user text in it
st.session_state[OPENED] = conversation_id
for turn in turns:
    with st.container(key=FOUND) if turn.id == found else nullcontext():
        show_turn(turn, last=turn is turns[-1])
if show_found:
    with st.container(key=f"{FOUND}_script"):
        st.html(SHOW_FOUND, unsafe_allow_javascript=True)  # our own file: no user text in it

if conversation is not None and turns:
    with st.sidebar:
        st.caption(t("sidebar.export"))
        left, right = st.columns(2)
        left.download_button(
            "Markdown",
            lambda: ctx.history.export([conversation.id], "md").data,
            file_name=exporting.file_name(conversation, "md"),
            mime="text/markdown",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "JSON",
            lambda: ctx.history.export([conversation.id], "json").data,
            file_name=exporting.file_name(conversation, "json"),
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
        )

action = st.session_state.pop(ACTION, None)
# The main run drew every saved message: the fragment starts afresh below them.
st.session_state[LIVE] = []
st.session_state[LIVE_TURNS] = {}
live()

try:
    if action and conversation_id:
        kind = action[0]
        tpm = tokens_per_minute()
        # Regenerate/Continue/Retry act on the newest reply; a button left on an older one
        # (drawn before turns were added below it) just brings the page up to date.
        stale = (
            kind in ("regenerate", "continue") and len(action) > 1 and action[1] and turns and action[1] != turns[-1].id
        )
        if stale:
            pass
        elif kind == "show":
            service.show_alternative(conversation_id, str(action[1]))
        elif kind == "fork":
            st.session_state[CONVERSATION] = service.fork(conversation_id, str(action[1]))
            st.query_params["c"] = st.session_state[CONVERSATION]
        elif kind == "edit":
            stream(service.edit_turn(conversation_id, str(action[1]), str(action[2]), model, ctx.settings, tpm))
        elif kind == "regenerate":
            stream(service.regenerate_turn(conversation_id, model, ctx.settings, tpm))
        elif kind == "continue":
            stream(service.continue_turn(conversation_id, model, ctx.settings, tpm))
        st.rerun()
except InvalidInput as error:
    show_error(error)
except SQLAlchemyError as error:  # locked, read-only, damaged: explained
    show_error(database_error(error))
