"""Groq's limits per model as last seen, and which other model to continue on when one's day is up.

Groq limits each model separately (requests per day, tokens per minute, ...) and says what is
left in the ``x-ratelimit-*`` headers of every answer (requests: per day; tokens: per minute).
:class:`ModelLimits` keeps the newest headers and the last 429 of each model, per key (a SHA-256
of the base URL and key, never the key), in the database: every app server and every later
session sees them. :func:`offers` ranks the models to continue on when one's daily limit is
reached: the closest to it first (same family, then size, then context window), then the one with
the most requests left. Never imports Streamlit.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chatbot.database import database_errors
from chatbot.errors import RateLimited
from chatbot.providers.base import ModelInfo, RateLimits
from chatbot.store.models import ModelLimit, utcnow

DAILY = frozenset({"RPD", "TPD", "ASD"})
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)b\b", re.I)
_FAMILY = re.compile(r"[a-z]+(?:-oss)?", re.I)
MAX_OFFERS = 3


def key_id(base_url: str | None, api_key: str) -> str:
    """Whose limits: a digest of where and with which key, so the key itself is never stored."""
    return hashlib.sha256(f"{base_url or ''}|{api_key}".encode()).hexdigest()


def go_seconds(text: str | None) -> float | None:
    """'2m59.56s' -> 179.56; None for nothing."""
    if not text:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = _GO_PART.findall(text)
    return sum(float(n) * scale[unit] for n, unit in parts) if parts else None


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@dataclass(frozen=True)
class SeenLimits:
    """One model's limits as last seen."""

    model: str
    limit_requests: int | None = None
    remaining_requests: int | None = None
    requests_reset_at: datetime | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    tokens_reset_at: datetime | None = None
    seen_at: datetime | None = None
    limited_window: str | None = None
    limited_at: datetime | None = None
    limited_until: datetime | None = None

    def daily_reached(self, now: datetime) -> bool:
        """A daily 429 still in force, or no request left today as last seen."""
        if self.limited_window in DAILY and self.limited_until is not None and self.limited_until > now:
            return True
        if self.remaining_requests == 0:
            return self.requests_reset_at is None or self.requests_reset_at > now
        return False

    def requests_left(self, now: datetime) -> int | None:
        """Requests left today as last seen (0 while a daily limit is reached); None: not seen."""
        return 0 if self.daily_reached(now) else self.remaining_requests


def _seen(row: ModelLimit) -> SeenLimits:
    return SeenLimits(
        row.model,
        row.limit_requests,
        row.remaining_requests,
        _utc(row.requests_reset_at),
        row.limit_tokens,
        row.remaining_tokens,
        _utc(row.tokens_reset_at),
        _utc(row.seen_at),
        row.limited_window,
        _utc(row.limited_at),
        _utc(row.limited_until),
    )


class ModelLimits:
    def __init__(self, sessions: sessionmaker[Session], key: str, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self.key = key
        self._clock = clock

    @database_errors
    def _write(self, model: str, **values: object) -> None:
        for _ in range(2):  # two sessions inserting the same model at once: the second updates
            try:
                with self._sessions.begin() as s:
                    row = s.get(ModelLimit, (self.key, model))
                    if row is None:
                        row = ModelLimit(key_id=self.key, model=model)
                        s.add(row)
                    for name, value in values.items():
                        setattr(row, name, value)
                return
            except IntegrityError:
                continue

    def seen(self, model: str, limits: RateLimits) -> None:
        """The headers of an answer (or a 429) for ``model``."""
        if limits.remaining_requests is None and limits.remaining_tokens is None:
            return
        now = self._clock()

        def at(reset: str | None) -> datetime | None:
            seconds = go_seconds(reset)
            return now + timedelta(seconds=seconds) if seconds is not None else None

        self._write(
            model,
            limit_requests=limits.limit_requests,
            remaining_requests=limits.remaining_requests,
            requests_reset_at=at(limits.reset_requests),
            limit_tokens=limits.limit_tokens,
            remaining_tokens=limits.remaining_tokens,
            tokens_reset_at=at(limits.reset_tokens),
            seen_at=now,
        )

    def limited(self, model: str, error: RateLimited) -> None:
        """A 429 for ``model``: which window, and until when it said to wait."""
        now = self._clock()
        wait = error.retry_after or 0.0
        self._write(
            model,
            limited_window=(error.limit or "")[:10] or None,
            limited_at=now,
            limited_until=now + timedelta(seconds=math.ceil(wait)),
        )

    @database_errors
    def all(self) -> dict[str, SeenLimits]:
        with self._sessions() as s:
            rows = s.scalars(select(ModelLimit).where(ModelLimit.key_id == self.key))
            return {row.model: _seen(row) for row in rows}

    def now(self) -> datetime:
        return self._clock()


@dataclass(frozen=True)
class Offer:
    """A model to continue on, and its requests left today as last seen (None: not seen yet)."""

    model: ModelInfo
    requests_left: int | None


def family(model_id: str) -> str:
    name = model_id.rsplit("/", 1)[-1]
    match = _FAMILY.match(name)
    return match.group(0).lower() if match else name.lower()


def size(model_id: str) -> float | None:
    """Billions of parameters, from the id ("gpt-oss-120b" -> 120), when it says."""
    found = _SIZE.findall(model_id.rsplit("/", 1)[-1])
    return float(found[-1]) if found else None


def _distance(a: float | None, b: float | None) -> float:
    if not a or not b:
        return 10.0  # not known: farther than any known difference
    return abs(math.log(a / b))


def closeness(chosen: ModelInfo, other: ModelInfo) -> tuple[int, int, float, float]:
    """Smaller is closer: same provider, same family, then size, then context window."""
    return (
        int(other.provider != chosen.provider),
        int(family(other.id) != family(chosen.id)),
        round(_distance(size(other.id), size(chosen.id)), 1),
        round(_distance(other.context_window, chosen.context_window), 1),
    )


def offers(
    chosen: ModelInfo, candidates: Sequence[ModelInfo], seen: dict[str, SeenLimits], now: datetime
) -> list[Offer]:
    """The models to continue on, best first: none whose daily limit is reached as last seen."""
    found: dict[str, Offer] = {}
    for model in candidates:
        if model.key == chosen.key or model.key in found:
            continue
        limits = seen.get(model.id) if model.provider == "groq" else None
        if limits is not None and limits.daily_reached(now):
            continue
        found[model.key] = Offer(model, limits.requests_left(now) if limits else None)
    ranked = sorted(
        found.values(), key=lambda o: (closeness(chosen, o.model), -(o.requests_left if o.requests_left else 0))
    )
    return ranked[:MAX_OFFERS]


def is_daily(error: object) -> bool:
    """A 429 (or this app's refusal) that lasts the rest of the day, not a minute."""
    return isinstance(error, RateLimited) and (error.limit or "").upper() in DAILY
