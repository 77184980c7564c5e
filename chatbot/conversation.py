"""One conversation as the chat page reads and steers it: the shown branch's messages (a window of
the newest), which alternative is shown, its own model and options, a fork.

Turns (sending, regenerating, streaming a reply) live in chatbot/turns.py; the list of many
conversations, their titles and the trash in chatbot/history.py. Never imports Streamlit; a
short-lived session per call; every query scoped to ``owner``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chatbot.branches import Node, alternatives, branch_path, newest_leaf
from chatbot.database import database_errors
from chatbot.errors import InvalidInput
from chatbot.presets import with_preset
from chatbot.providers.base import ToolRun
from chatbot.records import MESSAGE_FIELDS, as_utc
from chatbot.store import attachment_repo, repo
from chatbot.store.models import Message, utcnow
from chatbot.tools import PARAM as TOOLS_PARAM
from chatbot.tools import STORED, restored

NOT_COPIED = ("id", "parent_id", "updated_at")  # a fork's messages are new rows of its own
# A live stream flushes every second: one silent this long was cut by a process that died.
STALE_STREAM_AFTER = timedelta(seconds=15)


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
    # The token counts are the app's estimate (the provider sent none): shown with "≈".
    tokens_estimated: bool = False
    # Seconds the model reasoned before answering (replies with reasoning only).
    thinking_time: float | None = None
    feedback: int | None = None  # the user's thumbs on it: 1 up, -1 down
    created_at: datetime | None = None  # UTC
    # Ids of this message and its siblings (answers regenerated, questions edited), oldest first.
    alternatives: tuple[str, ...] = ()
    # The values of error_code's message (which limit, which model, ...), to show it again.
    error_values: dict[str, Any] = field(default_factory=dict, compare=False)
    provider: str | None = None  # who answered (its prices: chatbot.pricing)
    cached_tokens: int | None = None  # prompt tokens from Groq's prompt cache
    from_cache: bool = False  # answered from this app's answer cache (chatbot.answer_cache)
    # What Groq's built-in tools did for this reply (searches, pages, code), chatbot.tools.
    tools: tuple[ToolRun, ...] = field(default=(), compare=False)

    @property
    def alternative_index(self) -> int:
        return self.alternatives.index(self.id) if self.id in self.alternatives else 0


@dataclass(frozen=True)
class TurnWindow:
    """The newest messages of a conversation's shown branch, and how many the branch holds."""

    turns: list[Turn]
    total: int


def split_model_key(key: str) -> tuple[str, str]:
    provider, _, model = key.partition(":")
    if not model:
        raise InvalidInput("error.unknown_model", model=key)
    return provider, model


def _turn(m: Message, siblings: tuple[str, ...] = ()) -> Turn:
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
        tokens_estimated=bool(m.tokens_estimated),
        thinking_time=m.thinking_time,
        feedback=m.feedback,
        created_at=as_utc(m.created_at) if m.created_at else None,
        alternatives=siblings,
        error_values=dict((m.params or {}).get("error_values") or {}),
        provider=m.provider,
        cached_tokens=m.cached_tokens,
        from_cache=bool((m.params or {}).get("from_cache")),
        tools=tuple(restored((m.params or {}).get(STORED))),
    )


def _fitting(lengths: list[int], max_chars: int, at_least: int = 2) -> int:
    """How many of the newest messages (``lengths``: oldest first) fit in ``max_chars``."""
    used = count = 0
    for length in reversed(lengths):
        if count >= at_least and used + length > max_chars:
            break
        used += length
        count += 1
    return count


