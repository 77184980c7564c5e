"""PostgreSQL search: pg_trgm GIN indexes, a bm25-like rank, highlighted snippets.

The same behaviour as the SQLite backend (``sqlite_fts``), on PostgreSQL's own machinery:

- matching: every term (a word, a ``"phrase"``, a ``prefix*``) must occur in the title or the
  message as a case-insensitive substring, which is what SQLite's trigram FTS5 index does; so
  Chinese and Japanese words are found inside running text, 2-character words included.
  Messages are matched in ``messages.content_folded`` (``lower(content)``, stored by the
  database, migration 0003) with ``LIKE``; titles with ``ILIKE``. The trigram GIN indexes of
  migration 0003 answer both (a term shorter than three characters gives no trigram: it is
  checked on the rows the other terms found, or by a scan when every term is that short:
  still correct, still limited).
- ranking: bm25's shape computed from the matched substrings: each term counts
  ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))``, where ``tf`` is how often
  the term occurs and ``length`` the text's length (a short message about the term beats a
  long one that mentions it once). No idf: every hit holds every term. Scores are negative like
  FTS5's bm25 (lower is better), titles weigh ``TITLE_WEIGHT`` times more, and a message of a
  conversation whose title matches gets part of that title's score, with the SQLite backend's
  constants.
- snippets: a window of the message around the first match with every match marked
  (``snippets.around_terms``); a matching title is shown whole with its matches marked.
- visibility: only the owner's conversations, never ones in the trash, narrowed by the same
  ``ConversationFilter``; one SQL query for titles and one for messages, each ranked, sorted
  and cut to ``limit`` by the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Text, and_, bindparam, cast, func, literal_column, select
from sqlalchemy.orm import Session

from chatbot.search import SEARCH_COLUMN_NAMES, SEARCH_INDEX_NAMES, SearchHit
from chatbot.search.query import ParsedQuery, Term, like_pattern
from chatbot.search.ranking import TITLE_WEIGHT, rank_together
from chatbot.search.snippets import around_terms, mark_terms
from chatbot.store.models import Conversation, Message
from chatbot.store.repo import ConversationFilter, visible_conversation_conditions

K1 = 1.2
B = 0.75
# Typical lengths, standing in for bm25's collection average (which would cost a scan of every
# row to know exactly). Messages are measured in bytes (free to read: no pass over the text).
AVERAGE_MESSAGE_BYTES = 700.0
AVERAGE_TITLE_CHARS = 30.0

# lower(content), computed and stored by PostgreSQL (migration 0003); not an ORM attribute.
CONTENT_FOLDED: Any = literal_column("messages.content_folded", Text)


def _needle(term: Term, i: int) -> Any:
    return func.lower(bindparam(f"rank_term_{i}", term.text, type_=Text))


def _bm25_like(tf: Any, norm: Any) -> Any:
    return tf * (K1 + 1) / (tf + norm)


def _title_score(terms: tuple[Term, ...]) -> Any:
    """Minus the bm25-like sum over ``terms`` in the title (lower is better)."""
    text = func.lower(Conversation.title)
    norm = K1 * (1 - B + B * cast(func.char_length(Conversation.title), Float) / AVERAGE_TITLE_CHARS)
    total: Any = 0.0
    for i, term in enumerate(terms):
        needle = _needle(term, i)
        found = func.char_length(text) - func.char_length(func.replace(text, needle, ""))
        tf = func.greatest(cast(found, Float) / func.greatest(func.char_length(needle), 1), 1.0)
        total = total + _bm25_like(tf, norm)
    return -total


def _message_score(terms: tuple[Term, ...]) -> Any:
    """The same for message contents, counted in the stored folded text with byte lengths."""
    norm = K1 * (1 - B + B * cast(func.octet_length(Message.content), Float) / AVERAGE_MESSAGE_BYTES)
    total: Any = 0.0
    for i, term in enumerate(terms):
        needle = _needle(term, i)
        found = func.octet_length(CONTENT_FOLDED) - func.octet_length(func.replace(CONTENT_FOLDED, needle, ""))
        tf = func.greatest(cast(found, Float) / func.greatest(func.octet_length(needle), 1), 1.0)
        total = total + _bm25_like(tf, norm)
    return -total


class PostgresSearch:
    def search(
        self, session: Session, owner: str, query: ParsedQuery, filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        terms = query.terms
        if not terms:
            return []
        titles = self._title_hits(session, owner, terms, filters, limit)
        return rank_together(titles, self._message_hits(session, owner, terms, filters, limit), limit)

    @staticmethod
    def _title_hits(
        session: Session, owner: str, terms: tuple[Term, ...], filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        score = _title_score(terms).label("rank")  # computed once a row
        rows = session.execute(
            select(Conversation.id, Conversation.title, score, Conversation.updated_at, Conversation.model)
            .where(*visible_conversation_conditions(owner, filters))
            .where(*[Conversation.title.ilike(like_pattern(t), escape="\\") for t in terms])
            .order_by(score, Conversation.updated_at.desc(), Conversation.id)
            .limit(limit)
        ).all()
        hits = []
        for cid, title, value, updated, model in rows:
            marked = mark_terms(((title, False),), terms)
            hits.append(SearchHit(cid, marked, None, None, marked, TITLE_WEIGHT * float(value), updated, model))
        return hits

    @staticmethod
    def _message_hits(
        session: Session, owner: str, terms: tuple[Term, ...], filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        score = _message_score(terms).label("rank")
        rows = session.execute(
            select(
                Message.id,
                Message.conversation_id,
                Message.role,
                Message.content,
                score,
                Conversation.title,
                Conversation.updated_at,
                Conversation.model,
            )
            .select_from(Message)
            .join(
                Conversation,
                and_(Conversation.id == Message.conversation_id, *visible_conversation_conditions(owner, filters)),
            )
            .where(*[CONTENT_FOLDED.like(func.lower(like_pattern(t)), escape="\\") for t in terms])
            .order_by(score, Conversation.updated_at.desc(), Message.created_at.desc(), Message.id)
            .limit(limit)
        ).all()
        return [
            SearchHit(cid, ((title, False),), mid, role, around_terms(content, terms), float(value), updated, model)
            for mid, cid, role, content, value, title, updated, model in rows
        ]


def check_index(session: Session) -> None:
    """Raise if the search index of migration 0003 is incomplete: an index missing or not usable
    (not valid, not ready), or the folded copy of messages gone."""
    connection = session.connection()
    state: dict[str, bool] = dict(
        connection.exec_driver_sql(
            "SELECT c.relname, i.indisvalid AND i.indisready FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY(%(names)s)",
            {"names": list(SEARCH_INDEX_NAMES)},
        ).all()
    )
    broken = [name for name in SEARCH_INDEX_NAMES if not state.get(name)]
    columns = set(
        connection.exec_driver_sql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'messages' AND is_generated = 'ALWAYS'"
        ).scalars()
    )
    broken += [f"column {name} of messages" for name in SEARCH_COLUMN_NAMES if name not in columns]
    if broken:
        raise RuntimeError(f"search index missing or not usable: {', '.join(broken)}")
