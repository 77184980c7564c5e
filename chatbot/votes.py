"""Votes on blind comparisons, per person: which reply was better, or a ranking of three or four.

A vote names replies (messages); the models are read from the stored replies, never taken
from the page. The leaderboard (chatbot/leaderboard.py) reads them back as ballots: each
model's rank, 1 best, equal ranks a tie. "Both bad" is a tie between the two (a vote that
says nothing of which is better, as LMSYS's arena counts it). Never imports Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from chatbot.database import database_errors
from chatbot.errors import InvalidInput
from chatbot.store import repo, vote_repo
from chatbot.store.models import Message, Vote

Verdict = Literal["a", "b", "tie", "both_bad", "ranking"]
PAIR_VERDICTS: tuple[Verdict, ...] = ("a", "b", "tie", "both_bad")
VERDICTS = (*PAIR_VERDICTS, "ranking")
MAX_RANKED = 4
# The leaderboard reads at most this many of a person's newest votes (a fit and its bootstrap
# stay well under a second).
MAX_VOTES = 10_000


@dataclass(frozen=True)
class Ballot:
    """One vote as the leaderboard reads it: each model's rank (1 best; equal ranks tie)."""

    ranks: dict[str, int]
    verdict: str = "ranking"


def pair_ranks(verdict: Verdict) -> tuple[int, int]:
    """Ranks of reply A and reply B for a pair's verdict."""
    if verdict == "a":
        return 1, 2
    if verdict == "b":
        return 2, 1
    if verdict in ("tie", "both_bad"):
        return 1, 1
    raise InvalidInput("vote.bad_verdict")


def ballot(row: Vote) -> Ballot:
    return Ballot({str(e["model"]): int(e["rank"]) for e in row.ranking}, row.verdict)


class Votes:
    def __init__(self, sessions: sessionmaker[Session], owner: str = "") -> None:
        self._sessions = sessions
        self.owner = owner

    def vote_pair(self, conversation_id: str, shown: tuple[str, str], verdict: Verdict) -> str:
        """A verdict on two replies (``shown``: reply A's and reply B's message ids)."""
        if verdict not in PAIR_VERDICTS:
            raise InvalidInput("vote.bad_verdict")
        a, b = pair_ranks(verdict)
        return self._save(conversation_id, {shown[0]: a, shown[1]: b}, verdict)

    def vote_ranking(self, conversation_id: str, ranks: dict[str, int]) -> str:
        """A ranking of three or four replies: message id -> rank (1 best; equal ranks tie)."""
        if not 3 <= len(ranks) <= MAX_RANKED or any(not 1 <= r <= len(ranks) for r in ranks.values()):
            raise InvalidInput("vote.bad_ranking", high=MAX_RANKED)
        return self._save(conversation_id, ranks, "ranking")

    @database_errors
    def _save(self, conversation_id: str, ranks: dict[str, int], verdict: Verdict) -> str:
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                raise InvalidInput("error.no_conversation")
            replies = {m.id: m for m in repo.messages_by_ids(s, conv.id, list(ranks))}
            if len(replies) != len(ranks) or any(m.role != "assistant" for m in replies.values()):
                raise InvalidInput("vote.not_replies")
            models = [_model_key(replies[mid]) for mid in ranks]
            if len(set(models)) != len(models):
                raise InvalidInput("vote.same_model")
            ranking: list[dict[str, Any]] = [
                {"message_id": mid, "model": model, "rank": rank}
                for (mid, rank), model in zip(ranks.items(), models, strict=True)
            ]
            # Voting again on the same replies changes the vote instead of counting twice.
            for old in vote_repo.votes_of(s, [conv.id]).get(conv.id, []):
                if {e["message_id"] for e in old.ranking} == set(ranks):
                    s.delete(old)
            vote = Vote(owner=self.owner, conversation_id=conv.id, verdict=verdict, ranking=ranking)
            s.add(vote)
            s.flush()
            return vote.id

    @database_errors
    def verdict_on(self, conversation_id: str, message_ids: list[str]) -> Vote | None:
        """The owner's vote on exactly these replies, if any."""
        with self._sessions() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return None
            wanted = set(message_ids)
            found = [v for v in vote_repo.votes_of(s, [conv.id]).get(conv.id, []) if _ids(v) == wanted]
            if found:
                s.expunge(found[-1])
                return found[-1]
            return None

    @database_errors
    def ballots(self, tag: str | None = None, limit: int = MAX_VOTES) -> list[Ballot]:
        """The owner's newest votes (at most ``limit``), from conversations tagged ``tag`` if given;
        conversations in the trash do not count."""
        with self._sessions() as s:
            return [ballot(v) for v in vote_repo.owner_votes(s, self.owner, tag, limit)]


def _ids(vote: Vote) -> set[str]:
    return {str(e["message_id"]) for e in vote.ranking}


def _model_key(m: Message) -> str:
    return f"{m.provider or ''}:{m.model or ''}"