class ConversationService:
    def __init__(self, sessions: sessionmaker[Session], owner: str = "") -> None:
        self._sessions = sessions
        self.owner = owner

    @database_errors
    def recent_messages(
        self, conversation_id: str, limit: int = 0, include: str | None = None, max_chars: int | None = None
    ) -> TurnWindow:
        """The newest ``limit`` messages of the shown branch (0: all of it); fewer when
        ``max_chars`` is given and they hold more text than that (never fewer than the last
        exchange); more when ``include`` (a search hit) is on the branch but older: the window
        reaches it. A reply left 'streaming' by a process that died reads as interrupted.

        What the chat page draws: every message's id and parent are read to find the branch,
        the full rows only for the window (a long conversation opens in a few milliseconds).
        """
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return TurnWindow([], 0)
            skeleton = repo.message_skeleton(s, conv.id)
            # Reading alone never writes (read-only files): only when a stream may be stale.
            if any(m.status == "streaming" for m in skeleton):
                repo.mark_stale_streams_interrupted(s, conv.id, utcnow() - STALE_STREAM_AFTER)
            path = branch_path(skeleton, conv.current_message_id)
            start = max(0, len(path) - limit) if limit > 0 else 0
            if max_chars is not None:
                start = len(path) - _fitting(repo.content_lengths(s, [m.id for m in path[start:]]), max_chars)
            if include:
                start = min(start, next((i for i, m in enumerate(path) if m.id == include), start))
            shown = path[start:]
            return TurnWindow(self._turns(s, conv.id, [m.id for m in shown], skeleton), len(path))

    @database_errors
    def turns(self, conversation_id: str, message_ids: list[str]) -> list[Turn]:
        """These messages of a conversation as Turns (alternatives included), in the given order."""
        with self._sessions() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return []
            return self._turns(s, conv.id, message_ids)

    @staticmethod
    def _turns(
        s: Session, conversation_id: str, message_ids: list[str], skeleton: Sequence[Node] | None = None
    ) -> list[Turn]:
        rows = {m.id: m for m in repo.messages_by_ids(s, conversation_id, message_ids)}
        if skeleton is None:  # just the alternatives of these messages
            skeleton = repo.children_of(s, conversation_id, list({m.parent_id for m in rows.values()}))
        siblings = alternatives(skeleton)
        return [_turn(rows[i], siblings.get(rows[i].parent_id, (i,))) for i in message_ids if i in rows]

    @database_errors
    def set_model(self, conversation_id: str, model_key: str) -> None:
        provider, model = split_model_key(model_key)
        with self._sessions.begin() as s:
            repo.update_conversation(s, self.owner, conversation_id, provider=provider, model=model)

    @database_errors
    def update_options(
        self, conversation_id: str, system_prompt: str | None, params: dict[str, Any], preset_id: str | None = None
    ) -> None:
        """This conversation's own system prompt and parameters (over the global settings), and
        the preset they came from (None: none), which the settings dialog shows when opened again."""
        stored = with_preset(params, preset_id)
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            kept = (conv.params or {}).get(TOOLS_PARAM) if conv is not None else None
            if kept is not None and TOOLS_PARAM not in stored:  # set in the sidebar, not in this dialog
                stored[TOOLS_PARAM] = kept
            repo.update_conversation(s, self.owner, conversation_id, system_prompt=system_prompt or None, params=stored)

    @database_errors
    def set_feedback(self, conversation_id: str, message_id: str, feedback: int | None) -> None:
        """The user's thumbs on a reply of their own conversation: 1 up, -1 down, None taken back.
        Anything else is refused; a message not in one of the owner's conversations is left alone."""
        if feedback not in (1, -1, None):
            raise InvalidInput("error.bad_feedback")
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return
            message = s.get(Message, message_id)
            if message is not None and message.conversation_id == conv.id and message.role == "assistant":
                message.feedback = feedback

    @database_errors
    def show_alternative(self, conversation_id: str, message_id: str) -> None:
        """Look at another answer or another version of a question (and what followed it)."""
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return
            skeleton = repo.message_skeleton(s, conv.id)
            if any(m.id == message_id for m in skeleton):
                conv.current_message_id = newest_leaf(skeleton, message_id)

    @database_errors
    def fork(self, conversation_id: str, message_id: str) -> str:
        """A new conversation holding the path up to ``message_id``; the original is untouched."""
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                raise InvalidInput("error.no_conversation")
            path = branch_path(repo.all_messages(s, conv.id), message_id)
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
            copies: list[tuple[str, str]] = []
            for m in path:
                copied = {name: getattr(m, name) for name in MESSAGE_FIELDS if name not in NOT_COPIED}
                clone = repo.add_message(s, copy.id, parent_id=parent, **copied)
                copies.append((m.id, clone.id))
                parent = clone.id
            attachment_repo.copy_links(s, copies)  # the fork shows the same images (stored once)
            copy.current_message_id = parent
            return copy.id
