"""What a person's replies cost: per reply, per conversation, per day and model, since a moment.

Token counts come from the stored replies (``messages``: prompt, cached prompt and completion
tokens, and whether they are the app's estimate) and from the person's batch rows (chatbot.batch,
counted when their reply arrived, as a reply of that model); prices from :class:`chatbot.pricing.Prices`
at the time of asking, so an admin's corrected price corrects the past figures too. Never
imports Streamlit; every query scoped to ``owner``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from chatbot.database import database_errors
from chatbot.pricing import BATCH_API_SHARE, Cost, PriceTable, audio_cost, reply_cost, speech_cost
from chatbot.store.models import AudioUsage, BatchRow, BatchRun, Conversation, Message, SpeechClip


@dataclass(frozen=True)
class CostRow:
    """One day's replies of one model."""

    day: str
    provider: str
    model: str
    cost: Cost


def _grouped(since: datetime | None, owner: str, conversation_id: str | None, by_day: bool) -> Select[Any]:
    columns: list[Any] = [
        Message.provider,
        Message.model,
        Message.tokens_estimated,
        func.coalesce(func.sum(Message.prompt_tokens), 0),
        func.coalesce(func.sum(Message.cached_tokens), 0),
        func.coalesce(func.sum(Message.completion_tokens), 0),
        func.count(),
    ]
    day = func.date(Message.created_at)
    query: Select[Any] = (select(day, *columns) if by_day else select(*columns)).join(
        Conversation, Conversation.id == Message.conversation_id
    )
    query = query.where(Conversation.owner == owner, Message.role == "assistant")
    if since is not None:
        query = query.where(Message.created_at >= since)
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    group = [Message.provider, Message.model, Message.tokens_estimated]
    return query.group_by(day, *group).order_by(day) if by_day else query.group_by(*group)


def _batch_grouped(since: datetime | None, owner: str, run_id: str | None, by_day: bool) -> Select[Any]:
    """The person's answered batch rows summed as :func:`_grouped` sums replies (never estimates:
    a row is saved only with its reply's usage), apart for runs sent through Groq's Batch API."""
    through_api = BatchRun.groq_batch_id.is_not(None)
    columns: list[Any] = [
        BatchRow.provider,
        BatchRow.model,
        through_api,
        func.coalesce(func.sum(BatchRow.prompt_tokens), 0),
        func.coalesce(func.sum(BatchRow.cached_tokens), 0),
        func.coalesce(func.sum(BatchRow.completion_tokens), 0),
        func.count(),
    ]
    day = func.date(BatchRow.finished_at)
    query: Select[Any] = (select(day, *columns) if by_day else select(*columns)).join(
        BatchRun, BatchRun.id == BatchRow.run_id
    )
    query = query.where(BatchRun.owner == owner, BatchRow.status == "done")
    if since is not None:
        query = query.where(BatchRow.finished_at >= since)
    if run_id is not None:
        query = query.where(BatchRow.run_id == run_id)
    group = [BatchRow.provider, BatchRow.model, through_api]
    return query.group_by(day, *group).order_by(day) if by_day else query.group_by(*group)


def _batch_priced(table: PriceTable, provider: str, model: str, through_api: bool, *counts: int) -> Cost:
    cost = _priced(table, provider, model, False, *counts)
    if through_api and not cost.unknown:  # Groq's Batch API: half the synchronous prices
        return Cost(cost.known * BATCH_API_SHARE, cost.unknown, cost.estimated, cost.cached_tokens)
    return cost


def _priced(table: PriceTable, provider: str | None, model: str | None, estimated: bool, *counts: int) -> Cost:
    """A group's cost. Groups of replies whose price is not known count each reply as unknown."""
    p, c, o, n = counts  # prompt, cached, completion tokens; replies
    cost = reply_cost(table.price(provider, model), int(p), int(o), int(c), bool(estimated))
    if cost.unknown:
        return Cost(unknown=int(n), estimated=cost.estimated, cached_tokens=cost.cached_tokens)
    return cost


