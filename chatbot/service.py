"""One chat turn end to end: validate, save the user's text, stream the reply, persist it.

Pages call this; it never imports Streamlit. The database is the truth: everything a page
shows is read back from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chatbot import context_budget
from chatbot.errors import ChatError, InvalidInput, stored_values
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.presets import BUILTIN_PREFIX, Preset, builtin_presets, same_name
from chatbot.presets import validate as validate_preset
from chatbot.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationParams,
    ModelInfo,
    Provider,
    RateLimits,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)
from chatbot.settings import AppSettings
from chatbot.store import repo
from chatbot.store.models import Conversation, Message, utcnow

FLUSH_INTERVAL = 1.0  # a killed server loses at most this much of a streaming reply
STALE_STREAM_AFTER = timedelta(seconds=15)
TITLE_WORDS = 8
PRESETS_KEY = "presets"

ProviderResolver = Callable[[str], Provider]


@dataclass(frozen=True)
class Turn:
    """A message as the UI sees it."""

    id: str
    role: str
    content: str
    status: str
    reasoning: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    finish_reason: str | None = None
    error_code: str | None = None
    prompt_tokens_omitted: int = 0
    queue_time: float | None = None
    # Ids of this message and its siblings (answers regenerated, questions edited), oldest first.
    alternatives: tuple[str, ...] = ()
    # The values of error_code's message (which limit, which model, ...), to show it again.
    error_values: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def alternative_index(self) -> int:
        return self.alternatives.index(self.id) if self.id in self.alternatives else 0


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    provider: str
    model: str
    system_prompt: str | None
    updated_at: datetime
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def model_key(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True)
class TurnWindow:
    """The newest messages of a conversation's shown branch, and how many the branch holds."""

    turns: list[Turn]
    total: int


@dataclass(frozen=True)
class UsageRow:
    day: str
    model: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class NewChatOptions:
    """How a conversation starts when its first message is sent (e.g. from a preset)."""

    system_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PendingTurn:
    """A user message that is saved and waits for its reply."""

    conversation_id: str
    user_message_id: str
    provider: str
    model: str
    request: ChatRequest
    omitted: int = 0  # earlier messages left out to fit the context budget
    continue_message_id: str | None = None  # set when extending a cut reply in place


