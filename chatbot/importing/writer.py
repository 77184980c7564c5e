"""Plan an import against the database, then write it: one plan for the preview and the run.

Idempotent by ids: a conversation already present gets only the messages it lacks (none, when
the same file is imported twice: "already imported"). Ids another owner's rows hold are mapped
to deterministic new ones, so re-importing maps them the same way again.

Written in short transactions (each sized to hold the lock about ``TARGET_HOLD``, then a pause
that lets other writers in), never one long one: SQLite has one writer at a time, and a 50 MB import holding the
lock for 40 s made another user's message save fail with "database is locked". All or nothing
all the same, as the user sees it: new conversations are written hidden (``STAGED`` in
``deleted_at``) and shown together at the end; on an error or an interruption what was written
is deleted again. If the process dies midway, the hidden rows stay hidden and messages added to
existing conversations are whole sub-trees (parents before children), so importing the same
file again completes it (a hidden conversation is replaced, missing messages are added).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from chatbot.records import ConversationRecord, ImageRecord, MessageRecord
from chatbot.store import attachment_repo, repo
from chatbot.store.models import Conversation, ConversationTag, Message, Vote

_NAMESPACE = uuid.UUID("2f1e4c8a-7b6d-4e3f-8a9b-0c1d2e3f4a5b")

Action = Literal["new", "update", "skip"]
Progress = Callable[[int, int], None]  # (messages written, messages to write)

STAGED = datetime(9999, 1, 1, tzinfo=UTC)  # deleted_at while importing: hidden, and never purged as trash
# A transaction's size follows the time the last one held the lock (rows per second vary 10x
# with the text's length and the machine's load: the search indexes cost most).
TARGET_HOLD = 0.03  # seconds
FIRST_ROWS, MIN_ROWS, MAX_ROWS = 100, 5, 5_000
FIRST_CHARS, MIN_CHARS, MAX_CHARS = 200_000, 5_000, 5_000_000
# A writer that finds the lock taken retries on SQLite's busy schedule: 1, 2, 5, 10, 15, 20, 25,
# 25, 25, 50, 50 ms apart, then every 100 ms. After each transaction the importer pauses half as
# long as it held the lock (most waiters get in at one of their early retries), and after each
# LONG_PAUSE_EVERY seconds of holding it, pauses LONG_PAUSE: longer than the 100 ms step, so a
# writer still waiting by then retries inside it. The worst wait stays near half a second.
PAUSE_SHARE = 0.5
PAUSE_MIN = 0.002
LONG_PAUSE_EVERY = 0.25
LONG_PAUSE = 0.11
ID_BATCH = 500


@dataclass
class Budget:
    """How much the next transaction may write (one message at least, however long)."""

    rows: int = FIRST_ROWS
    chars: int = FIRST_CHARS

    def adapt(self, rows: int, chars: int, held: float) -> None:
        scale = TARGET_HOLD / max(held, 0.001)
        self.rows = min(MAX_ROWS, max(MIN_ROWS, (self.rows + int(rows * scale)) // 2))
        self.chars = min(MAX_CHARS, max(MIN_CHARS, (self.chars + int(max(chars, 1) * scale)) // 2))


@dataclass
class Planned:
    record: ConversationRecord  # ids as they will be written
    action: Action
    new_messages: list[MessageRecord] = field(default_factory=list)
    reason: str | None = None  # translation key of a skip
    replaces_trashed: bool = False


def _remap(value: str, salt: str) -> str:
    return uuid.uuid5(_NAMESPACE, f"{salt}\x1f{value}").hex


def _with_ids(record: ConversationRecord, conversation_id: str, mapping: dict[str, str]) -> ConversationRecord:
    def m(mid: str | None) -> str | None:
        return mapping.get(mid, mid) if mid else mid

    messages = [replace(msg, id=mapping.get(msg.id, msg.id), parent_id=m(msg.parent_id)) for msg in record.messages]
    votes = [
        replace(v, ranking=[{**e, "message_id": mapping.get(e["message_id"], e["message_id"])} for e in v.ranking])
        for v in record.votes
    ]
    return replace(
        record, id=conversation_id, messages=messages, votes=votes, current_message_id=m(record.current_message_id)
    )


def _states(session: Session, conversation_ids: list[str]) -> dict[str, tuple[str, bool]]:
    """id -> (owner, in the trash) for the ids that exist, any owner's."""
    found: dict[str, tuple[str, bool]] = {}
    for chunk in _batches(conversation_ids):
        rows = session.execute(
            select(Conversation.id, Conversation.owner, Conversation.deleted_at).where(Conversation.id.in_(chunk))
        )
        found.update({cid: (holder, deleted is not None) for cid, holder, deleted in rows})
    return found


