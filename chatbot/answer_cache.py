"""Answers kept for identical requests (opt-in): asked again, they come at once and cost nothing.

Only requests at temperature 0 are kept: at any other temperature the user asks for a different
answer each time. A request is identical when its provider, model, messages (the system prompt
among them) and parameters are: the key is a SHA-256 of those, so the table holds no prompt
text besides the answer itself. Entries belong to one person (``owner``) and are never read for
another; they expire after the hours set (default a day) and are cleared from Settings. Never
imports Streamlit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chatbot.database import database_errors
from chatbot.providers.base import ChatRequest, Finish, ReasoningDelta, StreamEvent, TextDelta, Usage
from chatbot.store.models import CachedAnswer, utcnow

DEFAULT_HOURS = 24
MAX_HOURS = 24 * 90  # a bound on the setting: ninety days
MAX_ANSWER_CHARS = 500_000  # longer answers are not kept


def request_key(provider: str, request: ChatRequest) -> str | None:
    """The key of a cacheable request; None unless its temperature is 0 (and no built-in tools)."""
    params = request.params.as_dict()
    if request.params.temperature is None or float(request.params.temperature) != 0.0:
        return None
    if request.tools:  # web search and code runs answer from what is live now
        return None
    identity = {
        "provider": provider,
        "model": request.model,
        # Images count by their bytes: the same words about another picture are another request.
        "messages": [
            [m.role, m.content, [hashlib.sha256(i.data).hexdigest() for i in m.images]] for m in request.messages
        ],
        "params": params,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Hit:
    content: str
    reasoning: str | None

    def events(self) -> Iterator[StreamEvent]:
        """The answer as a stream, with no tokens used."""
        if self.reasoning:
            yield ReasoningDelta(self.reasoning)
        yield TextDelta(self.content)
        yield Usage(prompt_tokens=0, completion_tokens=0)
        yield Finish("stop")


class AnswerCache:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        owner: str,
        hours: float = DEFAULT_HOURS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self.owner = owner
        self.hours = max(0.0, min(float(hours), MAX_HOURS))
        self._clock = clock

    @database_errors
    def find(self, key: str) -> Hit | None:
        now = self._clock()
        with self._sessions() as s:
            row = s.scalars(
                select(CachedAnswer).where(CachedAnswer.owner == self.owner, CachedAnswer.request_hash == key)
            ).first()
            if row is None:
                return None
            expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
            return Hit(row.content, row.reasoning) if expires > now else None

    @database_errors
    def keep(self, key: str, provider: str, model: str, content: str, reasoning: str | None) -> None:
        if not content or len(content) + len(reasoning or "") > MAX_ANSWER_CHARS or not self.hours:
            return
        now = self._clock()
        expires = now + timedelta(hours=self.hours)
        try:
            with self._sessions.begin() as s:
                s.execute(delete(CachedAnswer).where(CachedAnswer.owner == self.owner, CachedAnswer.expires_at <= now))
                s.execute(
                    delete(CachedAnswer).where(CachedAnswer.owner == self.owner, CachedAnswer.request_hash == key)
                )
                s.add(
                    CachedAnswer(
                        owner=self.owner,
                        request_hash=key,
                        provider=provider,
                        model=model,
                        content=content,
                        reasoning=reasoning,
                        created_at=now,
                        expires_at=expires,
                    )
                )
        except IntegrityError:
            return  # the same answer kept by another tab at the same moment

    @database_errors
    def count(self) -> int:
        now = self._clock()
        with self._sessions() as s:
            rows = s.scalars(
                select(CachedAnswer.id).where(CachedAnswer.owner == self.owner, CachedAnswer.expires_at > now)
            )
            return len(list(rows))

    @database_errors
    def clear(self) -> None:
        with self._sessions.begin() as s:
            s.execute(delete(CachedAnswer).where(CachedAnswer.owner == self.owner))
