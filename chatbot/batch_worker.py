"""One batch run being sent by this process: worker threads taking its pending rows in turn.

Each row waits for its turn at the pace Groq's limits allow (chatbot.batch_pacing), is sent as
one chat request through the providers, and is saved the moment its reply or error is complete.
A 429 puts the row back and pauses everyone for its retry-after; a wait longer than 2 minutes
(a daily limit), a rejected key, Groq unreachable or a database failure stops the run by itself,
its reason kept, the rows not done left pending. So does a spending budget used up
(chatbot.budgets, checked before each Groq row is sent, as before a chat reply): a batch's rows
are priced and counted like replies (chatbot.costs).
Stop lets the requests under way finish and be saved, and starts no more.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chatbot.batch_pacing import RateGate
from chatbot.budgets import BudgetReached, Budgets
from chatbot.errors import (
    AuthenticationFailed,
    ChatError,
    LocalModelMissing,
    ModelUnavailable,
    RateLimited,
    database_error,
    stored_values,
)
from chatbot.pricing import Prices
from chatbot.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationParams,
    Provider,
    RateLimits,
    TextDelta,
    Usage,
)
from chatbot.spend import METERED
from chatbot.store.models import BatchRow, BatchRun, utcnow

log = logging.getLogger(__name__)

# A wait Groq asks for up to this long is waited out; longer (a daily limit), the run stops.
MAX_AUTO_WAIT = 120.0
# Completion tokens expected of a reply before any has been seen (for the tokens-per-minute pace).
FIRST_COMPLETION_GUESS = 256


@dataclass(frozen=True)
class PendingRow:
    id: str
    provider: str
    model: str
    prompt: str
    system: str | None

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}"


class RunWorker:
    """One run being sent by this process: its queue of pending rows and the threads sending them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        run_id: str,
        rows: list[PendingRow],
        providers: Callable[[str], Provider],
        params: GenerationParams,
        concurrency: int,
        on_end: Callable[[RunWorker], None],
    ) -> None:
        self.sessions = sessions
        self.run_id = run_id
        self.providers = providers
        self.params = params
        self.concurrency = max(1, concurrency)
        self.gate = RateGate()
        self.stop_event = threading.Event()
        self.halted: ChatError | None = None
        self.started = time.monotonic()
        self.finished_here = 0
        self._queue = deque(rows)
        self._lock = threading.Lock()
        self._gone: dict[str, ChatError] = {}
        self._completion_tokens: list[int] = []
        self._on_end = on_end
        self._owner: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"batch-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def seconds_left(self, pending: int) -> float | None:
        with self._lock:
            finished = self.finished_here
        if not finished:
            return None
        return pending * (time.monotonic() - self.started) / finished

    def _run(self) -> None:
        workers = [
            threading.Thread(target=self._work, name=f"batch-{self.run_id}-{n}", daemon=True)
            for n in range(min(self.concurrency, len(self._queue)))
        ]
        try:
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        finally:
            self._on_end(self)

    def _take(self) -> PendingRow | None:
        with self._lock:
            return self._queue.popleft() if self._queue and not self.stop_event.is_set() else None

    def _put_back(self, row: PendingRow) -> None:
        with self._lock:
            self._queue.appendleft(row)

    def _halt(self, error: ChatError) -> None:
        """Stop the whole run by itself: rows left pending, the reason kept for the page."""
        with self._lock:
            self.halted = self.halted or error
        self.stop_event.set()

    def _work(self) -> None:
        try:
            while (row := self._take()) is not None:
                if not self._one(row):
                    return
        except SQLAlchemyError as exc:
            self._halt(database_error(exc))
        except Exception:  # a bug must not leave the run "running" with nobody sending
            log.exception("batch worker failed")
            self._halt(ChatError("error.unknown"))

    def _one(self, row: PendingRow) -> bool:
        """Send one row and save what came back; False when this worker should stop."""
        gone = self._gone.get(row.key)
        if gone is not None:  # the model is retired or unknown: no need to pay to hear it again
            self._save(row, error=gone, sent=False)
            return True
        if row.provider in METERED:
            try:
                self._check_budget()
            except BudgetReached as exc:  # nothing sent, the rows left pending; said as a batch's
                self._put_back(row)
                self._halt(exc.as_batch())
                return False
            except ChatError as exc:  # the database: as for any row
                self._put_back(row)
                self._halt(exc)
                return False
        estimate = self._estimate(row)
        if not self._wait_turn(estimate):
            self._put_back(row)
            return False
        limits: list[RateLimits] = []
        self._sent_at(row, utcnow())
        try:
            reply = self._send(row, limits)
        except RateLimited as exc:
            self.gate.done(estimate, None)
            self._sent_at(row, None)  # refused, not answered: nothing spent
            self._put_back(row)
            wait = exc.retry_after or 1.0
            if wait > MAX_AUTO_WAIT:
                self._halt(exc)
                return False
            self.gate.limited(exc.limit, wait)
            return True
        except ChatError as exc:
            self.gate.done(estimate, limits[-1] if limits else None)
            if isinstance(exc, AuthenticationFailed) or exc.key == "error.connection":
                # A rejected key, or Groq unreachable even after the SDK's retries: every other
                # row would fail alike. The run stops with the rows pending, to be resumed.
                self._sent_at(row, None)
                self._put_back(row)
                self._halt(exc)
                return False
            if isinstance(exc, (ModelUnavailable, LocalModelMissing)):
                self._gone[row.key] = exc
            self._save(row, error=exc)
            return True
        self.gate.done(estimate, limits[-1] if limits else None)
        self._save(row, reply=reply)
        return True

    def _check_budget(self) -> None:
        """Raise BudgetReached when the run's owner has used up a spending budget."""
        if self._owner is None:
            with self.sessions() as s:
                self._owner = s.scalar(select(BatchRun.owner).where(BatchRun.id == self.run_id)) or ""
        Budgets(self.sessions).check(self._owner, Prices(self.sessions).table())

    def _estimate(self, row: PendingRow) -> int:
        prompt = math.ceil((len(row.prompt) + len(row.system or "")) / 4)
        if self.params.max_tokens:
            return prompt + self.params.max_tokens
        with self._lock:
            seen = self._completion_tokens[-50:]
        return prompt + (round(sum(seen) / len(seen)) if seen else FIRST_COMPLETION_GUESS)

    def _wait_turn(self, estimate: int) -> bool:
        while not self.stop_event.is_set():
            wait = self.gate.reserve(estimate)
            if wait <= 0:
                return True
            if wait > MAX_AUTO_WAIT:
                self._halt(RateLimited("RPD", wait))
                return False
            self.stop_event.wait(min(wait, 0.5))
        return False

    def _send(self, row: PendingRow, limits: list[RateLimits]) -> _Reply:
        messages = [ChatMessage("system", row.system)] if row.system else []
        messages.append(ChatMessage("user", row.prompt))
        started = time.monotonic()
        events: Iterator[Any] = self.providers(row.provider).stream_chat(ChatRequest(row.model, messages, self.params))
        parts: list[str] = []
        usage: Usage | None = None
        finish: str | None = None
        try:
            for event in events:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, RateLimits):
                    limits.append(event)
                elif isinstance(event, Finish):
                    finish = event.reason
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return _Reply("".join(parts), finish, usage, time.monotonic() - started)

    def _sent_at(self, row: PendingRow, when: datetime | None) -> None:
        """A pending row's ``finished_at`` while its request is under way: when it was sent. The
        per-person budgets (chatbot.quota) count it from then, as they count a reply being
        streamed; a crash leaves it pending, to be sent again on resume."""
        with self.sessions.begin() as s:
            s.execute(
                update(BatchRow).where(BatchRow.id == row.id, BatchRow.status == "pending").values(finished_at=when)
            )

    def _save(
        self, row: PendingRow, reply: _Reply | None = None, error: ChatError | None = None, sent: bool = True
    ) -> None:
        """``sent`` False: failed without a request (its model known gone), so no time is kept
        and the per-person budgets do not count it."""
        values: dict[str, Any] = {"finished_at": utcnow() if sent else None}
        if reply is not None:
            values.update(
                status="done",
                content=reply.text,
                finish_reason=reply.finish,
                prompt_tokens=reply.usage.prompt_tokens if reply.usage else None,
                completion_tokens=reply.usage.completion_tokens if reply.usage else None,
                cached_tokens=reply.usage.cached_tokens if reply.usage else None,
                seconds=round(reply.seconds, 3),
            )
        elif error is not None:
            values.update(status="failed", error_code=error.key, error_values=stored_values(error))
        with self.sessions.begin() as s:
            # Only a pending row: a row saved already (a second worker of another server) stays.
            s.execute(update(BatchRow).where(BatchRow.id == row.id, BatchRow.status == "pending").values(**values))
        with self._lock:
            self.finished_here += 1
            if reply is not None and reply.usage and reply.usage.completion_tokens is not None:
                self._completion_tokens.append(reply.usage.completion_tokens)


@dataclass(frozen=True)
class _Reply:
    text: str
    finish: str | None
    usage: Usage | None
    seconds: float
