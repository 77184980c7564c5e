"""Per-person request and token budgets on the server's shared key (``[limits]`` in secrets.toml).

With sign-in on, one person must not spend the whole quota of the key everyone shares. Each
request to a metered provider first passes :meth:`Budget.check`, which counts that person's
replies in the last minute and the last 24 hours from the database (so every app server on one
database sees the same counts) and refuses with :class:`chatbot.errors.QuotaExceeded` before
anything is sent. :class:`Metered` puts the check in front of any provider, so the turn code
never knows about budgets.

What counts: the person's assistant replies from a metered provider created in the window (the
one being asked for included), except replies this budget refused; tokens are their prompt plus
completion tokens as the provider reported them. A batch's rows (chatbot.batch) count the same,
from the moment their reply or error arrived. Admins, people using a key of their own, and
the single-user app (no sign-in) have no budget.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chatbot.access import Actor
from chatbot.errors import QUOTA_KEYS, QuotaExceeded, database_error
from chatbot.providers.base import ChatRequest, ModelInfo, Provider, RateLimits, StreamEvent
from chatbot.store.models import BatchRow, BatchRun, Conversation, Message, utcnow

log = logging.getLogger(__name__)

# Providers whose requests spend a key shared by everyone (the local model spends nothing).
METERED = frozenset({"groq"})
MAX_LIMIT = 1_000_000_000  # a bound on each configured number; 0 means no limit
Counted = Literal["requests", "tokens"]
Window = Literal["minute", "day"]
COUNTED: tuple[Counted, ...] = ("requests", "tokens")
WINDOWS: dict[Window, int] = {"minute": 60, "day": 24 * 3600}


@dataclass(frozen=True)
class Limits:
    """Each person's budget on the shared key; 0 = no limit for that one."""

    requests_per_minute: int = 10
    requests_per_day: int = 500
    tokens_per_minute: int = 100_000
    tokens_per_day: int = 1_000_000

    def of(self, counted: Counted, window: Window) -> int:
        return int(getattr(self, f"{counted}_per_{window}"))

    @property
    def unlimited(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


def limits_from(secrets: Mapping[str, object]) -> Limits:
    """``[limits]`` of secrets.toml; what it leaves out keeps the default.

    A value that is not a whole number from 0 to 1,000,000,000 keeps the default too (never
    "no limit" by mistake), and the log names the setting (never its section's other values).
    """
    defaults = Limits()
    section = secrets.get("limits")
    if not isinstance(section, Mapping):
        return defaults
    chosen: dict[str, int] = {}
    for f in fields(Limits):
        if f.name not in section:
            continue
        value = section[f.name]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_LIMIT:
            chosen[f.name] = value
        else:
            log.warning("[limits] %s must be a whole number from 0 to %d; the default is used", f.name, MAX_LIMIT)
    return Limits(**chosen)


@dataclass(frozen=True)
class _Spent:
    at: datetime
    tokens: int


class Budget:
    """One person's budget, checked against their replies in the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        owner: str,
        limits: Limits,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self.owner = owner
        self.limits = limits
        self._clock = clock

    def check(self) -> None:
        """Raise QuotaExceeded when a budget is used up: the one that frees up last, so the
        wait it names is the real one (a used-up day is not retried after a minute)."""
        now = self._clock()
        longest = max((seconds for window, seconds in WINDOWS.items() if self._active(window)), default=0)
        if not longest:
            return
        spent = self._spent(now - timedelta(seconds=longest))
        refusals: list[QuotaExceeded] = []
        for window, seconds in WINDOWS.items():
            since = now - timedelta(seconds=seconds)
            inside = [s for s in spent if s.at > since]
            for counted in COUNTED:
                limit = self.limits.of(counted, window)
                frees = _frees_at(inside, counted, limit) if limit else None
                if frees is not None:
                    wait = math.ceil((frees + timedelta(seconds=seconds) - now).total_seconds())
                    refusals.append(QuotaExceeded(counted, window, limit, max(1, wait)))
        if refusals:
            raise max(refusals, key=lambda r: r.retry_after or 0)

    def _active(self, window: Window) -> bool:
        return bool(self.limits.of("requests", window) or self.limits.of("tokens", window))

    def _spent(self, since: datetime) -> list[_Spent]:
        tokens = func.coalesce(Message.prompt_tokens, 0) + func.coalesce(Message.completion_tokens, 0)
        query = (
            select(Message.created_at, tokens)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.owner == self.owner,
                Message.role == "assistant",
                Message.provider.in_(sorted(METERED)),
                Message.created_at >= since,
                or_(Message.error_code.is_(None), Message.error_code.not_in(sorted(QUOTA_KEYS.values()))),
            )
            .order_by(Message.created_at)
        )
        # A batch's rows spend the same key (chatbot.batch), counted when their reply arrived.
        batch_tokens = func.coalesce(BatchRow.prompt_tokens, 0) + func.coalesce(BatchRow.completion_tokens, 0)
        batch_query = (
            select(BatchRow.finished_at, batch_tokens)
            .join(BatchRun, BatchRun.id == BatchRow.run_id)
            .where(
                BatchRun.owner == self.owner,
                BatchRow.provider.in_(sorted(METERED)),
                BatchRow.finished_at >= since,
                or_(BatchRow.error_code.is_(None), BatchRow.error_code.not_in(sorted(QUOTA_KEYS.values()))),
            )
        )
        try:
            with self._sessions() as s:
                rows = [*s.execute(query), *s.execute(batch_query)]
        except SQLAlchemyError as exc:  # a locked or damaged database is said as such, not as "unknown"
            raise database_error(exc) from exc
        spent = [_Spent(at if at.tzinfo else at.replace(tzinfo=UTC), int(n)) for at, n in rows if at is not None]
        return sorted(spent, key=lambda s: s.at)


def _frees_at(inside: list[_Spent], counted: Counted, limit: int) -> datetime | None:
    """None when within ``limit``; else when the reply whose leaving the window brings it back
    within the limit was made (the window's length after that, it frees up)."""
    if counted == "requests":
        # ``inside`` holds the request being made: more than ``limit`` means it is one too many.
        # It frees up when so many of the oldest have left that it would be the limit-th.
        excess = len(inside) - limit
        return inside[excess - 1].at if excess > 0 else None
    used = sum(s.tokens for s in inside)
    if used < limit:
        return None
    for spent in inside:
        used -= spent.tokens
        if used < limit:
            return spent.at
    return inside[-1].at  # not reached: the sum fell below the limit at the latest with the last


class Metered:
    """A provider whose every chat request first passes a person's budget."""

    def __init__(self, inner: Provider, budget: Budget) -> None:
        self.name = inner.name
        self.inner = inner
        self.budget = budget

    def list_models(self) -> list[ModelInfo]:
        return self.inner.list_models()

    def stream_chat(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self.budget.check()  # at the first next(): the reply's row exists, so a refusal is saved with it
        yield from self.inner.stream_chat(request)

    def rate_limits(self) -> RateLimits | None:
        found: Callable[[], RateLimits | None] | None = getattr(self.inner, "rate_limits", None)
        return found() if found else None


def budget_for(
    who: Actor, shared_key: bool, secrets: Mapping[str, object], sessions: sessionmaker[Session]
) -> Budget | None:
    """The budget of the person acting, or None when they have none: not signed in (the
    single-user app), an admin, or using a key of their own (``shared_key`` False)."""
    if not who.signed_in or who.admin or not shared_key:
        return None
    limits = limits_from(secrets)
    return None if limits.unlimited else Budget(sessions, who.owner, limits)
