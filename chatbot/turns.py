"""Turns: save the user's message, start the reply, save it as it streams and at the end.

``send``, ``edit``, ``regenerate``, ``continue_reply`` and ``retry`` return a ``Reply``
(chatbot/reply.py) the page iterates; the retry policy (``reply.decide``) and a retired
model's replacement are decided here, never in a page. The lower steps (``start_turn`` ...
returning a ``PendingTurn``, then ``stream_reply``) stay public for tools and tests that want
the raw events. Never imports Streamlit; database failures come out as ``ChatError``s
(``DatabaseUnavailable``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session, object_session, sessionmaker

from chatbot import context_budget, vision
from chatbot.branches import branch_path
from chatbot.database import database_errors
from chatbot.errors import ChatError, InvalidInput, ModelUnavailable, stored_values
from chatbot.image_store import ImageStore
from chatbot.images import MAX_IMAGES
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.model_limits import is_daily
from chatbot.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationParams,
    ImagePart,
    ModelInfo,
    Provider,
    RateLimits,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolRun,
    Usage,
)
from chatbot.reply import (
    ContinueOn,
    FallBack,
    NewChatOptions,
    NextStep,
    Nothing,
    PendingTurn,
    Reply,
    ReplyState,
    TurnSetup,
    decide,
)
from chatbot.settings import AppSettings
from chatbot.spend import CacheLookup, Guard
from chatbot.store import attachment_repo, repo
from chatbot.store.attachment_repo import ImageContent, StoredImage
from chatbot.store.models import Conversation, Message, utcnow
from chatbot.tools import STORED, chosen, merge, stored

FLUSH_INTERVAL = 1.0  # a killed server loses at most this much of a streaming reply
TITLE_WORDS = 8
SEND_RETRIES = 1  # a new message may be retried once by itself (a short 429, a 413); Retry is the user's

ProviderResolver = Callable[[str], Provider]


def conversation_params(settings: AppSettings, overrides: dict[str, Any], model: ModelInfo) -> GenerationParams:
    """Global settings, overridden by the conversation's own, capped by the model's output limit."""
    base = settings.params(model.max_completion_tokens)
    max_tokens = overrides.get("max_tokens", base.max_tokens)
    if model.max_completion_tokens and max_tokens:
        max_tokens = min(int(max_tokens), model.max_completion_tokens)
    return GenerationParams(
        temperature=overrides.get("temperature", base.temperature),
        top_p=overrides.get("top_p", base.top_p),
        max_tokens=max_tokens,
        reasoning_effort=overrides.get("reasoning_effort") if model.reasoning else None,
        # Groq's default tier is on_demand: only another one is sent.
        service_tier=(
            settings.service_tier if model.provider == "groq" and settings.service_tier != "on_demand" else None
        ),
    )


def storable(text: str) -> str:
    """``text`` as valid Unicode: SQLite (UTF-8) and JSON cannot hold lone surrogates.

    A surrogate pair split into two code points is joined into its character; a lone half
    becomes U+FFFD. Everything else (control characters, RTL marks, emoji) is kept as is.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def make_title(text: str) -> str:
    words = text.split()
    title = " ".join(words[:TITLE_WORDS])
    return (title[:80] + "…") if len(words) > TITLE_WORDS or len(title) > 80 else title