class Costs:
    def __init__(self, sessions: sessionmaker[Session], owner: str, table: PriceTable) -> None:
        self._sessions = sessions
        self.owner = owner
        self.table = table

    @database_errors
    def since(self, moment: datetime | None, conversation_id: str | None = None) -> Cost:
        """The cost of the owner's replies made at or after ``moment`` (None: all), optionally
        of one conversation."""
        with self._sessions() as s:
            groups: list[tuple[Any, ...]] = [
                tuple(r) for r in s.execute(_grouped(moment, self.owner, conversation_id, by_day=False))
            ]
            batch = [] if conversation_id else list(s.execute(_batch_grouped(moment, self.owner, None, False)))
        total = Cost()
        for provider, model, estimated, p, c, o, n in groups:
            if p or o:
                total += _priced(self.table, provider, model, estimated, p, c, o, n)
        for provider, model, through_api, p, c, o, n in batch:
            if p or o:
                total += _batch_priced(self.table, provider, model, through_api, p, c, o, n)
        return total

    @database_errors
    def batch_run(self, run_id: str) -> Cost:
        """What a batch run's answered rows cost (rows of another person's run: nothing)."""
        with self._sessions() as s:
            groups = list(s.execute(_batch_grouped(None, self.owner, run_id, by_day=False)))
        total = Cost()
        for provider, model, through_api, p, c, o, n in groups:
            if p or o:
                total += _batch_priced(self.table, provider, model, through_api, p, c, o, n)
        return total

    @database_errors
    def audio(self, since: datetime) -> list[CostRow]:
        """Voice input per day and Whisper model: Groq prices it per hour of audio."""
        day = func.date(AudioUsage.created_at)
        query = (
            select(day, AudioUsage.model, func.coalesce(func.sum(AudioUsage.seconds), 0.0))
            .where(AudioUsage.owner == self.owner, AudioUsage.created_at >= since)
            .group_by(day, AudioUsage.model)
            .order_by(day)
        )
        with self._sessions() as s:
            groups = list(s.execute(query))
        return [
            CostRow(str(d), "groq", m or "", audio_cost(self.table.price("groq", m), float(n))) for d, m, n in groups
        ]

    @database_errors
    def speech(self, since: datetime, model: str) -> list[CostRow]:
        """Replies read aloud per day, priced per million characters sent to ``model`` (Groq's
        text-to-speech). Counted from the clips kept: a clip forgotten (beyond the per-person
        size, or its reply deleted) is no longer counted; clips kept before the count was
        stored have none."""
        day = func.date(SpeechClip.created_at)
        query = (
            select(day, func.coalesce(func.sum(SpeechClip.characters), 0))
            .where(SpeechClip.owner == self.owner, SpeechClip.created_at >= since)
            .group_by(day)
            .order_by(day)
        )
        with self._sessions() as s:
            groups = list(s.execute(query))
        price = self.table.price("groq", model)
        return [CostRow(str(d), "groq", model, speech_cost(price, int(n))) for d, n in groups if n]

    def conversation(self, conversation_id: str) -> Cost:
        return self.since(None, conversation_id)

    @database_errors
    def by_day_and_model(self, since: datetime) -> list[CostRow]:
        with self._sessions() as s:
            groups: list[tuple[Any, ...]] = [
                tuple(r) for r in s.execute(_grouped(since, self.owner, None, by_day=True))
            ]
            batch = list(s.execute(_batch_grouped(since, self.owner, None, by_day=True)))
        merged: dict[tuple[str, str, str], Cost] = {}
        for day, provider, model, estimated, p, c, o, n in groups:
            if not (p or o):
                continue
            key = (str(day), provider or "", model or "")
            merged[key] = merged.get(key, Cost()) + _priced(self.table, provider, model, estimated, p, c, o, n)
        for day, provider, model, through_api, p, c, o, n in batch:
            if p or o:
                key = (str(day), provider or "", model or "")
                cost = _batch_priced(self.table, provider, model, through_api, p, c, o, n)
                merged[key] = merged.get(key, Cost()) + cost
        return [CostRow(d, p, m, cost) for (d, p, m), cost in merged.items()]
