"""SQLite FTS5 search: bm25 ranking, title matches weighted up, highlighted snippets.

The index (``messages_fts``, ``conversations_fts``: external content, trigram tokenizer, kept
in sync by triggers) is created by migration 0002. Terms shorter than three characters cannot
use a trigram index: they filter the rows the index found with LIKE, or, when no term is long
enough, the whole search is a LIKE scan (still in SQL, still limited).
"""

from __future__ import annotations

from sqlalchemy import column, func, literal_column, select, table
from sqlalchemy.orm import Session

from chatbot.search import SearchHit
from chatbot.search.like import like_message_hits
from chatbot.search.query import ParsedQuery, like_pattern
from chatbot.search.snippets import END, START, from_marked, mark_terms
from chatbot.store.models import Conversation, Message
from chatbot.store.repo import ConversationFilter, visible_conversation_conditions

# A title says what the whole conversation is about: its matches count this much more.
TITLE_WEIGHT = 3.0
# A message in a conversation whose title also matches gets part of that title's score.
TITLE_BOOST = 0.5
SNIPPET_TOKENS = 48  # trigram tokens ≈ characters; FTS5 allows at most 64

_messages_fts = table("messages_fts", column("rowid"))
_conversations_fts = table("conversations_fts", column("rowid"))
_M = literal_column("messages_fts")
_C = literal_column("conversations_fts")


class Fts5Search:
    def search(
        self, session: Session, owner: str, query: ParsedQuery, filters: ConversationFilter | None, limit: int
    ) -> list[SearchHit]:
        expression = query.fts_expression()
        if expression is None:
            # Only short terms (e.g. a 2-character Chinese word): the index cannot help.
            return like_message_hits(session, owner, query.terms, filters, limit, case_insensitive=False)
        visible = visible_conversation_conditions(owner, filters)
        short = query.short_terms

        title_score = func.bm25(_C)
        title_rows = session.execute(
            select(
                Conversation.id, func.highlight(_C, 0, START, END), title_score,
                Conversation.updated_at, Conversation.model,
            )
            .select_from(_conversations_fts)
            .join(Conversation, literal_column("conversations.rowid") == _conversations_fts.c.rowid)
            .where(_C.op("MATCH")(expression), *visible)
            .where(*[Conversation.title.like(like_pattern(t), escape="\\") for t in short])
            .order_by(title_score)
            .limit(limit)
        ).all()

        message_score = func.bm25(_M)
        message_rows = session.execute(
            select(
                Message.id, Message.conversation_id, Message.role,
                func.snippet(_M, 0, START, END, "…", SNIPPET_TOKENS), message_score,
                Conversation.title, Conversation.updated_at, Conversation.model,
            )
            .select_from(_messages_fts)
            .join(Message, literal_column("messages.rowid") == _messages_fts.c.rowid)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(_M.op("MATCH")(expression), *visible)
            .where(*[Message.content.like(like_pattern(t), escape="\\") for t in short])
            .order_by(message_score)
            .limit(limit)
        ).all()

        title_scores = {cid: score for cid, _, score, _, _ in title_rows}
        hits: list[SearchHit] = []
        for cid, marked, score, updated, model in title_rows:
            title = mark_terms(from_marked(marked), short)
            hits.append(SearchHit(cid, title, None, None, title, TITLE_WEIGHT * score, updated, model))
        for mid, cid, role, marked, score, title, updated, model in message_rows:
            boosted = score + TITLE_BOOST * TITLE_WEIGHT * title_scores.get(cid, 0.0)
            snippet = mark_terms(from_marked(marked), short)
            hits.append(SearchHit(cid, ((title, False),), mid, role, snippet, boosted, updated, model))
        # bm25 is negative, more negative = better; ties: newer conversation first.
        hits.sort(key=lambda h: (h.score, -h.updated_at.timestamp()))
        return hits[:limit]


def check_index(session: Session) -> None:
    """Raise if an index no longer matches its table (e.g. triggers lost in a table rebuild)."""
    for name in ("messages_fts", "conversations_fts"):
        session.connection().exec_driver_sql(f"INSERT INTO {name}({name}, rank) VALUES ('integrity-check', 1)")


def rebuild_index(session: Session) -> None:
    """Re-read both tables into the index: after a VACUUM or a table rebuild."""
    for name in ("messages_fts", "conversations_fts"):
        session.connection().exec_driver_sql(f"INSERT INTO {name}({name}) VALUES ('rebuild')")
