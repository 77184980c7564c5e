"""One chat turn end to end: validate, save the user's text, stream the reply, persist it.

Pages call this; it never imports Streamlit. The database is the truth: everything a page
shows is read back from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chatbot.errors import ChatError, InvalidInput
from chatbot.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
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

MAX_MESSAGE_CHARS = 100_000  # ~25k tokens: beyond any free-tier TPM limit; keeps the DB small
FLUSH_INTERVAL = 1.0  # a killed server loses at most this much of a streaming reply
STALE_STREAM_AFTER = timedelta(seconds=15)
TITLE_WORDS = 8

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


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    provider: str
    model: str
    system_prompt: str | None
    updated_at: datetime

    @property
    def model_key(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass
class PendingTurn:
    """A user message that is saved and waits for its reply."""

    conversation_id: str
    user_message_id: str
    provider: str
    model: str
    request: ChatRequest


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
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _turn(m: Message) -> Turn:
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
    )


def _info(c: Conversation) -> ConversationInfo:
    return ConversationInfo(c.id, c.title, c.provider, c.model, c.system_prompt, _as_utc(c.updated_at))


def make_title(text: str) -> str:
    words = text.split()
    title = " ".join(words[:TITLE_WORDS])
    return (title[:80] + "…") if len(words) > TITLE_WORDS or len(title) > 80 else title


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

    # --- conversations --------------------------------------------------------------------
    def recent_conversations(
        self, limit: int = 30, after: repo.PageCursor | None = None
    ) -> list[ConversationInfo]:
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
            repo.mark_stale_streams_interrupted(s, conv.id, utcnow() - STALE_STREAM_AFTER)
            msgs = repo.all_messages(s, conv.id)
            return [_turn(m) for m in repo.branch_path(msgs, conv.current_message_id)]

    def set_model(self, conversation_id: str, model_key: str) -> None:
        provider, model = split_model_key(model_key)
        with self._sessions.begin() as s:
            repo.update_conversation(s, self.owner, conversation_id, provider=provider, model=model)

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._sessions.begin() as s:
            return repo.delete_conversation(s, self.owner, conversation_id)

    # --- one turn -------------------------------------------------------------------------
    def start_turn(
        self,
        conversation_id: str | None,
        text: str,
        model: ModelInfo,
        settings: AppSettings,
    ) -> PendingTurn:
        """Validate and commit the user's message before any provider call."""
        if not text or not text.strip():
            raise InvalidInput("input.empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput("input.too_long", limit=MAX_MESSAGE_CHARS, length=len(text))
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id) if conversation_id else None
            if conv is None:
                conv = repo.create_conversation(
                    s, self.owner, model.provider, model.id, title=make_title(text),
                    system_prompt=settings.system_prompt,
                )
            else:
                conv.provider, conv.model = model.provider, model.id
            history = repo.branch_path(repo.all_messages(s, conv.id), conv.current_message_id)
            parent_id = history[-1].id if history else None
            user = repo.add_message(s, conv.id, role="user", content=text, parent_id=parent_id)
            conv.current_message_id = user.id
            conv.updated_at = utcnow()
            request = ChatRequest(
                model=model.id,
                messages=self._request_messages(conv.system_prompt, [*history, user]),
                params=settings.params(model.max_completion_tokens),
            )
            return PendingTurn(conv.id, user.id, model.provider, model.id, request)

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
        with self._sessions.begin() as s:
            reply = repo.add_message(
                s, pending.conversation_id, role="assistant", content="", status="streaming",
                parent_id=pending.user_message_id, provider=pending.provider, model=pending.model,
                params=params.as_dict(),
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
                            s, reply.id, content="".join(state.text),
                            reasoning="".join(state.reasoning) or None,
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
            self._save_reply(pending, state, status, started, first_token)

    def _save_reply(
        self, pending: PendingTurn, state: ReplyState, status: str, started: float, first_token: float | None
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
            "content": "".join(state.text),
            "reasoning": "".join(state.reasoning) or None,
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
        with self._sessions.begin() as s:
            repo.update_message(s, state.message_id, **fields)
            repo.touch_conversation(s, pending.conversation_id)

    def retry_target(self, conversation_id: str) -> str | None:
        """The id of the user message whose reply failed or was cut, if the last turn is one."""
        turns = self.messages(conversation_id)
        if turns and turns[-1].role == "assistant" and turns[-1].status != "complete":
            return turns[-2].id if len(turns) > 1 else None
        if turns and turns[-1].role == "user":
            return turns[-1].id
        return None

    def retry_turn(self, conversation_id: str, model: ModelInfo, settings: AppSettings) -> PendingTurn:
        """A new reply for the last user message, as a sibling of the failed one (kept)."""
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                raise InvalidInput("error.no_conversation")
            path = repo.branch_path(repo.all_messages(s, conv.id), conv.current_message_id)
            while path and path[-1].role == "assistant":
                path.pop()
            if not path:
                raise InvalidInput("error.no_conversation")
            user = path[-1]
            conv.provider, conv.model = model.provider, model.id
            conv.current_message_id = user.id
            request = ChatRequest(
                model=model.id,
                messages=self._request_messages(conv.system_prompt, path),
                params=settings.params(model.max_completion_tokens),
            )
            return PendingTurn(conv.id, user.id, model.provider, model.id, request)

