"""Every query the app makes, each a named function taking a Session.

All queries filter by ``owner`` so a signed-in user only ever reaches their own rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Executable, and_, case, delete, func, select, update
from sqlalchemy.orm import Session

from chatbot.store import attachment_repo
from chatbot.store.models import Conversation, ConversationTag, Message, MessageAttachment, Setting, utcnow


def _changed(session: Session, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE changed."""
    result = session.execute(statement)
    return cast(CursorResult[Any], result).rowcount or 0


@dataclass(frozen=True)
class PageCursor:
    """Keyset position in the conversation list: the last row of the previous page."""

    updated_at: datetime
    id: str


def create_conversation(session: Session, owner: str, provider: str, model: str, **fields: Any) -> Conversation:
    fields.setdefault("params", {})  # fork() passes the original's parameters
    conv = Conversation(owner=owner, provider=provider, model=model, **fields)
    session.add(conv)
    session.flush()
    return conv


def get_conversation(session: Session, owner: str, conversation_id: str) -> Conversation | None:
    return session.scalar(select(Conversation).where(Conversation.id == conversation_id, visible(owner)))


def list_conversations(
    session: Session, owner: str, limit: int = 30, after: PageCursor | None = None
) -> list[Conversation]:
    """The owner's active conversations (not archived, not in the trash), newest first."""
    return list_conversation_page(session, owner, None, limit, after)


def delete_conversation(session: Session, owner: str, conversation_id: str) -> bool:
    conv = get_conversation(session, owner, conversation_id)
    if conv is None:
        return False
    images = attachment_repo.used_by_conversations(session, [conv.id])
    messages = select(Message.id).where(Message.conversation_id == conv.id)
    session.execute(delete(MessageAttachment).where(MessageAttachment.message_id.in_(messages)))
    session.execute(delete(Message).where(Message.conversation_id == conv.id))
    session.delete(conv)
    attachment_repo.delete_unused(session, images)  # what only this conversation used
    return True


def update_conversation(session: Session, owner: str, conversation_id: str, **fields: Any) -> None:
    session.execute(
        update(Conversation).where(Conversation.id == conversation_id, Conversation.owner == owner).values(**fields)
    )


def touch_conversation(session: Session, conversation_id: str) -> None:
    session.execute(update(Conversation).where(Conversation.id == conversation_id).values(updated_at=utcnow()))


def all_messages(session: Session, conversation_id: str) -> list[Message]:
    return list(
        session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.created_at, Message.id)
        )
    )


def message_skeleton(session: Session, conversation_id: str) -> list[Any]:
    """Every message's id, parent and status, oldest first: enough to find the shown branch.

    Plain rows, not ORM objects (a tenth of the cost for a long conversation); the walks of
    ``chatbot.branches`` accept them like messages.
    """
    return list(
        session.execute(
            select(Message.id, Message.parent_id, Message.status)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at, Message.id)
        )
    )


def content_lengths(session: Session, message_ids: list[str]) -> list[int]:
    """Each message's length in characters, in the order of ``message_ids``."""
    rows = session.execute(select(Message.id, func.length(Message.content)).where(Message.id.in_(message_ids)))
    found = {mid: length for mid, length in rows}
    return [found.get(mid) or 0 for mid in message_ids]


def message_rows(session: Session, conversation_id: str) -> list[Any]:
    """Every message's id, parent, role, content and prompt tokens, oldest first, as plain
    rows: what a request's history is built from, without loading ORM objects."""
    return list(
        session.execute(
            select(Message.id, Message.parent_id, Message.role, Message.content, Message.prompt_tokens)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at, Message.id)
        )
    )


def messages_by_ids(session: Session, conversation_id: str, message_ids: list[str]) -> list[Message]:
    """These messages of one conversation (any order; unknown ids are skipped)."""
    found: list[Message] = []
    for chunk in _chunks(message_ids):
        found.extend(
            session.scalars(select(Message).where(Message.conversation_id == conversation_id, Message.id.in_(chunk)))
        )
    return found


