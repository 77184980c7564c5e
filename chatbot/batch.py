"""Batch runs: many prompts sent to one or more models, every reply saved the moment it is done.

A run is created with all its rows pending (one per prompt and model). Starting it sends the
pending rows from worker threads (chatbot.batch_worker), at most ``concurrency`` at a time and no
faster than the limits Groq reports allow (chatbot.batch_pacing); each finished row (reply or
error) is written at once.
Stop lets the requests under way finish and be saved (they are paid for) and starts no more; a
crash loses only those under way. Starting again sends only what is still pending, so nothing is
paid for twice. Runs are owned per person: every query names the owner.

Bounds: at most 4 models a run, 1 to 16 requests at a time, the prompt bounds of
chatbot.batch_input. A limit that frees up within 2 minutes is waited out; a longer one (a daily
limit) stops the run with the error said, to be resumed later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chatbot.batch_input import BatchPrompt
from chatbot.batch_worker import PendingRow, RunWorker
from chatbot.database import database_errors
from chatbot.errors import ChatError, InvalidInput, restore, stored_values
from chatbot.groq_batch import ACTIVE as GROQ_ACTIVE
from chatbot.providers.base import GenerationParams, Provider
from chatbot.store.models import BatchRow, BatchRun, new_id, utcnow

log = logging.getLogger(__name__)

MAX_MODELS = 4
MAX_CONCURRENCY = 16
DEFAULT_CONCURRENCY = 4
MAX_NAME_CHARS = 200
_INSERT_CHUNK = 1000

RowStatus = Literal["pending", "done", "failed"]
# What a run is doing, as the page says it: "interrupted" is a run marked running that no process
# is sending (the server stopped); "stopping" lets the requests under way finish.
RunState = Literal["running", "stopping", "stopped", "interrupted", "finished"]


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    failed: int
    pending: int
    state: RunState
    seconds_left: float | None = None  # None until a row has finished in this session
    waiting: float = 0.0  # seconds left of a wait a 429 asked for
    error: ChatError | None = None  # why the run stopped by itself
    groq_status: str | None = None  # sent through Groq's Batch API: its status last seen

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def fraction(self) -> float:
        return self.finished / self.total if self.total else 1.0


@dataclass(frozen=True)
class RowResult:
    position: int
    item_id: str
    model: str  # provider-qualified key, e.g. "groq:openai/gpt-oss-20b"
    prompt: str
    system_prompt: str | None
    status: RowStatus
    content: str | None
    finish_reason: str | None
    error: ChatError | None
    prompt_tokens: int | None
    completion_tokens: int | None
    seconds: float | None


@dataclass(frozen=True)
class RunSummary:
    id: str
    name: str
    models: list[str]
    total: int
    created_at: datetime


def split_key(key: str) -> tuple[str, str]:
    """ "groq:openai/gpt-oss-20b" -> ("groq", "openai/gpt-oss-20b")."""
    provider, _, model = key.partition(":")
    if not provider or not model:
        raise InvalidInput("batch.bad_model", model=key[:200])
    return provider, model


# Runs being sent by this process, by id: a page run (or a reload) finds its run's worker here.
_workers: dict[str, RunWorker] = {}
_workers_lock = threading.Lock()


class BatchService:
    """One person's batch runs."""

    def __init__(self, sessions: sessionmaker[Session], owner: str, providers: Callable[[str], Provider]) -> None:
        self._sessions = sessions
        self.owner = owner
        self._providers = providers

    # -- creating and listing ------------------------------------------------

    @database_errors
    def create(
        self,
        name: str,
        prompts: Sequence[BatchPrompt],
        models: Sequence[str],
        params: GenerationParams | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> str:
        """A new run, all its rows pending (prompts in order, each for every model); not started."""
        chosen = list(dict.fromkeys(models))
        if not chosen:
            raise InvalidInput("batch.no_models")
        if len(chosen) > MAX_MODELS:
            raise InvalidInput("batch.too_many_models", limit=MAX_MODELS)
        if not prompts:
            raise InvalidInput("batch.empty")
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidInput("batch.bad_concurrency", limit=MAX_CONCURRENCY)
        keys = [split_key(k) for k in chosen]
        run_id = new_id()
        now = utcnow()
        with self._sessions.begin() as s:
            s.add(
                BatchRun(
                    id=run_id,
                    owner=self.owner,
                    name=name.strip()[:MAX_NAME_CHARS],
                    models=chosen,
                    params=(params or GenerationParams()).as_dict(),
                    concurrency=concurrency,
                    state="stopped",
                    total=len(prompts) * len(chosen),
                    created_at=now,
                    updated_at=now,
                )
            )
            s.flush()
            rows = [
                {
                    "id": new_id(),
                    "run_id": run_id,
                    "position": position,
                    "item_id": p.item_id,
                    "provider": provider,
                    "model": model,
                    "prompt": p.prompt,
                    "system_prompt": p.system,
                    "status": "pending",
                }
                for position, p in enumerate(prompts)
                for provider, model in keys
            ]
            for start in range(0, len(rows), _INSERT_CHUNK):
                s.execute(insert(BatchRow), rows[start : start + _INSERT_CHUNK])
        return run_id

    @database_errors
    def runs(self, limit: int = 50) -> list[RunSummary]:
        """The person's runs, newest first."""
        query = (
            select(BatchRun)
            .where(BatchRun.owner == self.owner)
            .order_by(BatchRun.created_at.desc(), BatchRun.id)
            .limit(limit)
        )
        with self._sessions() as s:
            return [RunSummary(r.id, r.name, list(r.models), r.total, r.created_at) for r in s.scalars(query)]

    @database_errors
    def delete(self, run_id: str) -> None:
        self.stop(run_id)
        worker = self._worker(run_id)
        if worker is not None:
            worker.join(timeout=30)
        with self._sessions.begin() as s:
            self._run(s, run_id)
            s.execute(delete(BatchRow).where(BatchRow.run_id == run_id))
            s.execute(delete(BatchRun).where(BatchRun.id == run_id, BatchRun.owner == self.owner))

    # -- running ---------------------------------------------------------------

    @database_errors
    def start(self, run_id: str) -> None:
        """Send the run's pending rows (a new run, or one stopped or cut off: a resume)."""
        with self._sessions() as s:
            self._run(s, run_id)  # someone else's run is not found, not waited for
        with _workers_lock:
            running = _workers.get(run_id)
        if running is not None and running.alive and not running.stop_event.is_set():
            return
        if running is not None:
            running.join()  # a run being stopped: its last rows are saved before it starts again
        with self._sessions.begin() as s:
            run = self._run(s, run_id)
            if run.groq_status in GROQ_ACTIVE:  # Groq is answering these rows: not paid for twice
                raise InvalidInput("batch.groq_under_way")
            # Done with Groq's Batch API (its results merged): from now on sent request by request.
            run.groq_batch_id = run.groq_status = None
            pending = [
                PendingRow(r.id, r.provider, r.model, r.prompt, r.system_prompt)
                for r in s.execute(
                    select(BatchRow.id, BatchRow.provider, BatchRow.model, BatchRow.prompt, BatchRow.system_prompt)
                    .where(BatchRow.run_id == run_id, BatchRow.status == "pending")
                    .order_by(BatchRow.position, BatchRow.provider, BatchRow.model)
                )
            ]
            run.state = "running" if pending else "finished"
            run.error_code, run.error_values, run.updated_at = None, None, utcnow()
            params = GenerationParams(**run.params)
            concurrency = run.concurrency
        if not pending:
            return
        worker = RunWorker(self._sessions, run_id, pending, self._providers, params, concurrency, self._ended)
        with _workers_lock:
            _workers[run_id] = worker
        worker.start()

    @database_errors
    def stop(self, run_id: str) -> None:
        """No new rows start; those under way finish and are saved."""
        with self._sessions.begin() as s:
            run = self._run(s, run_id)
            if run.state == "running":
                run.state, run.updated_at = "stopped", utcnow()
        worker = self._worker(run_id)
        if worker is not None:
            worker.stop_event.set()

    @database_errors
    def retry_failed(self, run_id: str) -> int:
        """Failed rows back to pending, then the run started; how many will be sent again."""
        with self._sessions.begin() as s:
            self._run(s, run_id)
            changed = s.execute(
                update(BatchRow)
                .where(BatchRow.run_id == run_id, BatchRow.status == "failed")
                .values(status="pending", error_code=None, error_values=None, finished_at=None)
            )
            count = int(getattr(changed, "rowcount", 0) or 0)
        self.start(run_id)
        return count

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """Until this process stops sending the run (tests, command-line use)."""
        worker = self._worker(run_id)
        if worker is not None:
            worker.join(timeout)

    def _ended(self, worker: RunWorker) -> None:
        """A worker's threads are done: the run is finished, stopped, or stopped by itself."""
        try:
            with self._sessions.begin() as s:
                pending = s.scalar(
                    select(func.count()).where(BatchRow.run_id == worker.run_id, BatchRow.status == "pending")
                )
                run = s.get(BatchRun, worker.run_id)
                if run is not None:
                    run.state = "stopped" if pending else "finished"
                    if worker.halted is not None:
                        run.error_code, run.error_values = worker.halted.key, stored_values(worker.halted)
                    run.updated_at = utcnow()
        except SQLAlchemyError:
            log.warning("batch run %s: its end could not be saved; it reads as interrupted", worker.run_id)
        finally:
            with _workers_lock:
                if _workers.get(worker.run_id) is worker:
                    del _workers[worker.run_id]

    # -- reading ---------------------------------------------------------------

    @database_errors
    def progress(self, run_id: str) -> Progress:
        with self._sessions() as s:
            run = self._run(s, run_id)
            counts: dict[str, int] = {
                status: int(n)
                for status, n in s.execute(
                    select(BatchRow.status, func.count()).where(BatchRow.run_id == run_id).group_by(BatchRow.status)
                )
            }
            stored, code, values, groq_status = run.state, run.error_code, run.error_values, run.groq_status
        pending = counts.get("pending", 0)
        worker = self._worker(run_id)
        error = restore(code, values) if code else None
        state: RunState
        seconds_left: float | None = None
        waiting = 0.0
        if worker is not None and worker.alive:
            state = "stopping" if worker.stop_event.is_set() else "running"
            seconds_left = worker.seconds_left(pending) if state == "running" else None
            waiting = worker.gate.paused_for()
            error = error or worker.halted
        else:
            # Marked running, yet nobody here sends it: the process that did has ended.
            state = "interrupted" if stored == "running" else "finished" if stored == "finished" else "stopped"
        return Progress(
            run_total(counts),
            counts.get("done", 0),
            counts.get("failed", 0),
            pending,
            state,
            seconds_left,
            waiting,
            error,
            groq_status,
        )

    @database_errors
    def results(self, run_id: str, offset: int = 0, limit: int | None = None) -> list[RowResult]:
        """The run's rows in input order, each prompt's models together (by name)."""
        with self._sessions() as s:
            self._run(s, run_id)
            query = (
                select(BatchRow)
                .where(BatchRow.run_id == run_id)
                .order_by(BatchRow.position, BatchRow.provider, BatchRow.model)
                .offset(offset)
                .limit(limit)
            )
            return [_result(r) for r in s.scalars(query)]

    @database_errors
    def models_of(self, run_id: str) -> list[str]:
        with self._sessions() as s:
            return list(self._run(s, run_id).models)

    def _run(self, s: Session, run_id: str) -> BatchRun:
        run = s.scalar(select(BatchRun).where(BatchRun.id == run_id, BatchRun.owner == self.owner))
        if run is None:
            raise InvalidInput("batch.not_found")
        return run

    def _worker(self, run_id: str) -> RunWorker | None:
        with _workers_lock:
            return _workers.get(run_id)


def run_total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def _result(r: BatchRow) -> RowResult:
    return RowResult(
        position=r.position,
        item_id=r.item_id,
        model=f"{r.provider}:{r.model}",
        prompt=r.prompt,
        system_prompt=r.system_prompt,
        status=cast(RowStatus, r.status),
        content=r.content,
        finish_reason=r.finish_reason,
        error=restore(r.error_code, r.error_values) if r.error_code else None,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        seconds=r.seconds,
    )