def plan(session: Session, owner: str, records: list[ConversationRecord]) -> list[Planned]:
    """One plan item per record, in order. A few queries for all records at once, not a few per
    record: the preview of an export with thousands of conversations runs on every page rerun."""
    states = _states(session, [r.id for r in records])
    targets = [r.id if states.get(r.id, (owner,))[0] == owner else _remap(r.id, f"owner:{owner}") for r in records]
    states.update(_states(session, [t for t, r in zip(targets, records, strict=True) if t != r.id]))
    located = repo.existing_message_ids(session, [m.id for r in records for m in r.messages])
    targeted: list[ConversationRecord] = []
    remapped: list[str] = []
    for record, conversation_id in zip(records, targets, strict=True):
        mapping = {
            m.id: _remap(m.id, f"conversation:{conversation_id}")
            for m in record.messages
            if located.get(m.id, conversation_id) != conversation_id
        }
        if conversation_id == record.id and not mapping:
            targeted.append(record)
        else:
            targeted.append(_with_ids(record, conversation_id, mapping))
            remapped.extend(mapping.values())
    located.update(repo.existing_message_ids(session, remapped))

    planned: list[Planned] = []
    seen: set[str] = set()
    for record in targeted:
        if record.id in seen:
            planned.append(Planned(record, "skip", reason="import.skip.duplicate"))
            continue
        seen.add(record.id)
        holder, trashed = states.get(record.id, (None, False))
        if holder != owner or trashed:
            if not record.messages and not record.title:
                planned.append(Planned(record, "skip", reason="import.skip.no_text"))
                continue
            planned.append(Planned(record, "new", list(record.messages), replaces_trashed=holder == owner))
            continue
        missing = [m for m in record.messages if m.id not in located]
        if missing:
            planned.append(Planned(record, "update", missing))
        else:
            planned.append(Planned(record, "skip", reason="import.skip.exists"))
    return planned


def _message_row(conversation_id: str, m: MessageRecord) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "id": m.id,
        "parent_id": m.parent_id,
        "role": m.role,
        "content": m.content,
        "reasoning": m.reasoning,
        "status": m.status,
        "provider": m.provider,
        "model": m.model,
        "params": m.params,
        "finish_reason": m.finish_reason,
        "error_code": m.error_code,
        "prompt_tokens": m.prompt_tokens,
        "completion_tokens": m.completion_tokens,
        "time_to_first_token": m.time_to_first_token,
        "total_time": m.total_time,
        "queue_time": m.queue_time,
        "tokens_per_second": m.tokens_per_second,
        "tokens_estimated": m.tokens_estimated,
        "thinking_time": m.thinking_time,
        "feedback": m.feedback,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