def children_of(session: Session, conversation_id: str, parent_ids: list[str | None]) -> list[Any]:
    """(id, parent_id) of the messages under these parents (None: the first messages), oldest
    first: the alternatives of a few messages without reading the whole conversation."""
    parents = [p for p in parent_ids if p is not None]
    condition: ColumnElement[bool] | None = Message.parent_id.in_(parents) if parents else None
    if None in parent_ids:
        condition = Message.parent_id.is_(None) if condition is None else condition | Message.parent_id.is_(None)
    if condition is None:
        return []
    return list(
        session.execute(
            select(Message.id, Message.parent_id)
            .where(Message.conversation_id == conversation_id, condition)
            .order_by(Message.created_at, Message.id)
        )
    )


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
    return _changed(
        session,
        update(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.status == "streaming",
            Message.updated_at < before,
        )
        .values(status="interrupted"),
    )


def usage_by_day_and_model(session: Session, owner: str, since: datetime) -> list[tuple[str, str, int, int, int, int]]:
    """(day, model, prompt tokens, completion tokens, estimated prompt tokens, estimated
    completion tokens) of the owner's replies since ``since``: the provider's counts apart from
    the app's estimates (replies stopped or cut before the provider counted them)."""
    day = func.date(Message.created_at)

    def total(column: Any, estimated: bool) -> Any:
        counted = case((Message.tokens_estimated.is_(estimated), column), else_=0)
        return func.coalesce(func.sum(counted), 0)

    rows = session.execute(
        select(
            day,
            Message.model,
            total(Message.prompt_tokens, False),
            total(Message.completion_tokens, False),
            total(Message.prompt_tokens, True),
            total(Message.completion_tokens, True),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.owner == owner, Message.role == "assistant", Message.created_at >= since)
        .group_by(day, Message.model)
        .order_by(day)
    )
    return [(str(d), m or "", int(p), int(c), int(ep), int(ec)) for d, m, p, c, ep, ec in rows]


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


# --- history: listing with filters, organising, trash, tags, bulk reads ------------------------
# (chatbot/history.py is their one caller; search queries live in chatbot/search/.)

ID_CHUNK = 500  # ids per IN (...) list: well under SQLite's 32k bound-parameter limit


@dataclass(frozen=True)
class ConversationFilter:
    """What the History page and the sidebar narrow the list (and search) to.

    ``None`` means "either": ``archived=None`` lists archived and active conversations.
    """

    archived: bool | None = False
    pinned: bool | None = None
    model: str | None = None
    tag: str | None = None
    updated_from: datetime | None = None  # inclusive
    updated_before: datetime | None = None  # exclusive


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]


def visible(owner: str, table_scan: bool = False) -> ColumnElement[bool]:
    """This owner's conversations that are not in the trash (in the trash = gone, until an undo).

    ``table_scan``: the owner test in a form no index can answer (``owner || ''``), for a
    filter that keeps few rows, where SQLite would otherwise walk an owner index and fetch every
    row at random (SQLite's documented way to steer its planner off an index).
    """
    mine = (Conversation.owner + "") == owner if table_scan else Conversation.owner == owner
    return and_(mine, Conversation.deleted_at.is_(None))


def visible_conversation_conditions(
    owner: str, filters: ConversationFilter | None = None, table_scan: bool = False
) -> list[Any]:
    """WHERE terms for "this owner's conversations, not in the trash, matching the filters"."""
    conditions: list[Any] = [visible(owner, table_scan)]
    f = filters or ConversationFilter()
    if f.archived is not None:
        conditions.append(Conversation.archived.is_(f.archived))
    if f.pinned is not None:
        conditions.append(Conversation.pinned.is_(f.pinned))
    if f.model:
        conditions.append(Conversation.model == f.model)
    if f.tag:
        conditions.append(
            Conversation.id.in_(select(ConversationTag.conversation_id).where(ConversationTag.tag == f.tag))
        )
    if f.updated_from is not None:
        conditions.append(Conversation.updated_at >= f.updated_from)
    if f.updated_before is not None:
        conditions.append(Conversation.updated_at < f.updated_before)
    return conditions


