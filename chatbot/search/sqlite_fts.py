"""SQLite FTS5 search: bm25 ranking, title matches weighted up, highlighted snippets.

Two indexes, both external content kept in sync by triggers:
- trigram (``messages_fts``, ``conversations_fts``, migration 0002): every term is a
  case-insensitive substring, so Chinese (no spaces) and infixes are found. Terms shorter than
  three characters cannot use it: they filter the rows it found with LIKE, or, when no term is
  long enough, the whole search is a LIKE scan (still in SQL, still limited);
- words (``messages_words``, unicode61, migration 0004): asked first when every term is made of
  Latin-script (or Greek, Cyrillic, ...) words: whole words, or word prefixes for ``kube*``.
  One common word is one posting list there, against several huge trigram lists checked
  position by position. When it finds fewer than ``limit`` messages, the trigram index answers
  instead, so a query still finds every substring match ("python" in "pythonic", "netes" in
  "kubernetes"): whole words first when there are plenty, any match when there are few.

Messages are searched in two steps, because a common word matches a third of all messages:
1. rank: rowids by bm25, best first, only as many as needed (snippets and joins cost per row);
2. describe: message, conversation and snippet for those few rows only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, column, func, literal_column, select, table
from sqlalchemy.orm import Session

from chatbot.search import SearchHit
from chatbot.search.like import like_message_hits, visible_message
from chatbot.search.query import ParsedQuery, Term, like_pattern
from chatbot.search.ranking import TITLE_WEIGHT, rank_together
from chatbot.search.snippets import END, START, around_terms, from_marked, mark_terms
from chatbot.store.models import Conversation, Message
from chatbot.store.repo import ConversationFilter, visible_conversation_conditions

# Step 1 first ranks with the index alone and checks this many times ``limit`` rows for
# visibility; only when too many of them are hidden (filters, another owner) does it rank
# again with the visibility check on every match.
OVERFETCH = 4
# bm25 scores every match (≈10 µs each with trigram phrases), so a word found in a third of a
# million messages would take seconds to rank. Past this many matches only the newest this
# many are ranked (rowids grow with time): a very common word finds its best recent uses.
RANK_WINDOW = 10_000
# A phrase, or several words, makes FTS5 check every message that holds all of its words, however
# few of them match. In a history longer than this, the newest this many messages are searched
# first; the whole index only when they hold too few matches to choose the best from.
SCAN_WINDOW = 250_000
INDEXES = ("messages_fts", "conversations_fts", "messages_words")

_conversations_fts = table("conversations_fts", column("rowid"))
_C: Any = literal_column("conversations_fts")
_MESSAGE_ROWID: Any = literal_column("messages.rowid")


def _short_filters(short: tuple[Term, ...]) -> list[Any]:
    return [Message.content.like(like_pattern(t), escape="\\") for t in short]


class Fts5Search:
    def search(
        self, session: Session, owner: str, query: ParsedQuery, filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        expression = query.fts_expression()
        newest = session.scalar(select(func.max(_MESSAGE_ROWID)).select_from(Message)) or 0
        floor = newest - SCAN_WINDOW if newest > SCAN_WINDOW else None
        ranked: list[tuple[int, float]] | None = None
        if (words := query.word_expression()) is not None:
            ranked = self._rank_messages(session, owner, "messages_words", words, (), filters, limit, floor)
            if len(ranked) < limit:
                ranked = None  # few word matches: the substring index may find more
        if expression is None and ranked is None:
            # Only short terms (e.g. a 2-character Chinese word): the index cannot help.
            return like_message_hits(
                session,
                owner,
                query.terms,
                filters,
                limit,
                case_insensitive=False,
                newest_first=(_MESSAGE_ROWID.desc(),),
            )
        short = query.short_terms
        titles = [] if expression is None else self._title_hits(session, owner, expression, short, filters, limit)
        if ranked is None:
            assert expression is not None
            ranked = self._rank_messages(session, owner, "messages_fts", expression, short, filters, limit, floor)
        return rank_together(titles, self._describe_messages(session, query.terms, ranked), limit)

    @staticmethod
    def _title_hits(
        session: Session,
        owner: str,
        expression: str,
        short: tuple[Term, ...],
        filters: ConversationFilter | None,
        limit: int,
    ) -> list[SearchHit]:
        # Titles are one per conversation: few matches, one query is enough.
        score = func.bm25(_C)
        rows = session.execute(
            select(
                Conversation.id, func.highlight(_C, 0, START, END), score, Conversation.updated_at, Conversation.model
            )
            .select_from(_conversations_fts)
            .join(Conversation, literal_column("conversations.rowid") == _conversations_fts.c.rowid)
            .where(_C.op("MATCH")(expression), *visible_conversation_conditions(owner, filters))
            .where(*[Conversation.title.like(like_pattern(t), escape="\\") for t in short])
            .order_by(score)
            .limit(limit)
        ).all()
        hits = []
        for cid, marked, value, updated, model in rows:
            title = mark_terms(from_marked(marked), short)
            hits.append(SearchHit(cid, title, None, None, title, TITLE_WEIGHT * value, updated, model))
        return hits

    @staticmethod
    def _rank_messages(
        session: Session,
        owner: str,
        index: str,
        expression: str,
        short: tuple[Term, ...],
        filters: ConversationFilter | None,
        limit: int,
        floor: int | None,
    ) -> list[tuple[int, float]]:
        """(rowid, bm25) of the best visible matches in the FTS5 table ``index``, best first;
        first among the messages above rowid ``floor`` (a long history's newest), when given."""
        fts = table(index, column("rowid"))
        name: ColumnElement[Any] = literal_column(index)
        visible = [visible_message(owner, filters), *_short_filters(short)]
        score = func.bm25(name)
        wanted = limit * OVERFETCH
        match = name.op("MATCH")(expression)
        candidates = []
        if floor is not None:
            candidates = _best_recent(session, fts, score, match, wanted, [fts.c.rowid > floor])
        if len(candidates) < wanted:  # a small history, or too few matches among its newest messages
            candidates = _best_recent(session, fts, score, match, wanted, [])
        if candidates:
            shown = set(
                session.scalars(
                    select(_MESSAGE_ROWID)
                    .select_from(Message)
                    .where(_MESSAGE_ROWID.in_([rowid for rowid, _ in candidates]), *visible)
                )
            )
            kept = [(rowid, value) for rowid, value in candidates if rowid in shown]
            # Every better match was among the candidates, so these are the best visible ones.
            if len(kept) >= limit or len(candidates) < wanted:
                return kept[:limit]
        return [
            (rowid, value)
            for rowid, value in session.execute(
                select(fts.c.rowid, score)
                .select_from(fts)
                .join(Message, fts.c.rowid == _MESSAGE_ROWID)
                .where(match, *visible)
                .order_by(score)
                .limit(limit)
            )
        ]

    @staticmethod
    def _describe_messages(
        session: Session, terms: tuple[Term, ...], ranked: list[tuple[int, float]]
    ) -> list[SearchHit]:
        """Message, conversation and snippet of the ranked rows.

        The snippet is cut here rather than by FTS5's snippet(): that would run the MATCH
        again for each row (slow for prefix queries), and a trigram match is a plain
        case-insensitive substring, which is exactly what ``around_terms`` marks.
        """
        if not ranked:
            return []
        rows = session.execute(
            select(
                _MESSAGE_ROWID,
                Message.id,
                Message.conversation_id,
                Message.role,
                Message.content,
                Conversation.title,
                Conversation.updated_at,
                Conversation.model,
            )
            .select_from(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(_MESSAGE_ROWID.in_([rowid for rowid, _ in ranked]))
        ).all()
        described = {row[0]: row[1:] for row in rows}
        hits = []
        for rowid, value in ranked:
            if rowid not in described:
                continue  # deleted between the two queries
            mid, cid, role, content, title, updated, model = described[rowid]
            hits.append(
                SearchHit(cid, ((title, False),), mid, role, around_terms(content, terms), value, updated, model)
            )
        return hits


def _best_recent(session: Session, fts: Any, score: Any, match: Any, wanted: int, floor: list[Any]) -> list[Any]:
    """The ``wanted`` best of the newest ``RANK_WINDOW`` matches above ``floor``, in one pass:
    FTS5 walks the matches newest first and stops after the window, scoring only those."""
    recent = (
        select(fts.c.rowid, score.label("score"))
        .where(match, *floor)
        .order_by(fts.c.rowid.desc())
        .limit(RANK_WINDOW)
        .subquery()
    )
    return list(session.execute(select(recent.c.rowid, recent.c.score).order_by(recent.c.score).limit(wanted)))


def check_index(session: Session) -> None:
    """Raise if an index no longer matches its table (e.g. triggers lost in a table rebuild)."""
    for name in INDEXES:
        session.connection().exec_driver_sql(f"INSERT INTO {name}({name}, rank) VALUES ('integrity-check', 1)")


def rebuild_index(session: Session) -> None:
    """Re-read both tables into the index: after a VACUUM or a table rebuild."""
    for name in INDEXES:
        session.connection().exec_driver_sql(f"INSERT INTO {name}({name}) VALUES ('rebuild')")