def _parents_first(messages: list[MessageRecord]) -> list[MessageRecord]:
    """An order in which every parent comes before its children (written chunk by chunk, a
    conversation cut short by an interruption is then still whole trees)."""
    ids = {m.id for m in messages}
    done: set[str] = set()
    for m in messages:
        if m.parent_id in ids and m.parent_id not in done:
            break
        done.add(m.id)
    else:
        return messages  # the usual case: already in order
    children: dict[str, list[MessageRecord]] = {}
    roots: list[MessageRecord] = []
    for m in messages:
        if m.parent_id in ids and m.parent_id != m.id:
            children.setdefault(m.parent_id, []).append(m)
        else:
            roots.append(m)
    out: list[MessageRecord] = []
    seen: set[str] = set()
    stack = list(reversed(roots))
    while stack:
        m = stack.pop()
        if m.id in seen:
            continue
        seen.add(m.id)
        out.append(m)
        stack.extend(reversed(children.get(m.id, [])))
    out.extend(m for m in messages if m.id not in seen)  # a loop in a damaged file: last
    return out


@dataclass
class _Chunk:
    new: list[Planned] = field(default_factory=list)  # conversations whose row this chunk writes
    rows: list[dict[str, Any]] = field(default_factory=list)
    images: list[tuple[str, list[ImageRecord]]] = field(default_factory=list)  # (message id, its images)
    finished: list[Planned] = field(default_factory=list)  # updates whose last messages are here
    chars: int = 0


def _chunks(planned: list[Planned], budget: Budget) -> Iterator[_Chunk]:
    chunk = _Chunk()
    for item in planned:
        if item.action == "skip":
            continue
        if item.action == "new":
            chunk.new.append(item)
        for m in _parents_first(item.new_messages):
            if chunk.rows and (len(chunk.rows) >= budget.rows or chunk.chars >= budget.chars):
                yield chunk
                chunk = _Chunk()
            chunk.rows.append(_message_row(item.record.id, m))
            if m.images:
                chunk.images.append((m.id, m.images))
            chunk.chars += len(m.content) + len(m.reasoning or "")
        if item.action == "update":
            chunk.finished.append(item)
    if chunk.new or chunk.rows or chunk.finished:
        yield chunk


def _conversation_row(owner: str, record: ConversationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "owner": owner,
        "title": record.title,
        "title_source": record.title_source,
        "provider": record.provider,
        "model": record.model,
        "system_prompt": record.system_prompt,
        "params": dict(record.params),
        "pinned": record.pinned,
        "archived": record.archived,
        "current_message_id": record.current_message_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "deleted_at": STAGED,
    }


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Core inserts, one statement per set of columns given: a None is left out, so the column
    is SQL NULL as the ORM writes it (a JSON column would store the JSON text 'null')."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        given = {k: v for k, v in row.items() if v is not None}
        groups.setdefault(tuple(given), []).append(given)
    for group in groups.values():
        session.execute(insert(table), group)


def _write_chunk(session: Session, owner: str, chunk: _Chunk) -> list[tuple[str, datetime]]:
    """Write one chunk; returns the conversations it made newer, with their previous time."""
    replaced = [item.record.id for item in chunk.new if item.replaces_trashed]
    if replaced:  # in the trash, or left hidden by an import that died midway
        repo.purge_conversations(session, owner, replaced)
        session.flush()
    if chunk.new:
        conversations = [_conversation_row(owner, item.record) for item in chunk.new]
        _insert(session, Conversation.__table__, conversations)
        tags = [{"conversation_id": item.record.id, "tag": tag} for item in chunk.new for tag in item.record.tags]
        if tags:
            _insert(session, ConversationTag.__table__, tags)
    if chunk.rows:
        _insert(session, Message.__table__, chunk.rows)
    for message_id, images in chunk.images:  # stored once per owner and content, linked in order
        attachment_repo.link(session, owner, message_id, list(images))
    touched: list[tuple[str, datetime]] = []
    for item in chunk.finished:
        newest = max(m.updated_at for m in item.new_messages)
        conv = repo.get_conversation(session, owner, item.record.id)
        if conv is not None and newest.replace(tzinfo=None) > conv.updated_at.replace(tzinfo=None):
            touched.append((conv.id, conv.updated_at))
            conv.updated_at = newest
    session.flush()
    return touched


def _staged(owner: str, ids: list[str]) -> Any:
    return (Conversation.id.in_(ids), Conversation.owner == owner, Conversation.deleted_at == STAGED)


