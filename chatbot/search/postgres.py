"""PostgreSQL search: pg_trgm GIN indexes, a bm25-like rank, highlighted snippets.

The same behaviour as the SQLite backend (``sqlite_fts``), on PostgreSQL's own machinery:

- matching: every term (a word, a ``"phrase"``, a ``prefix*``) must occur in the title or the
  message as a case-insensitive substring (``ILIKE``), which is what SQLite's trigram FTS5
  index does; so Chinese and Japanese words are found inside running text, 2-character words
  included. The trigram GIN indexes of migration 0003 answer these ``ILIKE`` filters (a term
  shorter than three characters gives no trigram and is checked on the rows the other terms
  found, or by a scan when every term is that short: still correct, still limited).
- ranking: bm25's shape computed from the matched substrings: each term counts
  ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))``, where ``tf`` is how often
  the term occurs and ``length`` the text's length in characters (a short message about the
  term beats a long one that mentions it once). Scores are negative like FTS5's bm25 (lower is
  better), titles weigh ``TITLE_WEIGHT`` times more, and a message of a conversation whose
  title matches gets part of that title's score, with the SQLite backend's constants.
- snippets: a window of the message around the first match with every match marked
  (``snippets.around_terms``); a matching title is shown whole with its matches marked.
- visibility: only the owner's conversations, never ones in the trash, narrowed by the same
  ``ConversationFilter`` (one SQL query per kind, ranked, sorted and cut by the database).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, and_, bindparam, cast, func, select
from sqlalchemy.orm import Session

from chatbot.search import SEARCH_INDEX_NAMES, SearchHit
from chatbot.search.query import ParsedQuery, Term, like_pattern
from chatbot.search.snippets import around_terms, mark_terms
from chatbot.search.sqlite_fts import TITLE_BOOST, TITLE_WEIGHT
from chatbot.store.models import Conversation, Message
from chatbot.store.repo import ConversationFilter, visible_conversation_conditions

K1 = 1.2
B = 0.75
# Typical lengths in characters, standing in for bm25's collection average (which would cost
# a scan of every row to know exactly).
AVERAGE_MESSAGE_CHARS = 600.0
AVERAGE_TITLE_CHARS = 30.0


def _matches(column: Any, terms: tuple[Term, ...]) -> list[Any]:
    return [column.ilike(like_pattern(t), escape="\\") for t in terms]


def _score(column: Any, terms: tuple[Term, ...], average: float) -> Any:
    """Minus the bm25-like sum over ``terms`` (lower is better), computed in SQL."""
    text = func.lower(column)
    length = cast(func.char_length(column), Float)
    norm = K1 * (1 - B + B * length / average)
    total: Any = None
    for i, term in enumerate(terms):
        needle = func.lower(bindparam(f"rank_term_{i}", term.text))
        occurrences = cast(func.char_length(text) - func.char_length(func.replace(text, needle, "")), Float) / cast(
            func.greatest(func.char_length(needle), 1), Float
        )
        tf = func.greatest(occurrences, 1.0)  # the row matched ILIKE: at least once
        part = tf * (K1 + 1) / (tf + norm)
        total = part if total is None else total + part
    return -total


class PostgresSearch:
    def search(
        self, session: Session, owner: str, query: ParsedQuery, filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        terms = query.terms
        if not terms:
            return []
        titles = self._title_hits(session, owner, terms, filters, limit)
        title_scores = {h.conversation_id: h.score / TITLE_WEIGHT for h in titles}
        hits = list(titles)
        for hit in self._message_hits(session, owner, terms, filters, limit):
            boost = TITLE_BOOST * TITLE_WEIGHT * title_scores.get(hit.conversation_id, 0.0)
            hits.append(SearchHit(**{**hit.__dict__, "score": hit.score + boost}))
        # Lower is better; ties: newer conversation first (as the SQLite backend).
        hits.sort(key=lambda h: (h.score, -h.updated_at.timestamp()))
        return hits[:limit]

    @staticmethod
    def _title_hits(
        session: Session, owner: str, terms: tuple[Term, ...], filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        score = _score(Conversation.title, terms, AVERAGE_TITLE_CHARS)
        rows = session.execute(
            select(Conversation.id, Conversation.title, score, Conversation.updated_at, Conversation.model)
            .where(*visible_conversation_conditions(owner, filters), *_matches(Conversation.title, terms))
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
        score = _score(Message.content, terms, AVERAGE_MESSAGE_CHARS)
        rows = session.execute(
            select(
                Message.id, Message.conversation_id, Message.role, Message.content, score,
                Conversation.title, Conversation.updated_at, Conversation.model,
            )
            .select_from(Message)
            .join(Conversation, and_(Conversation.id == Message.conversation_id,
                                     *visible_conversation_conditions(owner, filters)))
            .where(*_matches(Message.content, terms))
            .order_by(score, Conversation.updated_at.desc(), Message.created_at.desc(), Message.id)
            .limit(limit)
        ).all()
        return [
            SearchHit(cid, ((title, False),), mid, role, around_terms(content, terms), float(value), updated, model)
            for mid, cid, role, content, value, title, updated, model in rows
        ]


def check_index(session: Session) -> None:
    """Raise if a search index of migration 0003 is missing or unusable (not valid, not ready)."""
    state = dict(
        session.connection().exec_driver_sql(
            "SELECT c.relname, i.indisvalid AND i.indisready FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY(%(names)s)",
            {"names": list(SEARCH_INDEX_NAMES)},
        ).all()
    )
    broken = [name for name in SEARCH_INDEX_NAMES if not state.get(name)]
    if broken:
        raise RuntimeError(f"search index missing or not usable: {', '.join(broken)}")
