"""Full-text search over titles and messages, behind one interface.

``search(session, owner, text, filters)`` is all a caller needs. The backend is chosen by the
database: SQLite uses FTS5 (``sqlite_fts``), PostgreSQL its pg_trgm GIN indexes (``postgres``);
any other database uses the portable ``LikeSearch``. Results never include another owner's rows
or conversations in the trash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from chatbot.search.query import ParsedQuery, Term, parse_query
from chatbot.search.snippets import Segment
from chatbot.store.repo import ConversationFilter

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class SearchHit:
    conversation_id: str
    title: tuple[Segment, ...]  # the conversation's title, matches marked
    message_id: str | None  # None: the title matched, not a message
    role: str | None
    snippet: tuple[Segment, ...]
    score: float  # lower is better (bm25 convention)
    updated_at: datetime
    model: str


@dataclass
class ConversationHits:
    """Hits of one conversation, for a results list that shows each conversation once."""

    conversation_id: str
    title: tuple[Segment, ...]
    updated_at: datetime
    model: str
    title_matched: bool = False
    messages: list[SearchHit] = field(default_factory=list)


class SearchBackend(Protocol):
    def search(
        self, session: Session, owner: str, query: ParsedQuery, filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        """Best hits first, at most ``limit``; each hit a title or a message."""
        ...


# SQLite's FTS5 tables and their shadow tables exist only in the database (migration 0002),
# not in the ORM metadata: schema comparisons and autogenerate must leave them alone.
SEARCH_TABLE_PREFIXES = ("messages_fts", "conversations_fts", "messages_words")
# PostgreSQL's trigram GIN indexes and the case-folded copy of messages they cover (migration
# 0003, computed by the database), likewise not in the ORM metadata.
SEARCH_INDEX_NAMES = ("ix_messages_content_trgm", "ix_conversations_title_trgm")
SEARCH_COLUMN_NAMES = ("content_folded",)


def include_in_schema_compare(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: everything except the search index's tables, indexes and
    columns."""
    if (type_ == "index" and name in SEARCH_INDEX_NAMES) or (type_ == "column" and name in SEARCH_COLUMN_NAMES):
        return False
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLE_PREFIXES))


def backend_for(session: Session) -> SearchBackend:
    from chatbot.search.like import LikeSearch
    from chatbot.search.postgres import PostgresSearch
    from chatbot.search.sqlite_fts import Fts5Search

    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return Fts5Search()
    if dialect == "postgresql":
        return PostgresSearch()
    return LikeSearch()


def search(
    session: Session,
    owner: str,
    text: str,
    filters: ConversationFilter | None = None,
    limit: int = DEFAULT_LIMIT,
    backend: SearchBackend | None = None,
) -> list[SearchHit]:
    query = parse_query(text)
    if query.empty:
        return []
    return (backend or backend_for(session)).search(session, owner, query, filters, limit)


def group_by_conversation(hits: list[SearchHit], per_conversation: int = 3) -> list[ConversationHits]:
    """Keep the rank order of each conversation's best hit; a few snippets each."""
    groups: dict[str, ConversationHits] = {}
    for hit in hits:
        group = groups.get(hit.conversation_id)
        if group is None:
            group = groups[hit.conversation_id] = ConversationHits(
                hit.conversation_id, hit.title, hit.updated_at, hit.model
            )
        if hit.message_id is None:
            group.title_matched = True
            group.title = hit.title
        elif len(group.messages) < per_conversation:
            group.messages.append(hit)
    return list(groups.values())


__all__ = [
    "ConversationHits",
    "ParsedQuery",
    "SEARCH_COLUMN_NAMES",
    "SEARCH_INDEX_NAMES",
    "SearchBackend",
    "SearchHit",
    "Term",
    "backend_for",
    "group_by_conversation",
    "include_in_schema_compare",
    "parse_query",
    "search",
]