def list_conversation_page(
    session: Session,
    owner: str,
    filters: ConversationFilter | None = None,
    limit: int = 30,
    after: PageCursor | None = None,
) -> list[Conversation]:
    """One keyset page, newest first; the database sorts and cuts, Python sees ``limit`` rows."""
    query = select(Conversation).where(*visible_conversation_conditions(owner, filters))
    if after is not None:
        query = query.where(
            # The plain bound lets the index seek to the cursor; the OR alone would make SQLite
            # walk the index from the top and skip every earlier row (a hidden OFFSET).
            Conversation.updated_at <= after.updated_at,
            (Conversation.updated_at < after.updated_at)
            | ((Conversation.updated_at == after.updated_at) & (Conversation.id < after.id)),
        )
    query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
    return list(session.scalars(query))


def count_conversations(session: Session, owner: str, filters: ConversationFilter | None = None) -> int:
    query = select(func.count()).select_from(Conversation).where(*visible_conversation_conditions(owner, filters))
    return int(session.scalar(query) or 0)


def message_counts(session: Session, conversation_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for chunk in _chunks(conversation_ids):
        rows = session.execute(
            select(Message.conversation_id, func.count())
            .where(Message.conversation_id.in_(chunk))
            .group_by(Message.conversation_id)
        )
        counts.update({cid: int(n) for cid, n in rows})
    return counts


def owned_ids(session: Session, owner: str, conversation_ids: list[str]) -> list[str]:
    """The subset of ``conversation_ids`` this owner may touch (not in the trash)."""
    found: list[str] = []
    for chunk in _chunks(conversation_ids):
        found.extend(session.scalars(select(Conversation.id).where(Conversation.id.in_(chunk), visible(owner))))
    return found


def set_title(session: Session, owner: str, conversation_id: str, title: str, source: str) -> bool:
    return bool(
        _changed(
            session,
            update(Conversation)
            .where(Conversation.id == conversation_id, visible(owner))
            .values(title=title, title_source=source),
        )
    )


def set_generated_title(session: Session, owner: str, conversation_id: str, title: str) -> bool:
    """Replace the first-words title, unless the user has typed one meanwhile."""
    return bool(
        _changed(
            session,
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.owner == owner,
                Conversation.title_source == "words",
            )
            .values(title=title, title_source="model"),
        )
    )


def set_flag(session: Session, owner: str, conversation_ids: list[str], **flags: bool) -> int:
    """Pin/unpin or archive/unarchive; does not touch ``updated_at`` (the list order stays)."""
    changed = 0
    for chunk in _chunks(conversation_ids):
        changed += _changed(
            session, update(Conversation).where(Conversation.id.in_(chunk), visible(owner)).values(**flags)
        )
    return changed


def trash_conversations(session: Session, owner: str, conversation_ids: list[str], when: datetime) -> int:
    """Move to the trash: hidden everywhere at once, restorable until purged."""
    changed = 0
    for chunk in _chunks(conversation_ids):
        changed += _changed(
            session, update(Conversation).where(Conversation.id.in_(chunk), visible(owner)).values(deleted_at=when)
        )
    return changed


def restore_conversations(session: Session, owner: str, conversation_ids: list[str]) -> int:
    changed = 0
    for chunk in _chunks(conversation_ids):
        changed += _changed(
            session,
            update(Conversation)
            .where(Conversation.id.in_(chunk), Conversation.owner == owner, Conversation.deleted_at.is_not(None))
            .values(deleted_at=None),
        )
    return changed


def trashed_before(session: Session, owner: str, before: datetime) -> list[str]:
    return list(
        session.scalars(
            select(Conversation.id).where(
                Conversation.owner == owner, Conversation.deleted_at.is_not(None), Conversation.deleted_at < before
            )
        )
    )


