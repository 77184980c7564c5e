"""The queries of votes (chatbot/votes.py): each a named function taking a Session, scoped to
an owner like every query in ``repo``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatbot.records import ConversationRecord, VoteRecord, as_utc
from chatbot.store.models import Conversation, ConversationTag, Vote
from chatbot.store.repo import ID_CHUNK, visible


def votes_of(session: Session, conversation_ids: list[str]) -> dict[str, list[Vote]]:
    """Each conversation's votes, oldest first."""
    out: dict[str, list[Vote]] = {}
    for i in range(0, len(conversation_ids), ID_CHUNK):
        chunk = conversation_ids[i : i + ID_CHUNK]
        rows = session.scalars(select(Vote).where(Vote.conversation_id.in_(chunk)).order_by(Vote.created_at, Vote.id))
        for vote in rows:
            out.setdefault(vote.conversation_id, []).append(vote)
    return out


def owner_votes(session: Session, owner: str, tag: str | None, limit: int) -> list[Vote]:
    """The owner's newest ``limit`` votes in conversations not in the trash (tagged ``tag``)."""
    query = (
        select(Vote)
        .join(Conversation, Conversation.id == Vote.conversation_id)
        .where(Vote.owner == owner, visible(owner))
    )
    if tag:
        query = query.where(
            Conversation.id.in_(select(ConversationTag.conversation_id).where(ConversationTag.tag == tag))
        )
    return list(session.scalars(query.order_by(Vote.created_at.desc(), Vote.id.desc()).limit(limit)))


def fill_records(session: Session, records: list[ConversationRecord]) -> None:
    """Each exported conversation's votes, oldest first."""
    found = votes_of(session, [r.id for r in records])
    for record in records:
        record.votes = [
            VoteRecord(v.id, v.verdict, [dict(e) for e in v.ranking], as_utc(v.created_at))
            for v in found.get(record.id, [])
        ]
