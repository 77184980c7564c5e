"""Spending budgets in dollars: a daily and a monthly one, set by admins, for everyone or a person.

At 80% of a budget the chat warns; at 100% a request is refused before anything is sent
(:class:`BudgetReached`, the user's message already saved), saying which budget, what was spent,
when it starts again and what to do meanwhile. Days and months are UTC ones. What counts is the
cost of the person's replies at the prices in force (chatbot.costs); replies whose price is not
known cannot count and are said apart. Never imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from chatbot.access import Actor, require_admin
from chatbot.costs import Costs
from chatbot.database import database_errors
from chatbot.errors import ChatError, InvalidInput, Wait
from chatbot.pricing import SERVER, Cost, PriceTable, usd
from chatbot.store import repo
from chatbot.store.models import utcnow

BUDGETS_KEY = "budgets"
WARN_AT = Decimal("0.8")
MAX_BUDGET = Decimal(1_000_000)  # dollars: a bound on what an admin may type
MAX_PEOPLE = 1000  # people with a budget of their own
Period = Literal["day", "month"]


@dataclass(frozen=True)
class BudgetLimits:
    """Dollars per UTC day and month; None = no budget."""

    daily: Decimal | None = None
    monthly: Decimal | None = None


class BudgetReached(ChatError):
    """A spending budget is used up: nothing was sent."""

    def __init__(self, period: Period, budget: Decimal, spent: Decimal, seconds: int) -> None:
        seconds = max(1, seconds)
        super().__init__(
            f"error.budget_{period}",
            {"budget": usd(budget), "spent": usd(spent), "seconds": seconds, "wait": Wait(seconds)},
            ("settings", "switch_model"),
        )
        self.period = period

    def as_batch(self) -> ChatError:
        """The refusal said as a batch run's (its rows stay pending), not as a chat message kept."""
        key = "batch.budget_day" if self.period == "day" else "batch.budget_month"
        return ChatError(key, self.values, self.actions)


@dataclass(frozen=True)
class PeriodStatus:
    period: Period
    budget: Decimal
    spent: Cost

    @property
    def share(self) -> Decimal:
        return self.spent.known / self.budget if self.budget else Decimal(1)

    @property
    def reached(self) -> bool:
        return self.spent.known >= self.budget

    @property
    def warn(self) -> bool:
        return not self.reached and self.share >= WARN_AT


def _start_of(period: Period, now: datetime) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "day" else day.replace(day=1)


def _next_start(period: Period, now: datetime) -> datetime:
    start = _start_of(period, now)
    if period == "day":
        return start + timedelta(days=1)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def _amount(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidInput("budgets.invalid", value=str(value)[:40], limit=MAX_BUDGET) from None
    if not number.is_finite() or not 0 <= number <= MAX_BUDGET:
        raise InvalidInput("budgets.invalid", value=str(value)[:40], limit=MAX_BUDGET)
    return number


class Budgets:
    """The budgets admins set (server-wide settings), and one person's spending against theirs."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    @database_errors
    def _stored(self) -> dict[str, Any]:
        with self._sessions() as s:
            stored = repo.get_settings(s, SERVER).get(BUDGETS_KEY)
        return stored if isinstance(stored, dict) else {}

    def limits_for(self, owner: str) -> BudgetLimits:
        """A person's own budget where an admin set one, else everyone's."""
        stored = self._stored()
        people = stored.get("people")
        own = people.get(owner) if isinstance(people, dict) else None
        chosen: dict[str, Any] = own if isinstance(own, dict) else stored
        try:
            return BudgetLimits(_amount(chosen.get("daily")), _amount(chosen.get("monthly")))
        except InvalidInput:  # a hand-edited row: no budget rather than a broken chat
            return BudgetLimits()

    def people(self) -> dict[str, BudgetLimits]:
        stored = self._stored().get("people")
        found: dict[str, BudgetLimits] = {}
        for owner, values in (stored or {}).items() if isinstance(stored, dict) else ():
            if isinstance(values, dict):
                found[str(owner)] = BudgetLimits(_amount(values.get("daily")), _amount(values.get("monthly")))
        return found

    @database_errors
    def set_limits(self, who: Actor, daily: object, monthly: object, owner: str | None = None) -> None:
        """An admin sets everyone's budget (``owner`` None) or one person's; both empty removes
        a person's own (everyone's then applies to them)."""
        require_admin(who, "set_budgets")
        values = {"daily": _amount(daily), "monthly": _amount(monthly)}
        kept = {k: str(v) for k, v in values.items() if v is not None}
        with self._sessions.begin() as s:
            stored = dict(repo.get_settings(s, SERVER).get(BUDGETS_KEY) or {})
            if owner is None:
                stored = {**{k: v for k, v in stored.items() if k == "people"}, **kept}
            else:
                owner = owner.strip()
                if not owner or len(owner) > 255:
                    raise InvalidInput("budgets.invalid_person", limit=255)
                people = dict(stored.get("people") or {})
                if kept:
                    if owner not in people and len(people) >= MAX_PEOPLE:
                        raise InvalidInput("budgets.too_many", limit=MAX_PEOPLE)
                    people[owner] = kept
                else:
                    people.pop(owner, None)
                stored["people"] = people
            repo.put_settings(s, SERVER, {BUDGETS_KEY: stored})

    def status(self, owner: str, table: PriceTable) -> list[PeriodStatus]:
        """The person's budgets that are set, with what they spent in the period so far."""
        limits = self.limits_for(owner)
        now = self._clock()
        costs = Costs(self._sessions, owner, table)
        found: list[PeriodStatus] = []
        periods: tuple[tuple[Period, Decimal | None], ...] = (("day", limits.daily), ("month", limits.monthly))
        for period, budget in periods:
            if budget is not None:
                found.append(PeriodStatus(period, budget, costs.since(_start_of(period, now))))
        return found

    def check(self, owner: str, table: PriceTable) -> None:
        """Raise BudgetReached when a budget is used up (the month's first: it lasts longer)."""
        now = self._clock()
        for status in sorted(self.status(owner, table), key=lambda s: s.period != "month"):
            if status.reached:
                wait = int((_next_start(status.period, now) - now).total_seconds())
                raise BudgetReached(status.period, status.budget, status.spent.known, wait)
