"""A conversation as plain data, every field: what exports write and imports read.

The ORM rows stay inside the store; exporters and importers only see these dataclasses, so a
format module never needs a database session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from chatbot.branches import branch_path
from chatbot.store.models import Conversation, Message


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC); everything outside the store is aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class ImageRecord:
    """An image a message carries: the stored bytes (re-encoded, without EXIF) and its facts."""

    mime: str
    name: str
    width: int
    height: int
    data: bytes
    thumbnail: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class MessageRecord:
    id: str
    parent_id: str | None
    role: str
    content: str
    created_at: datetime
    updated_at: datetime
    reasoning: str | None = None
    status: str = "complete"
    provider: str | None = None
    model: str | None = None
    params: dict[str, Any] | None = None
    finish_reason: str | None = None
    error_code: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    time_to_first_token: float | None = None
    total_time: float | None = None
    queue_time: float | None = None
    tokens_per_second: float | None = None
    # The token counts are the app's estimate, not the provider's (a Stop, a cut stream).
    tokens_estimated: bool = False
    thinking_time: float | None = None
    feedback: int | None = None  # the user's thumbs: 1 up, -1 down
    # Its images, in order (not a column of messages: their own table, see attachment_repo).
    images: list[ImageRecord] = field(default_factory=list)


@dataclass
class VoteRecord:
    """A vote on replies of the conversation: each reply's message id, model and rank (1 best)."""

    id: str
    verdict: str
    ranking: list[dict[str, Any]]
    created_at: datetime


@dataclass
class ConversationRecord:
    id: str
    title: str
    provider: str
    model: str
    created_at: datetime
    updated_at: datetime
    title_source: str = "words"
    system_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    pinned: bool = False
    archived: bool = False
    current_message_id: str | None = None
    tags: list[str] = field(default_factory=list)
    messages: list[MessageRecord] = field(default_factory=list)
    votes: list[VoteRecord] = field(default_factory=list)  # blind comparisons' verdicts (chatbot/votes.py)

    def system_prompts(self) -> list[tuple[str | None, list[MessageRecord]]]:
        """The current branch cut where the system prompt changes: (prompt, its messages).

        A reply keeps the prompt it was sent with (``params["system_prompt"]``) and its question
        goes with it; replies saved before that was stored take the prompt in force before them,
        at first the conversation's own."""
        branch = self.current_branch()

        def sent_with(m: MessageRecord | None) -> tuple[bool, str | None]:
            if m is not None and m.role == "assistant" and m.params and "system_prompt" in m.params:
                return True, m.params["system_prompt"]
            return False, None

        known = [p for m in branch if (p := sent_with(m))[0]]
        prompt = known[0][1] if known else self.system_prompt
        groups: list[tuple[str | None, list[MessageRecord]]] = []
        for i, m in enumerate(branch):
            follows = branch[i + 1] if m.role == "user" and i + 1 < len(branch) else m
            found, value = sent_with(follows)
            if found:
                prompt = value
            if not groups or groups[-1][0] != prompt:
                groups.append((prompt, []))
            groups[-1][1].append(m)
        return groups or [(prompt, [])]

    def current_branch(self) -> list[MessageRecord]:
        """Root to the current leaf (default: the newest message): what the chat page shows."""
        if not self.messages:
            return []
        by_id = {m.id for m in self.messages}
        leaf = self.current_message_id
        if leaf not in by_id:  # records may come in any order (an import): the newest by time
            leaf = max(self.messages, key=lambda m: (m.created_at, m.id)).id
        return branch_path(self.messages, leaf)


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation without its messages: what lists, the sidebar and the chat page's header
    show. One type for every place that reads a conversation's fields."""

    id: str
    title: str
    provider: str
    model: str
    updated_at: datetime
    created_at: datetime
    title_source: str = "words"
    system_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    pinned: bool = False
    archived: bool = False
    tags: tuple[str, ...] = ()
    messages: int | None = None  # how many, when the list asked for counts

    @property
    def model_key(self) -> str:
        return f"{self.provider}:{self.model}"


MESSAGE_FIELDS = tuple(f.name for f in fields(MessageRecord) if f.name != "images")
CONVERSATION_FIELDS = tuple(f.name for f in fields(ConversationRecord) if f.name not in ("tags", "messages", "votes"))


def message_record(m: Message) -> MessageRecord:
    values = {name: getattr(m, name) for name in MESSAGE_FIELDS}
    values["created_at"] = as_utc(m.created_at)
    values["updated_at"] = as_utc(m.updated_at)
    return MessageRecord(**values)


def conversation_record(c: Conversation, messages: list[Message], tags: list[str]) -> ConversationRecord:
    values = {name: getattr(c, name) for name in CONVERSATION_FIELDS}
    values["created_at"] = as_utc(c.created_at)
    values["updated_at"] = as_utc(c.updated_at)
    values["params"] = dict(c.params or {})
    return ConversationRecord(**values, tags=list(tags), messages=[message_record(m) for m in messages])


def conversation_summary(
    c: Conversation, tags: list[str] | None = None, messages: int | None = None
) -> ConversationSummary:
    return ConversationSummary(
        id=c.id,
        title=c.title,
        provider=c.provider,
        model=c.model,
        updated_at=as_utc(c.updated_at),
        created_at=as_utc(c.created_at),
        title_source=c.title_source,
        system_prompt=c.system_prompt,
        params=dict(c.params or {}),
        pinned=c.pinned,
        archived=c.archived,
        tags=tuple(tags or ()),
        messages=messages,
    )