@dataclass
class ReplyState:
    """What the stream produced so far; readable after a Stop (no Streamlit needed)."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    usage: Usage | None = None
    rate_limits: RateLimits | None = None
    finish_reason: str | None = None
    error: ChatError | None = None
    message_id: str | None = None


def split_model_key(key: str) -> tuple[str, str]:
    provider, _, model = key.partition(":")
    if not model:
        raise InvalidInput("error.unknown_model", model=key)
    return provider, model


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _turn(m: Message, alternatives: tuple[str, ...] = ()) -> Turn:
    return Turn(
        id=m.id,
        role=m.role,
        content=m.content,
        status=m.status,
        reasoning=m.reasoning,
        model=m.model,
        prompt_tokens=m.prompt_tokens,
        completion_tokens=m.completion_tokens,
        time_to_first_token=m.time_to_first_token,
        tokens_per_second=m.tokens_per_second,
        finish_reason=m.finish_reason,
        error_code=m.error_code,
        prompt_tokens_omitted=int((m.params or {}).get("omitted", 0)),
        queue_time=m.queue_time,
        alternatives=alternatives,
        error_values=dict((m.params or {}).get("error_values") or {}),
    )


def _info(c: Conversation) -> ConversationInfo:
    return ConversationInfo(
        c.id, c.title, c.provider, c.model, c.system_prompt, _as_utc(c.updated_at), dict(c.params or {})
    )


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


def _fitting(lengths: list[int], max_chars: int, at_least: int = 2) -> int:
    """How many of the newest messages (``lengths``: oldest first) fit in ``max_chars``."""
    used = count = 0
    for length in reversed(lengths):
        if count >= at_least and used + length > max_chars:
            break
        used += length
        count += 1
    return count


class ChatService:
    def __init__(self, sessions: sessionmaker[Session], providers: ProviderResolver, owner: str = "") -> None:
        self._sessions = sessions
        self._providers = providers
        self.owner = owner

    # --- settings -------------------------------------------------------------------------
    def load_settings(self) -> AppSettings:
        with self._sessions() as s:
            return AppSettings.from_stored(repo.get_settings(s, self.owner))

    def save_settings(self, settings: AppSettings) -> None:
        with self._sessions.begin() as s:
            repo.put_settings(s, self.owner, settings.to_stored())

    def usage(self, days: int = 30) -> list[UsageRow]:
        with self._sessions() as s:
            rows = repo.usage_by_day_and_model(s, self.owner, utcnow() - timedelta(days=days))
        return [UsageRow(*row) for row in rows]

    # --- presets ----------------------------------------------------------------------------
    def presets(self) -> list[Preset]:
        with self._sessions() as s:
            stored = repo.get_settings(s, self.owner).get(PRESETS_KEY) or []
        return builtin_presets() + [Preset.from_stored(p) for p in stored if isinstance(p, dict)]

    def save_preset(self, preset: Preset) -> Preset:
        """Add one of the user's own presets, or change one in place (same id, same place in
        the list). Names are unique among the user's presets: a list of two "Reviewer"s cannot
        be told apart in the chat page's picker."""
        preset = validate_preset(preset)
        if preset.builtin or preset.id.startswith(BUILTIN_PREFIX):
            raise InvalidInput("presets.builtin_readonly")
        with self._sessions.begin() as s:
            stored = [p for p in (repo.get_settings(s, self.owner).get(PRESETS_KEY) or []) if isinstance(p, dict)]
            if any(p.get("id") != preset.id and same_name(str(p.get("name", "")), preset.name) for p in stored):
                raise InvalidInput("presets.duplicate_name", name=preset.name)
            place = next((i for i, p in enumerate(stored) if p.get("id") == preset.id), len(stored))
            # A new list, not the loaded one changed in place: the JSON column is saved on assignment.
            updated = [*stored[:place], preset.to_stored(), *stored[place + 1 :]]
            repo.put_settings(s, self.owner, {PRESETS_KEY: updated})
        return preset

    def delete_preset(self, preset_id: str) -> None:
        with self._sessions.begin() as s:
            stored = repo.get_settings(s, self.owner).get(PRESETS_KEY) or []
            repo.put_settings(s, self.owner, {PRESETS_KEY: [p for p in stored if p.get("id") != preset_id]})

    # --- conversations --------------------------------------------------------------------
    def recent_conversations(self, limit: int = 30, after: repo.PageCursor | None = None) -> list[ConversationInfo]:
        with self._sessions() as s:
            return [_info(c) for c in repo.list_conversations(s, self.owner, limit, after)]

    def conversation(self, conversation_id: str) -> ConversationInfo | None:
        with self._sessions() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            return _info(conv) if conv else None

    def messages(self, conversation_id: str) -> list[Turn]:
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return []
            msgs = repo.all_messages(s, conv.id)
            if any(m.status == "streaming" for m in msgs):  # reading alone never writes (read-only files)
                # Not in the session during the bulk UPDATE: its in-Python sync of loaded rows would
                # compare SQLite's naive timestamps with the aware cutoff (TypeError). Reloaded below.
                for m in msgs:
                    s.expunge(m)
                repo.mark_stale_streams_interrupted(s, conv.id, utcnow() - STALE_STREAM_AFTER)
                s.expire_all()
                msgs = repo.all_messages(s, conv.id)
            siblings: dict[str | None, list[str]] = {}
            for m in msgs:
                siblings.setdefault(m.parent_id, []).append(m.id)
            return [
                _turn(m, tuple(siblings.get(m.parent_id, [m.id])))
                for m in repo.branch_path(msgs, conv.current_message_id)
            ]

    def recent_messages(
        self, conversation_id: str, limit: int, include: str | None = None, max_chars: int | None = None
    ) -> TurnWindow:
        """The newest ``limit`` messages of the shown branch, as ``messages`` gives them; fewer
        when ``max_chars`` is given and they hold more text than that (never fewer than the last
        exchange); more when ``include`` (a search hit) is on the branch but older: the window
        reaches it.

        What the chat page draws: every message's id and parent are read to find the branch,
        the full rows only for the window (a long conversation opens in a few milliseconds).
        """
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return TurnWindow([], 0)
            skeleton = repo.message_skeleton(s, conv.id)
            if any(m.status == "streaming" for m in skeleton):  # no ORM rows loaded: see messages()
                repo.mark_stale_streams_interrupted(s, conv.id, utcnow() - STALE_STREAM_AFTER)
            path = repo.branch_path(skeleton, conv.current_message_id)
            start = max(0, len(path) - limit) if limit > 0 else 0
            if max_chars is not None:
                start = len(path) - _fitting(repo.content_lengths(s, [m.id for m in path[start:]]), max_chars)
            if include:
                start = min(start, next((i for i, m in enumerate(path) if m.id == include), start))
            shown = path[start:]
            return TurnWindow(self._turns(s, conv.id, [m.id for m in shown], skeleton), len(path))

    def turns(self, conversation_id: str, message_ids: list[str]) -> list[Turn]:
        """These messages of a conversation as Turns (alternatives included), in the given order."""
        with self._sessions() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return []
            return self._turns(s, conv.id, message_ids)

    @staticmethod
    def _turns(
        s: Session, conversation_id: str, message_ids: list[str], skeleton: list[Any] | None = None
    ) -> list[Turn]:
        rows = {m.id: m for m in repo.messages_by_ids(s, conversation_id, message_ids)}
        if skeleton is None:  # just the alternatives of these messages
            skeleton = repo.children_of(s, conversation_id, list({m.parent_id for m in rows.values()}))
        siblings: dict[str | None, list[str]] = {}
        for m in skeleton:
            siblings.setdefault(m.parent_id, []).append(m.id)
        return [_turn(rows[i], tuple(siblings.get(rows[i].parent_id, [i]))) for i in message_ids if i in rows]

    def set_model(self, conversation_id: str, model_key: str) -> None:
        provider, model = split_model_key(model_key)
        with self._sessions.begin() as s:
            repo.update_conversation(s, self.owner, conversation_id, provider=provider, model=model)

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._sessions.begin() as s:
            return repo.delete_conversation(s, self.owner, conversation_id)

    def update_options(self, conversation_id: str, system_prompt: str | None, params: dict[str, Any]) -> None:
        """This conversation's own system prompt and parameters (over the global settings)."""
        with self._sessions.begin() as s:
            repo.update_conversation(s, self.owner, conversation_id, system_prompt=system_prompt or None, params=params)

    def show_alternative(self, conversation_id: str, message_id: str) -> None:
        """Look at another answer or another version of a question (and what followed it)."""
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return
            msgs = repo.all_messages(s, conv.id)
            if any(m.id == message_id for m in msgs):
                conv.current_message_id = repo.newest_leaf(msgs, message_id)

    def fork(self, conversation_id: str, message_id: str) -> str:
        """A new conversation holding the path up to ``message_id``; the original is untouched."""
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                raise InvalidInput("error.no_conversation")
            path = repo.branch_path(repo.all_messages(s, conv.id), message_id)
            copy = repo.create_conversation(
                s,
                self.owner,
                conv.provider,
                conv.model,
                title=conv.title,
                system_prompt=conv.system_prompt,
                params=dict(conv.params or {}),
            )
            parent: str | None = None
            for m in path:
                clone = repo.add_message(
                    s,
                    copy.id,
                    parent_id=parent,
                    role=m.role,
                    content=m.content,
                    reasoning=m.reasoning,
                    status=m.status,
                    provider=m.provider,
                    model=m.model,
                    params=m.params,
                    finish_reason=m.finish_reason,
                    error_code=m.error_code,
                    prompt_tokens=m.prompt_tokens,
                    completion_tokens=m.completion_tokens,
                    time_to_first_token=m.time_to_first_token,
                    total_time=m.total_time,
                    queue_time=m.queue_time,
                    tokens_per_second=m.tokens_per_second,
                    created_at=m.created_at,
                )
                parent = clone.id
            copy.current_message_id = parent
            return copy.id

    # --- one turn -------------------------------------------------------------------------
    @staticmethod
    def _check_text(text: str) -> str:
        if not text or not text.strip():
            raise InvalidInput("input.empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput("input.too_long", limit=MAX_MESSAGE_CHARS, length=len(text))
        return storable(text)

    def start_turn(
        self,
        conversation_id: str | None,
        text: str,
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None = None,
        new_chat: NewChatOptions | None = None,
    ) -> PendingTurn:
        """Validate and commit the user's message before any provider call."""
        text = self._check_text(text)
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id) if conversation_id else None
            if conv is None:
                conv = repo.create_conversation(
                    s,
                    self.owner,
                    model.provider,
                    model.id,
                    title=make_title(text),
                    system_prompt=new_chat.system_prompt if new_chat else settings.system_prompt,
                )
                conv.params = dict(new_chat.params) if new_chat else {}
            # Plain rows: a 1,000-message history loads in a third of the time of ORM objects.
            history = repo.branch_path(repo.message_rows(s, conv.id), conv.current_message_id)
            user = repo.add_message(
                s, conv.id, role="user", content=text, parent_id=history[-1].id if history else None
            )
            return self._pending(conv, [*history, user], model, settings, tokens_per_minute)

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
        text = self._check_text(text)
        with self._sessions.begin() as s:
            conv = self._owned(s, conversation_id)
            msgs = repo.all_messages(s, conv.id)
            original = next((m for m in msgs if m.id == message_id and m.role == "user"), None)
            if original is None:
                raise InvalidInput("error.no_conversation")
            history = repo.branch_path(msgs, original.parent_id) if original.parent_id else []
            user = repo.add_message(s, conv.id, role="user", content=text, parent_id=original.parent_id)
            return self._pending(conv, [*history, user], model, settings, tokens_per_minute)

    def regenerate_turn(
        self,
        conversation_id: str,
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None = None,
    ) -> PendingTurn:
        """A new answer to the last question, beside the earlier ones (kept as alternatives)."""
        with self._sessions.begin() as s:
            conv = self._owned(s, conversation_id)
            msgs = repo.all_messages(s, conv.id)
            path = repo.branch_path(msgs, conv.current_message_id)
            while path and path[-1].role == "assistant":
                path.pop()
            if not path:
                raise InvalidInput("error.no_conversation")
            # Each answer the provider refused as longer than its context window halves what
            # the budget lets through: the estimate was too low for this text.
            too_long = sum(1 for m in msgs if m.parent_id == path[-1].id and m.error_code == "error.context_length")
            return self._pending(conv, path, model, settings, tokens_per_minute, pressure=2.0 ** min(too_long, 3))

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
            path = repo.branch_path(repo.all_messages(s, conv.id), conv.current_message_id)
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
        messages = self._request_messages(conv.system_prompt, path)
        ratio = 1.0
        for i in range(len(path) - 1, -1, -1):  # calibrate on the newest counted request
            if path[i].role == "assistant" and path[i].prompt_tokens:
                counted = self._request_messages(conv.system_prompt, path[:i])
                ratio = context_budget.calibration(counted, path[i].prompt_tokens)
                break
        budget = context_budget.Budget(model.context_window, tokens_per_minute, params.max_tokens or 0)
        fitted = context_budget.fit(messages, budget, ratio * pressure)
        request = ChatRequest(model=model.id, messages=fitted.messages, params=params)
        return PendingTurn(conv.id, path[-1].id, model.provider, model.id, request, fitted.omitted)

    @staticmethod
    def _request_messages(system_prompt: str | None, path: list[Message]) -> list[ChatMessage]:
        out = [ChatMessage("system", system_prompt)] if system_prompt else []
        for m in path:
            # Failed replies with nothing in them carry no meaning for the model.
            if m.role == "assistant" and not m.content:
                continue
            out.append(ChatMessage(m.role, m.content))
        return out

    def stream_reply(self, pending: PendingTurn, state: ReplyState | None = None) -> Iterator[StreamEvent]:
        """Stream the reply's events; persist it as it goes and, whatever happens, at the end.

        A Stop in the UI closes this generator (GeneratorExit): the ``finally`` saves the
        partial reply as 'stopped' with plain SQLAlchemy, since Streamlit calls fail by then.
        """
        state = state or ReplyState()
        params = pending.request.params
        stored_params = {**params.as_dict(), "omitted": pending.omitted}
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
            repo.update_conversation(s, self.owner, pending.conversation_id, current_message_id=reply.id)
        state.message_id = reply.id
        started = time.monotonic()
        first_token: float | None = None
        last_flush = started
        status = "stopped"  # what a GeneratorExit (Stop) leaves
        try:
            provider = self._providers(pending.provider)
            for event in provider.stream_chat(pending.request):
                if isinstance(event, (TextDelta, ReasoningDelta)):
                    if first_token is None:
                        first_token = time.monotonic()
                    (state.text if isinstance(event, TextDelta) else state.reasoning).append(event.text)
                elif isinstance(event, Usage):
                    state.usage = event
                elif isinstance(event, RateLimits):
                    state.rate_limits = event
                elif isinstance(event, Finish):
                    state.finish_reason = event.reason
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
            status = "complete"
        except ChatError as exc:
            state.error = exc
            status = "interrupted" if state.text else "error"
            raise
        except Exception:
            state.error = ChatError("error.unknown")
            status = "interrupted" if state.text else "error"
            raise
        finally:
            self._save_reply(pending, state, status, started, first_token, stored_params)

    def _save_reply(
        self,
        pending: PendingTurn,
        state: ReplyState,
        status: str,
        started: float,
        first_token: float | None,
        stored_params: dict[str, Any] | None = None,
    ) -> None:
        ended = time.monotonic()
        usage = state.usage or Usage()
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
            "status": status,
            "finish_reason": state.finish_reason,
            "error_code": state.error.key if state.error else None,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": completion_tokens,
            "queue_time": usage.queue_time,
            "total_time": ended - started,
            "time_to_first_token": (first_token - started) if first_token else None,
            "tokens_per_second": tokens_per_second,
        }
        if state.error is not None and state.error.values:
            fields["params"] = {**(stored_params or {}), "error_values": stored_values(state.error)}
        with self._sessions.begin() as s:
            repo.update_message(s, state.message_id, **fields)
            repo.touch_conversation(s, pending.conversation_id)