def check_text(text: str) -> str:
    """A message as it will be stored; ``InvalidInput`` (empty, over the limit) before anything
    is saved or sent."""
    if not text or not text.strip():
        raise InvalidInput("input.empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput("input.too_long", limit=MAX_MESSAGE_CHARS, length=len(text))
    return storable(text)


def _with_notes(content: str, notes: list[str]) -> str:
    return "\n\n".join(part for part in (content, *notes) if part)


def _request_messages(
    system_prompt: str | None,
    path: list[Message],
    images: dict[str, list[StoredImage]] | None = None,
    sees_images: bool = False,
) -> list[ChatMessage]:
    """The request's messages; the images of ``path`` go with theirs for a model that sees them
    (the newest ones, up to Groq's per-request limit), else each is a note in the text: Groq
    refuses image parts sent to a text-only model."""
    images = images or {}
    sendable: set[tuple[str, int]] = set()
    if sees_images:
        newest = [(m.id, i) for m in reversed(path) for i in reversed(range(len(images.get(m.id, []))))]
        sendable = set(newest[:MAX_IMAGES])
    out = [ChatMessage("system", system_prompt)] if system_prompt else []
    for m in path:
        # Failed replies with nothing in them carry no meaning for the model.
        if m.role == "assistant" and not m.content:
            continue
        shown = images.get(m.id, [])
        if not shown:
            out.append(ChatMessage(m.role, m.content))
            continue
        parts = tuple(
            ImagePart(i.mime, i.data or b"", i.width, i.height)
            for n, i in enumerate(shown)
            if (m.id, n) in sendable and i.data
        )
        note = vision.OMITTED_NOTE if not sees_images else vision.EARLIER_NOTE
        notes = [note] * (len(shown) - len(parts))
        out.append(ChatMessage(m.role, _with_notes(m.content, notes), parts))
    return out


def estimated_usage(request: list[ChatMessage], received: str) -> Usage:
    """What a reply the provider never counted most likely used: the request as sent, and what
    came back (the text and reasoning received)."""
    return Usage(
        prompt_tokens=context_budget.estimate_messages(request),
        completion_tokens=context_budget.estimate_tokens(received),
    )


class Turns:
    def __init__(self, sessions: sessionmaker[Session], providers: ProviderResolver, owner: str = "") -> None:
        self._sessions = sessions
        self._providers = providers
        self.owner = owner
        # Cost and limits (chatbot/spend.py): answer cache, spending budgets, limits per model.
        self.guard: Guard | None = None
        self.images = ImageStore(sessions, owner)  # the stored images, for the pages

    # --- replies: what the chat page uses --------------------------------------------------
    def send(
        self,
        conversation_id: str | None,
        text: str,
        setup: TurnSetup,
        new_chat: NewChatOptions | None = None,
        images: Sequence[ImageContent] = (),
    ) -> Reply:
        """A new message (a new conversation when ``conversation_id`` is None), then its reply;
        ``images`` (chatbot.images.prepare) are stored and go with it."""
        pending = self.start_turn(
            conversation_id, text, setup.model, setup.settings, setup.tokens_per_minute(), new_chat, images
        )
        return self._reply(pending, setup, SEND_RETRIES)

    def edit(self, conversation_id: str, message_id: str, text: str, setup: TurnSetup) -> Reply:
        pending = self.edit_turn(
            conversation_id, message_id, text, setup.model, setup.settings, setup.tokens_per_minute()
        )
        return self._reply(pending, setup, 0)

    def regenerate(self, conversation_id: str, setup: TurnSetup, message_id: str | None = None) -> Reply:
        """A new answer to the last question, or to the question of the reply ``message_id``."""
        pending = self.regenerate_turn(
            conversation_id, setup.model, setup.settings, setup.tokens_per_minute(), message_id
        )
        return self._reply(pending, setup, 0)

    def continue_reply(self, conversation_id: str, setup: TurnSetup) -> Reply:
        pending = self.continue_turn(conversation_id, setup.model, setup.settings, setup.tokens_per_minute())
        return self._reply(pending, setup, 0)

    def retry(self, reply: Reply) -> Reply:
        """Carry out ``reply.next_step`` (after its wait): a new answer to the same question,
        fitted to the newest limits; one automatic retry fewer left."""
        setup = reply.setup
        if isinstance(reply.next_step, FallBack):  # the same question, on the model to continue on
            setup = replace(setup, model=reply.next_step.model)
        pending = self.regenerate_turn(reply.conversation_id, setup.model, setup.settings, setup.tokens_per_minute())
        return self._reply(pending, setup, max(0, reply.retries_left - 1))

    def answer(self, pending: PendingTurn, setup: TurnSetup) -> Reply:
        """The reply to a turn prepared by the steps below (chatbot/compare.py prepares one per
        model); no automatic retry: a comparison's failed model fails alone."""
        return self._reply(pending, setup, 0)

    def _reply(self, pending: PendingTurn, setup: TurnSetup, retries_left: int) -> Reply:
        settings = setup.settings
        # A continued reply extends stored text: never from (or into) the cache.
        if settings.answer_cache and not pending.continue_message_id:
            pending.cache_hours = float(settings.answer_cache_hours)
        pending.fresh = setup.fresh
        state = ReplyState()
        return Reply(pending, self.stream_reply(pending, state), state, setup, retries_left, self._failed)

    def _failed(self, reply: Reply, error: ChatError) -> NextStep:
        step = decide(error, reply.retries_left, reply.pending.model_key, reply.setup.fallbacks)
        if isinstance(step, Nothing) and is_daily(error) and self.guard is not None:
            # Each model that fails so is kept as limited, so automatic fallbacks end.
            reply.offers = self.guard.offers(reply.setup.model, reply.setup.fallbacks)
            if reply.offers and reply.setup.settings.auto_fallback:
                step = FallBack(reply.offers[0].model)
        if isinstance(step, ContinueOn) and isinstance(error, ModelUnavailable):
            self._switch_model(reply.conversation_id, step.model)
        return step

    @database_errors
    def _switch_model(self, conversation_id: str, model: ModelInfo) -> None:
        with self._sessions.begin() as s:
            repo.update_conversation(s, self.owner, conversation_id, provider=model.provider, model=model.id)

    # --- the steps ---------------------------------------------------------------------------
    @database_errors
    def start_turn(
        self,
        conversation_id: str | None,
        text: str,
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None = None,
        new_chat: NewChatOptions | None = None,
        images: Sequence[ImageContent] = (),
    ) -> PendingTurn:
        """Validate and commit the user's message (and its images) before any provider call."""
        text = "" if images and not text.strip() else check_text(text)  # a picture alone is a message
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id) if conversation_id else None
            if conv is None:
                conv = repo.create_conversation(
                    s,
                    self.owner,
                    model.provider,
                    model.id,
                    title=make_title(text or images[0].name),
                    system_prompt=new_chat.system_prompt if new_chat else settings.system_prompt,
                )
                conv.params = dict(new_chat.params) if new_chat else {}
            # Plain rows: a 1,000-message history loads in a third of the time of ORM objects.
            history = branch_path(repo.message_rows(s, conv.id), conv.current_message_id)
            user = repo.add_message(
                s, conv.id, role="user", content=text, parent_id=history[-1].id if history else None
            )
            if images:
                attachment_repo.link(s, self.owner, user.id, list(images))
            return self._pending(conv, [*history, user], model, settings, tokens_per_minute)

    @database_errors
    def edit_turn(
        self,
        conversation_id: str,
        message_id: str,
        text: str,
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None = None,
    ) -> PendingTurn:
        """Resend an earlier question, changed: a new branch beside the old one (kept)."""
        text = check_text(text)
        with self._sessions.begin() as s:
            conv = self._owned(s, conversation_id)
            msgs = repo.all_messages(s, conv.id)
            original = next((m for m in msgs if m.id == message_id and m.role == "user"), None)
            if original is None:
                raise InvalidInput("error.no_conversation")
            history = branch_path(msgs, original.parent_id) if original.parent_id else []
            user = repo.add_message(s, conv.id, role="user", content=text, parent_id=original.parent_id)
            attachment_repo.copy_links(s, [(original.id, user.id)])  # an edit keeps the question's images
            return self._pending(conv, [*history, user], model, settings, tokens_per_minute)

    @database_errors
    def regenerate_turn(
        self,
        conversation_id: str,
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None = None,
        message_id: str | None = None,
    ) -> PendingTurn:
        """A new answer beside the earlier ones (kept as alternatives): to the last question, or
        to the question that the reply ``message_id`` answers (what came after it stays on its
        own branch, as after an edit)."""
        with self._sessions.begin() as s:
            conv = self._owned(s, conversation_id)
            msgs = repo.all_messages(s, conv.id)
            if message_id is None:
                path = branch_path(msgs, conv.current_message_id)
            else:
                reply = next((m for m in msgs if m.id == message_id and m.role == "assistant"), None)
                if reply is None or reply.parent_id is None:
                    raise InvalidInput("error.no_conversation")
                path = branch_path(msgs, reply.parent_id)
            while path and path[-1].role == "assistant":
                path.pop()
            if not path:
                raise InvalidInput("error.no_conversation")
            # Each answer the provider refused as longer than its context window halves what
            # the budget lets through: the estimate was too low for this text.
            too_long = sum(1 for m in msgs if m.parent_id == path[-1].id and m.error_code == "error.context_length")
            return self._pending(conv, path, model, settings, tokens_per_minute, pressure=2.0 ** min(too_long, 3))

    @database_errors
    def continue_turn(
        self,
        conversation_id: str,
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None = None,
    ) -> PendingTurn:
        """Extend a reply cut by max_tokens or an interruption, in the same message.

        The partial reply goes last in the request as an assistant message; Groq (like other
        OpenAI-compatible APIs) continues a trailing assistant message instead of starting anew.
        """
        with self._sessions.begin() as s:
            conv = self._owned(s, conversation_id)
            path = branch_path(repo.all_messages(s, conv.id), conv.current_message_id)
            if len(path) < 2 or path[-1].role != "assistant" or not path[-1].content:
                raise InvalidInput("error.nothing_to_continue")
            pending = self._pending(conv, path, model, settings, tokens_per_minute)
            pending.continue_message_id = path[-1].id
            pending.user_message_id = path[-1].parent_id or path[-1].id
            return pending

    def _owned(self, s: Session, conversation_id: str) -> Conversation:
        conv = repo.get_conversation(s, self.owner, conversation_id)
        if conv is None:
            raise InvalidInput("error.no_conversation")
        return conv

    def _pending(
        self,
        conv: Conversation,
        path: list[Message],
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None,
        pressure: float = 1.0,
    ) -> PendingTurn:
        """The request for ``path`` (its last message is answered), fitted to the budget."""
        conv.provider, conv.model = model.provider, model.id
        conv.current_message_id = path[-1].id
        conv.updated_at = utcnow()
        params = conversation_params(settings, conv.params or {}, model)
        sees = vision.sees_images(model)
        session = object_session(conv)
        users = [m.id for m in path if m.role == "user"]
        images = attachment_repo.images_of(session, users, with_data=sees) if session is not None else {}
        messages = _request_messages(conv.system_prompt, path, images, sees)
        ratio = 1.0
        for i in range(len(path) - 1, -1, -1):  # calibrate on the newest counted request
            if path[i].role == "assistant" and path[i].prompt_tokens:
                counted = _request_messages(conv.system_prompt, path[:i], images, sees)
                ratio = context_budget.calibration(counted, path[i].prompt_tokens)
                break
        budget = context_budget.Budget(model.context_window, tokens_per_minute, params.max_tokens or 0)
        fitted = context_budget.fit(messages, budget, ratio * pressure)
        request = ChatRequest(model=model.id, messages=fitted.messages, params=params)
        request.tools = chosen(conv.params, model)  # the conversation's switches (chatbot.tools)
        return PendingTurn(conv.id, path[-1].id, model.provider, model.id, request, fitted.omitted)

    @database_errors
    def stream_reply(self, pending: PendingTurn, state: ReplyState | None = None) -> Iterator[StreamEvent]:
        """Stream the reply's events; persist it as it goes and, whatever happens, at the end.

        A Stop in the UI closes this generator (GeneratorExit): the ``finally`` saves the
        partial reply as 'stopped' with plain SQLAlchemy, since Streamlit calls fail by then.
        A provider failure is raised here, after the reply is saved with it.
        """
        state = state or ReplyState()
        params = pending.request.params
        system = next((m.content for m in pending.request.messages if m.role == "system"), None)
        # The prompt this reply was sent with: exports show it, not the conversation's later one.
        stored_params = {**params.as_dict(), "omitted": pending.omitted, "system_prompt": system}
        lookup = self._lookup(pending, stored_params)
        with self._sessions.begin() as s:
            reply = s.get(Message, pending.continue_message_id) if pending.continue_message_id else None
            if reply is not None:  # continuing: the new text extends the stored partial
                state.text = [reply.content]
                state.reasoning = [reply.reasoning] if reply.reasoning else []
                repo.update_message(s, reply.id, status="streaming", model=pending.model, params=stored_params)
            else:
                reply = repo.add_message(
                    s,
                    pending.conversation_id,
                    role="assistant",
                    content="",
                    status="streaming",
                    parent_id=pending.user_message_id,
                    provider=pending.provider,
                    model=pending.model,
                    params=stored_params,
                )
            if pending.shown:
                repo.update_conversation(s, self.owner, pending.conversation_id, current_message_id=reply.id)
        state.message_id = reply.id
        carried = len(state.text)  # a continued reply's stored part: not this request's output
        started = time.monotonic()
        first_token: float | None = None
        first_reasoning: float | None = None
        first_text: float | None = None
        last_flush = started
        state.status = "stopped"  # what a GeneratorExit (Stop) leaves
        try:
            for event in self._events(pending, lookup):
                if isinstance(event, (TextDelta, ReasoningDelta)):
                    if first_token is None:
                        first_token = time.monotonic()
                    if isinstance(event, ReasoningDelta):
                        first_reasoning = first_reasoning or time.monotonic()
                    elif first_text is None and event.text:
                        first_text = time.monotonic()
                    (state.text if isinstance(event, TextDelta) else state.reasoning).append(event.text)
                elif isinstance(event, Usage):
                    state.usage = event
                elif isinstance(event, RateLimits):
                    state.rate_limits = event
                elif isinstance(event, Finish):
                    state.finish_reason = event.reason
                elif isinstance(event, ToolRun):
                    state.tools = merge(state.tools, event)
                yield event
                if time.monotonic() - last_flush >= FLUSH_INTERVAL:
                    last_flush = time.monotonic()
                    with self._sessions.begin() as s:
                        repo.update_message(
                            s,
                            reply.id,
                            content=storable("".join(state.text)),
                            reasoning=storable("".join(state.reasoning)) or None,
                        )
            state.status = "complete"
            self._keep(pending, lookup, state)
        except ChatError as exc:
            state.error = exc
            state.status = "interrupted" if state.text else "error"
            raise
        except Exception:
            state.error = ChatError("error.unknown")
            state.status = "interrupted" if state.text else "error"
            raise
        finally:
            thinking = (first_text or time.monotonic()) - first_reasoning if first_reasoning else None
            self._save_reply(pending, state, started, first_token, stored_params, thinking, carried)

    def _lookup(self, pending: PendingTurn, stored_params: dict[str, Any]) -> CacheLookup | None:
        """The answer cache's entry for this request; a hit is marked on the stored reply."""
        if self.guard is None:
            return None
        lookup = self.guard.cached(pending.provider, pending.request, pending.cache_hours, pending.fresh)
        if lookup.hit is not None:
            stored_params["from_cache"] = True  # answered at once, no request, no tokens
        return lookup

    def _keep(self, pending: PendingTurn, lookup: CacheLookup | None, state: ReplyState) -> None:
        if lookup is not None and self.guard is not None:
            text, reasoning = "".join(state.text), "".join(state.reasoning) or None
            self.guard.keep(lookup, pending.cache_hours, pending.provider, pending.model, text, reasoning)

    def _events(self, pending: PendingTurn, lookup: CacheLookup | None) -> Iterator[StreamEvent]:
        """The reply's events: from the answer cache, or from the provider (through the guard)."""
        if lookup is not None and lookup.hit is not None:
            return lookup.hit.events()
        if self.guard is None:
            return self._providers(pending.provider).stream_chat(pending.request)
        return self.guard.events(
            pending.provider, pending.model, lambda: self._providers(pending.provider), pending.request
        )

    def _save_reply(
        self,
        pending: PendingTurn,
        state: ReplyState,
        started: float,
        first_token: float | None,
        stored_params: dict[str, Any] | None = None,
        thinking_time: float | None = None,
        carried: int = 0,
    ) -> None:
        ended = time.monotonic()
        usage = state.usage or Usage()
        if state.usage is None and (state.text[carried:] or state.reasoning or state.status == "stopped"):
            # No usage from the provider (Stop, a cut stream): the tokens were still spent.
            usage = estimated_usage(pending.request.messages, "".join(state.text[carried:] + state.reasoning))
            state.usage, state.tokens_estimated = usage, True
        completion_tokens = usage.completion_tokens
        tokens_per_second: float | None = None
        if completion_tokens:
            # What the user saw: tokens over the time they streamed in; the provider's own
            # completion_time when everything arrived in one burst.
            window = ended - first_token if first_token else 0.0
            if window < 0.05 and usage.completion_time:
                window = usage.completion_time
            tokens_per_second = completion_tokens / window if window > 0 else None
        fields: dict[str, Any] = {
            "content": storable("".join(state.text)),
            "reasoning": storable("".join(state.reasoning)) or None,
            "status": state.status,
            "finish_reason": state.finish_reason,
            "error_code": state.error.key if state.error else None,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": completion_tokens,
            "queue_time": usage.queue_time,
            "total_time": ended - started,
            "time_to_first_token": (first_token - started) if first_token else None,
            "tokens_per_second": tokens_per_second,
            "tokens_estimated": state.tokens_estimated,
            "thinking_time": thinking_time,
            "cached_tokens": usage.cached_tokens,
        }
        if state.error is not None and state.error.values:
            fields["params"] = {**(stored_params or {}), "error_values": stored_values(state.error)}
        if state.tools:  # what the built-in tools did, kept with the reply (shown, exported)
            fields["params"] = {**fields.get("params", stored_params or {}), STORED: stored(state.tools)}
        assert state.message_id is not None  # set before the stream starts
        with self._sessions.begin() as s:
            repo.update_message(s, state.message_id, **fields)
            repo.touch_conversation(s, pending.conversation_id)
