"""What every turn of one person passes through, for cost and limits: the answer cache, the
spending budgets, and the record of Groq's limits per model; and where to continue when a
model's day is up.

``Turns`` (chatbot/turns.py) asks :meth:`Guard.cached` before a reply is stored (a hit is
answered at once, no request), streams through :meth:`Guard.events` (a budget used up refuses
before anything is sent; the headers and any 429 are kept per model), hands a completed answer
to :meth:`Guard.keep`, and asks :meth:`Guard.offers` after a daily limit. Never imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from chatbot.answer_cache import AnswerCache, Hit, request_key
from chatbot.budgets import Budgets
from chatbot.errors import QuotaExceeded, RateLimited
from chatbot.model_limits import ModelLimits, Offer, key_id, offers
from chatbot.pricing import Prices, PriceTable
from chatbot.providers.base import ChatRequest, ModelInfo, Provider, RateLimits, StreamEvent
from chatbot.store.models import utcnow

if TYPE_CHECKING:  # chatbot.turns imports this module
    from chatbot.turns import Turns

METERED = frozenset({"groq"})  # providers whose requests cost money and have Groq's limits


@dataclass(frozen=True)
class CacheLookup:
    key: str | None  # None: not cacheable (temperature not 0, or the cache is off)
    hit: Hit | None


class Guard:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        owner: str,
        limits: ModelLimits | None = None,
        budgets: Budgets | None = None,
        prices: Prices | None = None,
    ) -> None:
        self.sessions = sessions  # the pages read costs and the cache with it
        self.owner = owner
        self.limits = limits
        self.budgets = budgets or Budgets(sessions)
        self.prices = prices or Prices(sessions)

    def table(self) -> PriceTable:
        return self.prices.table()

    # --- the answer cache --------------------------------------------------------------------
    def cache(self, hours: float) -> AnswerCache:
        return AnswerCache(self.sessions, self.owner, hours)

    def cached(self, provider: str, request: ChatRequest, hours: float, fresh: bool) -> CacheLookup:
        """The request's cache key when cacheable, and its kept answer unless ``fresh``."""
        key = request_key(provider, request) if hours > 0 else None
        if key is None:
            return CacheLookup(None, None)
        return CacheLookup(key, None if fresh else self.cache(hours).find(key))

    def keep(
        self, lookup: CacheLookup, hours: float, provider: str, model: str, text: str, reasoning: str | None
    ) -> None:
        if lookup.key is not None and lookup.hit is None:
            self.cache(hours).keep(lookup.key, provider, model, text, reasoning)

    # --- the request -------------------------------------------------------------------------
    def events(
        self, provider_name: str, model: str, provider: Callable[[], Provider], request: ChatRequest
    ) -> Iterator[StreamEvent]:
        """The provider's events; refused first when a spending budget is used up."""
        metered = provider_name in METERED
        if metered:
            self.budgets.check(self.owner, self.table())
        try:
            for event in provider().stream_chat(request):
                if metered and self.limits is not None and isinstance(event, RateLimits):
                    self.limits.seen(model, event)
                yield event
        except RateLimited as error:
            if metered and self.limits is not None and not isinstance(error, QuotaExceeded):
                if isinstance(error.rate_limits, RateLimits):
                    self.limits.seen(model, error.rate_limits)
                self.limits.limited(model, error)
            raise

    # --- where to continue ------------------------------------------------------------------
    def offers(self, chosen: ModelInfo, candidates: Sequence[ModelInfo]) -> list[Offer]:
        if self.limits is None:
            return offers(chosen, candidates, {}, utcnow())
        return offers(chosen, candidates, self.limits.all(), self.limits.now())

    def daily_reached(self, model: ModelInfo) -> bool:
        """No request left today on ``model`` as last seen (its headers or a daily 429)."""
        if self.limits is None or model.provider not in METERED:
            return False
        seen = self.limits.all().get(model.id)
        return seen is not None and seen.daily_reached(self.limits.now())


def guarded(turns: Turns, sessions: sessionmaker[Session], api_key: str | None, base_url: str | None) -> Turns:
    """``turns`` with its guard: the limits are kept per key (a digest of it), when there is one."""
    limits = ModelLimits(sessions, key_id(base_url, api_key)) if api_key else None
    turns.guard = Guard(sessions, turns.owner, limits)
    return turns
