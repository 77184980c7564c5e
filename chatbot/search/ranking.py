"""How title and message hits are ranked together, the same for every search backend.

Scores follow FTS5's bm25: lower (more negative) is better. A title says what the whole
conversation is about, so its score counts ``TITLE_WEIGHT`` times; a message in a conversation
whose title also matches gets part of that title's score.
"""

from __future__ import annotations

from chatbot.search import SearchHit

TITLE_WEIGHT = 3.0
TITLE_BOOST = 0.5


def rank_together(titles: list[SearchHit], messages: list[SearchHit], limit: int) -> list[SearchHit]:
    """Title hits (scores already weighted) and message hits, best first, at most ``limit``."""
    title_scores = {h.conversation_id: h.score / TITLE_WEIGHT for h in titles}
    hits = list(titles)
    for hit in messages:
        boost = TITLE_BOOST * TITLE_WEIGHT * title_scores.get(hit.conversation_id, 0.0)
        hits.append(SearchHit(**{**hit.__dict__, "score": hit.score + boost}))
    # Ties: the newer conversation first.
    hits.sort(key=lambda h: (h.score, -h.updated_at.timestamp()))
    return hits[:limit]
