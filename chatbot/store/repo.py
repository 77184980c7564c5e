"""Every query the app makes, each a named function taking a Session.

All queries filter by ``owner`` so a signed-in user only ever reaches their own rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from chatbot.store.models import Conversation, Message, Setting, utcnow


@dataclass(frozen=True)
class PageCursor:
    """Keyset position in the conversation list: the last row of the previous page."""

    updated_at: datetime
    id: str


def create_conversation(
    session: Session, owner: str, provider: str, model: str, **fields: Any
) -> Conversation:
    conv = Conversation(owner=owner, provider=provider, model=model, params={}, **fields)
    session.add(conv)
    session.flush()
    return conv


def get_conversation(session: Session, owner: str, conversation_id: str) -> Conversation | None:
    return session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.owner == owner)
    )


def list_conversations(
    session: Session, owner: str, limit: int = 30, after: PageCursor | None = None
) -> list[Conversation]:
    query = select(Conversation).where(Conversation.owner == owner, Conversation.archived.is_(False))
    if after is not None:
        # Row-value comparison spelled out: works on SQLite and PostgreSQL and uses the index.
        query = query.where(
            (Conversation.updated_at < after.updated_at)
            | ((Conversation.updated_at == after.updated_at) & (Conversation.id < after.id))
        )
    query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
    return list(session.scalars(query))


def delete_conversation(session: Session, owner: str, conversation_id: str) -> bool:
    conv = get_conversation(session, owner, conversation_id)
    if conv is None:
        return False
    session.execute(delete(Message).where(Message.conversation_id == conv.id))
    session.delete(conv)
    return True


def update_conversation(session: Session, owner: str, conversation_id: str, **fields: Any) -> None:
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner == owner)
        .values(**fields)
    )


def touch_conversation(session: Session, conversation_id: str) -> None:
    session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(updated_at=utcnow())
    )


def all_messages(session: Session, conversation_id: str) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at, Message.id)
        )
    )


def branch_path(messages: list[Message], leaf_id: str | None) -> list[Message]:
    """The messages from the root to ``leaf_id`` (default: the newest message)."""
    if not messages:
        return []
    by_id = {m.id: m for m in messages}
    node = by_id.get(leaf_id) if leaf_id else None
    if node is None:
        node = messages[-1]
    path: list[Message] = []
    seen: set[str] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return path


def newest_leaf(messages: list[Message], start_id: str) -> str:
    """Follow the newest child from ``start_id`` down to a leaf (what the user saw last there)."""
    children: dict[str, list[Message]] = {}
    for m in messages:  # ordered by created_at, so the last child is the newest
        if m.parent_id:
            children.setdefault(m.parent_id, []).append(m)
    node, seen = start_id, set()
    while node in children and node not in seen:
        seen.add(node)
        node = children[node][-1].id
    return node


def add_message(session: Session, conversation_id: str, **fields: Any) -> Message:
    message = Message(conversation_id=conversation_id, **fields)
    session.add(message)
    session.flush()
    return message


def update_message(session: Session, message_id: str, **fields: Any) -> None:
    fields.setdefault("updated_at", utcnow())
    session.execute(update(Message).where(Message.id == message_id).values(**fields))


def mark_stale_streams_interrupted(session: Session, conversation_id: str, before: datetime) -> int:
    """Replies still 'streaming' but not flushed since ``before`` were cut by a dead process.

    A live stream flushes every second, so a stale one cannot belong to another running
    session or app server.
    """
    result = session.execute(
        update(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.status == "streaming",
            Message.updated_at < before,
        )
        .values(status="interrupted")
    )
    return result.rowcount or 0


def usage_by_day_and_model(session: Session, owner: str, since: datetime) -> list[tuple[str, str, int, int]]:
    """(day, model, prompt tokens, completion tokens) of the owner's replies since ``since``."""
    day = func.date(Message.created_at)
    rows = session.execute(
        select(
            day,
            Message.model,
            func.coalesce(func.sum(Message.prompt_tokens), 0),
            func.coalesce(func.sum(Message.completion_tokens), 0),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.owner == owner, Message.role == "assistant", Message.created_at >= since)
        .group_by(day, Message.model)
        .order_by(day)
    )
    return [(str(d), m or "", int(p), int(c)) for d, m, p, c in rows]


def get_settings(session: Session, owner: str) -> dict[str, Any]:
    rows = session.scalars(select(Setting).where(Setting.owner == owner))
    return {row.key: row.value for row in rows}


def put_settings(session: Session, owner: str, values: dict[str, Any]) -> None:
    for key, value in values.items():
        row = session.get(Setting, (owner, key))
        if row is None:
            session.add(Setting(owner=owner, key=key, value=value))
        else:
            row.value = value