def write(
    sessions: sessionmaker[Session],
    owner: str,
    planned: list[Planned],
    progress: Progress | None = None,
    budget: Budget | None = None,
) -> None:
    """Write the plan in short transactions; on any error (or an interruption raised from
    ``progress``) delete what was written and raise it."""
    total = sum(len(p.new_messages) for p in planned if p.action != "skip")
    created: list[str] = []
    created_ids: set[str] = set()
    added: list[str] = []  # messages added to conversations that existed before
    touched: list[tuple[str, datetime]] = []
    written = 0
    held_since_long_pause = 0.0
    try:
        budget = budget or Budget()
        for chunk in _chunks(planned, budget):
            started = time.monotonic()
            with sessions.begin() as s:
                touched += _write_chunk(s, owner, chunk)
            held = time.monotonic() - started
            created.extend(p.record.id for p in chunk.new)
            created_ids.update(p.record.id for p in chunk.new)
            added.extend(r["id"] for r in chunk.rows if r["conversation_id"] not in created_ids)
            written += len(chunk.rows)
            if progress is not None:
                progress(written, total)
            budget.adapt(len(chunk.rows), chunk.chars, held)
            held_since_long_pause += held
            if held_since_long_pause >= LONG_PAUSE_EVERY:
                held_since_long_pause = 0.0
                time.sleep(LONG_PAUSE)
            else:
                time.sleep(min(LONG_PAUSE, max(PAUSE_MIN, held * PAUSE_SHARE)))
    except BaseException:
        _undo(sessions, owner, created, added, touched)
        raise
    with sessions.begin() as s:  # before they are shown: a failure here leaves them hidden, as below
        _write_votes(s, owner, [p for p in planned if p.action != "skip"])
    # Everything is written: show it. Should this stop midway, the rest stays hidden until the
    # same file is imported again.
    for ids in _batches(created):
        with sessions.begin() as s:
            s.execute(update(Conversation).where(*_staged(owner, ids)).values(deleted_at=None))


def _write_votes(session: Session, owner: str, items: list[Planned]) -> None:
    """The votes of the conversations written that are not there yet. A vote id another
    conversation holds (someone else's import of the same file) is mapped, like a message's."""
    wanted = [(item.record.id, v) for item in items for v in item.record.votes]
    candidates = [v.id for _, v in wanted] + [_remap(v.id, f"vote:{cid}") for cid, v in wanted]
    taken: dict[str, str] = {}
    for ids in _batches(candidates):
        rows = session.execute(select(Vote.id, Vote.conversation_id).where(Vote.id.in_(ids)))
        taken.update({vote_id: cid for vote_id, cid in rows})
    new: list[dict[str, Any]] = []
    for cid, v in wanted:
        vote_id = v.id if taken.get(v.id, cid) == cid else _remap(v.id, f"vote:{cid}")
        if vote_id in taken:
            continue  # imported before
        taken[vote_id] = cid
        new.append(
            {
                "id": vote_id,
                "owner": owner,
                "conversation_id": cid,
                "verdict": v.verdict,
                "ranking": v.ranking,
                "created_at": v.created_at,
            }
        )
    if new:
        _insert(session, Vote.__table__, new)


def _batches(ids: list[str], size: int = ID_BATCH) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _undo(
    sessions: sessionmaker[Session],
    owner: str,
    created: list[str],
    added: list[str],
    touched: list[tuple[str, datetime]],
) -> None:
    for ids in _batches(added):
        with sessions.begin() as s:
            s.execute(delete(Message).where(Message.id.in_(ids)))
    with sessions.begin() as s:
        for conversation_id, previous in touched:
            s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.owner == owner)
                .values(updated_at=previous)
            )
    for ids in _batches(created):
        with sessions.begin() as s:
            repo.purge_conversations(s, owner, list(s.scalars(select(Conversation.id).where(*_staged(owner, ids)))))
