"""What replies cost: Groq's price table (chatbot/prices.json), admins' overrides, the sums.

Prices are US dollars per million tokens (input, cached input, output), per hour of audio and
per million characters spoken. A reply's cost is its prompt tokens not served from Groq's prompt
cache at the input price, the cached ones at the cached-input price, and its completion tokens
(reasoning included) at the output price. A price the table does not know makes the cost
unknown (None), never zero: a zero would read as "free" (LobeChat #13785). The local model runs
on this machine and costs nothing.

Overrides are server-wide (one settings row of :data:`SERVER`), changed by admins only
(:func:`chatbot.access.require_admin`). Never imports Streamlit.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from chatbot.access import Actor, require_admin
from chatbot.database import database_errors
from chatbot.errors import InvalidInput
from chatbot.store import repo

PRICES_FILE = Path(__file__).with_name("prices.json")
SERVER = "@server"  # the settings owner of server-wide values: no person's owner lacks a "|"
OVERRIDES_KEY = "price_overrides"
MAX_PRICE = Decimal(100_000)  # dollars per unit: a bound on what an admin may type
MAX_OVERRIDES = 500  # models with a price of their own
FREE_PROVIDERS = frozenset({"local"})
# Groq's Batch API bills half the synchronous prices (groq-api-more.md §6, docs 2026); its
# discount does not stack with the prompt cache's.
BATCH_API_SHARE = Decimal("0.5")
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Price:
    """One model's prices in dollars; None = not known."""

    input: Decimal | None = None
    cached_input: Decimal | None = None
    output: Decimal | None = None
    audio_hour: Decimal | None = None
    speech_million_chars: Decimal | None = None


PRICE_FIELDS = tuple(f.name for f in fields(Price))
FREE = Price(*(Decimal(0) for _ in PRICE_FIELDS))


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, Price]
    source: str = ""
    as_of: str = ""
    overridden: frozenset[str] = frozenset()  # models with an admin's price

    def price(self, provider: str | None, model: str | None) -> Price | None:
        if provider in FREE_PROVIDERS:
            return FREE
        return self.models.get(model or "")


def _decimal(value: object, name: str) -> Decimal | None:
    """A price from the file or a form: None for empty; InvalidInput when not a number from 0
    to 100,000."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput("prices.invalid", field=name, value=str(value)[:40], limit=MAX_PRICE) from None
    if not number.is_finite() or not 0 <= number <= MAX_PRICE:
        raise InvalidInput("prices.invalid", field=name, value=str(value)[:40], limit=MAX_PRICE)
    return number


def price_from(values: Mapping[str, object]) -> Price:
    return Price(**{name: _decimal(values.get(name), name) for name in PRICE_FIELDS})


def builtin_table(path: Path = PRICES_FILE) -> PriceTable:
    data = json.loads(path.read_text(encoding="utf-8"))
    models = {model: price_from(values) for model, values in data["models"].items()}
    return PriceTable(models, str(data.get("source", "")), str(data.get("as_of", "")))


def with_overrides(table: PriceTable, overrides: Mapping[str, Mapping[str, object]]) -> PriceTable:
    """The table with an admin's prices: each field given replaces the file's, an empty one keeps it."""
    models = dict(table.models)
    for model, values in overrides.items():
        given = price_from(values)
        base = models.get(model, Price())
        models[model] = replace(base, **{n: getattr(given, n) for n in PRICE_FIELDS if getattr(given, n) is not None})
    return replace(table, models=models, overridden=frozenset(overrides))


TABLE_TTL_SECONDS = 5.0  # another server's price change shows within this
_tables: weakref.WeakKeyDictionary[sessionmaker[Session], tuple[float, PriceTable]] = weakref.WeakKeyDictionary()
_tables_lock = threading.Lock()


class Prices:
    """The price table in force: the file's, with the admins' overrides from the database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @database_errors
    def overrides(self) -> dict[str, dict[str, str]]:
        with self._sessions() as s:
            stored = repo.get_settings(s, SERVER).get(OVERRIDES_KEY)
        if not isinstance(stored, dict):
            return {}
        return {str(m): {str(k): str(v) for k, v in p.items()} for m, p in stored.items() if isinstance(p, dict)}

    def table(self) -> PriceTable:
        """The table, read at most every few seconds: every reply on a page is priced with it."""
        with _tables_lock:
            kept = _tables.get(self._sessions)
        if kept is not None and time.monotonic() - kept[0] < TABLE_TTL_SECONDS:
            return kept[1]
        try:
            table = with_overrides(builtin_table(), self.overrides())
        except InvalidInput:  # a hand-edited row: the file's prices rather than none
            table = builtin_table()
        with _tables_lock:
            _tables[self._sessions] = (time.monotonic(), table)
        return table

    @database_errors
    def set_price(self, who: Actor, model: str, values: Mapping[str, object]) -> None:
        """An admin's prices for ``model`` (empty fields: the file's); all empty removes them."""
        require_admin(who, "set_prices")
        model = model.strip()
        if not model or len(model) > 200:
            raise InvalidInput("prices.invalid_model", limit=200)
        given = price_from(values)
        kept = {n: str(getattr(given, n)) for n in PRICE_FIELDS if getattr(given, n) is not None}
        with self._sessions.begin() as s:
            stored = dict(repo.get_settings(s, SERVER).get(OVERRIDES_KEY) or {})
            if kept:
                if model not in stored and len(stored) >= MAX_OVERRIDES:
                    raise InvalidInput("prices.too_many", limit=MAX_OVERRIDES)
                stored[model] = kept
            else:
                stored.pop(model, None)
            repo.put_settings(s, SERVER, {OVERRIDES_KEY: stored})
        with _tables_lock:
            _tables.pop(self._sessions, None)