def purge_conversations(session: Session, owner: str, conversation_ids: list[str]) -> int:
    """Delete for good (messages and tags too). Messages go first, explicitly, so the search
    index triggers run whatever the foreign-key setting of the connection is."""
    purged = 0
    for chunk in _chunks(conversation_ids):
        mine = select(Conversation.id).where(Conversation.id.in_(chunk), Conversation.owner == owner)
        images = attachment_repo.used_by_conversations(session, list(session.scalars(mine)))
        messages = select(Message.id).where(Message.conversation_id.in_(mine))
        session.execute(delete(MessageAttachment).where(MessageAttachment.message_id.in_(messages)))
        session.execute(delete(Message).where(Message.conversation_id.in_(mine)))
        session.execute(delete(ConversationTag).where(ConversationTag.conversation_id.in_(mine)))
        purged += _changed(session, delete(Conversation).where(Conversation.id.in_(chunk), Conversation.owner == owner))
        attachment_repo.delete_unused(session, images)  # images only these conversations used
    return purged


def get_conversation_any_state(session: Session, owner: str, conversation_id: str) -> Conversation | None:
    """Also finds a conversation in the trash (import decides what to do with it)."""
    return session.scalar(select(Conversation).where(Conversation.id == conversation_id, Conversation.owner == owner))


def conversation_owner(session: Session, conversation_id: str) -> str | None:
    """Whose row holds this id, if anyone's: import must not write into another owner's id."""
    return session.scalar(select(Conversation.owner).where(Conversation.id == conversation_id))


def tags_of(session: Session, conversation_ids: list[str]) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for chunk in _chunks(conversation_ids):
        rows = session.execute(
            select(ConversationTag.conversation_id, ConversationTag.tag)
            .where(ConversationTag.conversation_id.in_(chunk))
            .order_by(ConversationTag.tag)
        )
        for cid, tag in rows:
            tags.setdefault(cid, []).append(tag)
    return tags


def set_tags(session: Session, owner: str, conversation_id: str, tags: list[str]) -> bool:
    if not owned_ids(session, owner, [conversation_id]):
        return False
    session.execute(delete(ConversationTag).where(ConversationTag.conversation_id == conversation_id))
    for tag in dict.fromkeys(tags):  # unique, first spelling kept
        session.add(ConversationTag(conversation_id=conversation_id, tag=tag))
    session.flush()
    return True


def all_tags(session: Session, owner: str) -> list[str]:
    return list(
        session.scalars(
            select(ConversationTag.tag)
            .join(Conversation, Conversation.id == ConversationTag.conversation_id)
            .where(visible(owner))
            .distinct()
            .order_by(ConversationTag.tag)
        )
    )


def models_used(session: Session, owner: str) -> list[str]:
    return list(
        session.scalars(
            select(Conversation.model)
            .where(visible(owner), Conversation.model != "")
            .distinct()
            .order_by(Conversation.model)
        )
    )


def messages_by_conversation(session: Session, conversation_ids: list[str]) -> dict[str, list[Message]]:
    """Every message (all branches) of several conversations, oldest first, in few queries."""
    out: dict[str, list[Message]] = {cid: [] for cid in conversation_ids}
    for chunk in _chunks(conversation_ids):
        rows = session.scalars(
            select(Message)
            .where(Message.conversation_id.in_(chunk))
            .order_by(Message.conversation_id, Message.created_at, Message.id)
        )
        for m in rows:
            out[m.conversation_id].append(m)
    return out


def get_conversations(session: Session, owner: str, conversation_ids: list[str]) -> list[Conversation]:
    """Visible conversations among ``conversation_ids``, newest first."""
    found: list[Conversation] = []
    for chunk in _chunks(conversation_ids):
        found.extend(session.scalars(select(Conversation).where(Conversation.id.in_(chunk), visible(owner))))
    found.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
    return found


def existing_message_ids(session: Session, message_ids: list[str]) -> dict[str, str]:
    """message id -> its conversation id, for the ids that exist (any owner)."""
    found: dict[str, str] = {}
    for chunk in _chunks(message_ids):
        rows = session.execute(select(Message.id, Message.conversation_id).where(Message.id.in_(chunk)))
        found.update({mid: cid for mid, cid in rows})
    return found
