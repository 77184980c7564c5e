"""Search without an index: LIKE over titles and contents, newest first.

Portable (any SQL database), so it is the fallback where no full-text index exists yet, and
the baseline the benchmark compares FTS5 with. It reads every row: fine for small histories.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatbot.search import SearchHit
from chatbot.search.query import ParsedQuery, Term, like_pattern
from chatbot.search.snippets import around_terms
from chatbot.store.models import Conversation, Message
from chatbot.store.repo import ConversationFilter, visible_conversation_conditions


def like_message_hits(
    session: Session,
    owner: str,
    terms: tuple[Term, ...],
    filters: ConversationFilter | None,
    limit: int,
    case_insensitive: bool,
) -> list[SearchHit]:
    def matches(column):  # type: ignore[no-untyped-def]
        return [
            (column.ilike if case_insensitive else column.like)(like_pattern(t), escape="\\") for t in terms
        ]

    title_rows = session.execute(
        select(Conversation.id, Conversation.title, Conversation.updated_at, Conversation.model)
        .where(*visible_conversation_conditions(owner, filters), *matches(Conversation.title))
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(limit)
    ).all()
    message_rows = session.execute(
        select(
            Message.id, Message.conversation_id, Message.role, Message.content,
            Conversation.title, Conversation.updated_at, Conversation.model,
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*visible_conversation_conditions(owner, filters), *matches(Message.content))
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    ).all()
    hits = [
        SearchHit(cid, around_terms(title, terms), None, None, around_terms(title, terms), 0.0, updated, model)
        for cid, title, updated, model in title_rows
    ]
    for mid, cid, role, content, title, updated, model in message_rows:
        hits.append(
            SearchHit(cid, ((title, False),), mid, role, around_terms(content, terms), 0.0, updated, model)
        )
    return hits[:limit]


class LikeSearch:
    def search(
        self, session: Session, owner: str, query: ParsedQuery, filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        return like_message_hits(session, owner, query.terms, filters, limit, case_insensitive=True)