@dataclass(frozen=True)
class Cost:
    """What one reply (or a sum of replies) cost, as far as prices are known."""

    known: Decimal = Decimal(0)  # dollars, of the replies whose prices are known
    unknown: int = 0  # replies (with tokens) whose price is not known
    estimated: bool = False  # some token counts are the app's estimate (a Stop, a cut stream)
    cached_tokens: int = 0

    @property
    def usd(self) -> Decimal | None:
        """The cost, or None when any part of it is not known."""
        return None if self.unknown else self.known

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.known + other.known,
            self.unknown + other.unknown,
            self.estimated or other.estimated,
            self.cached_tokens + other.cached_tokens,
        )


def reply_cost(
    price: Price | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cached_tokens: int | None = None,
    estimated: bool = False,
) -> Cost:
    """A reply's cost: its uncached prompt tokens at the input price, cached ones at the
    cached-input price, completion tokens at the output price."""
    prompt, completion, cached = prompt_tokens or 0, completion_tokens or 0, min(cached_tokens or 0, prompt_tokens or 0)
    if not prompt and not completion:
        return Cost(estimated=estimated)
    parts = ((prompt - cached, "input"), (cached, "cached_input"), (completion, "output"))
    total = Decimal(0)
    for tokens, name in parts:
        if not tokens:
            continue
        per_million = getattr(price, name) if price is not None else None
        if per_million is None:
            return Cost(unknown=1, estimated=estimated, cached_tokens=cached)
        total += tokens * per_million / MILLION
    return Cost(total, 0, estimated, cached)


def audio_cost(price: Price | None, seconds: float) -> Cost:
    if not seconds:
        return Cost()
    if price is None or price.audio_hour is None:
        return Cost(unknown=1)
    return Cost(Decimal(str(seconds)) * price.audio_hour / 3600)


def speech_cost(price: Price | None, characters: int) -> Cost:
    if not characters:
        return Cost()
    if price is None or price.speech_million_chars is None:
        return Cost(unknown=1)
    return Cost(characters * price.speech_million_chars / MILLION)


def total(costs: Iterable[Cost]) -> Cost:
    return sum(costs, Cost())


def usd(amount: Decimal) -> str:
    """Dollars as people read them: cents for a dollar or more, four significant digits below
    (a short reply costs a few millionths), "$0" for nothing."""
    if amount == 0:
        return "$0"
    if amount >= 1:
        return f"${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"
    whole, _, decimals = format(Decimal(f"{amount:.4g}").normalize(), "f").partition(".")
    return f"${whole}.{decimals.ljust(2, '0')}"


@dataclass(frozen=True)
class PriceRow:
    """A line of the price table, as the Settings page lists it."""

    model: str
    price: Price
    overridden: bool = False


def rows(table: PriceTable) -> list[PriceRow]:
    return [PriceRow(m, p, m in table.overridden) for m, p in sorted(table.models.items())]
