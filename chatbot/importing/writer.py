"""Plan an import against the database, then write it: one plan for the preview and the run.

Idempotent by ids: a conversation already present gets only the messages it lacks (none, when
the same file is imported twice: "already imported"). Ids another owner's rows hold are mapped
to deterministic new ones, so re-importing maps them the same way again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from chatbot.records import ConversationRecord, MessageRecord
from chatbot.store import repo
from chatbot.store.models import Conversation, ConversationTag, Message

_NAMESPACE = uuid.UUID("2f1e4c8a-7b6d-4e3f-8a9b-0c1d2e3f4a5b")

Action = Literal["new", "update", "skip"]


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
    return replace(record, id=conversation_id, messages=messages, current_message_id=m(record.current_message_id))


def _target(session: Session, owner: str, record: ConversationRecord) -> ConversationRecord:
    conversation_id = record.id
    holder = repo.conversation_owner(session, conversation_id)
    if holder is not None and holder != owner:
        conversation_id = _remap(record.id, f"owner:{owner}")
    ids = [m.id for m in record.messages]
    elsewhere = {mid for mid, cid in repo.existing_message_ids(session, ids).items() if cid != conversation_id}
    mapping = {mid: _remap(mid, f"conversation:{conversation_id}") for mid in elsewhere}
    if conversation_id == record.id and not mapping:
        return record
    return _with_ids(record, conversation_id, mapping)


def plan(session: Session, owner: str, records: list[ConversationRecord]) -> list[Planned]:
    planned: list[Planned] = []
    seen: set[str] = set()
    for original in records:
        record = _target(session, owner, original)
        if record.id in seen:
            planned.append(Planned(record, "skip", reason="import.skip.duplicate"))
            continue
        seen.add(record.id)
        existing = repo.get_conversation_any_state(session, owner, record.id)
        if existing is None or existing.deleted_at is not None:
            if not record.messages and not record.title:
                planned.append(Planned(record, "skip", reason="import.skip.no_text"))
                continue
            planned.append(Planned(record, "new", list(record.messages), replaces_trashed=existing is not None))
            continue
        present = repo.existing_message_ids(session, [m.id for m in record.messages])
        missing = [m for m in record.messages if m.id not in present]
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
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


def write(session: Session, owner: str, planned: list[Planned]) -> None:
    """Write the plan inside the caller's transaction (all or nothing)."""
    for item in planned:
        record = item.record
        if item.action == "new":
            if item.replaces_trashed:
                repo.purge_conversations(session, owner, [record.id])
                session.flush()
            session.add(
                Conversation(
                    id=record.id,
                    owner=owner,
                    title=record.title,
                    title_source=record.title_source,
                    provider=record.provider,
                    model=record.model,
                    system_prompt=record.system_prompt,
                    params=dict(record.params),
                    pinned=record.pinned,
                    archived=record.archived,
                    current_message_id=record.current_message_id,
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                )
            )
            session.flush()
            for tag in record.tags:
                session.add(ConversationTag(conversation_id=record.id, tag=tag))
        elif item.action == "update":
            newest = max(m.updated_at for m in item.new_messages)
            conv = repo.get_conversation(session, owner, record.id)
            if conv is not None and newest.replace(tzinfo=None) > conv.updated_at.replace(tzinfo=None):
                conv.updated_at = newest
        if item.action in ("new", "update") and item.new_messages:
            session.execute(insert(Message), [_message_row(record.id, m) for m in item.new_messages])
    session.flush()
