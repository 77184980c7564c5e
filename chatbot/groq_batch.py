"""A batch run sent through Groq's Batch API instead of request by request (groq-api-more §6).

The run's pending rows are uploaded as one JSONL file (``custom_id`` = the row's id), a Groq
batch is created on it and its id kept on the run; polling it reads the status and, once Groq is
done with it (completed, expired or cancelled), fetches the output and error files and fills the
same rows, so the table and the CSV/JSONL downloads do not change. A line Groq answered with an
error becomes a failed row with that error; a line Groq never ran (expired, cancelled) stays
pending, so Resume sends it request by request and nothing is paid for twice.

Bounds: Groq rows only (the built-in model has no batch API); a run holds at most 40,000 rows
(10,000 prompts for 4 models), under Groq's 50,000 lines a file. Results arrive within the
completion window (24 hours), at half the price of requests sent one by one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, Literal, cast

import groq
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from chatbot.budgets import BudgetReached, Budgets
from chatbot.database import database_errors
from chatbot.errors import ChatError, InvalidInput, stored_values
from chatbot.pricing import Prices
from chatbot.providers.base import GenerationParams
from chatbot.providers.groq_api import translate_error
from chatbot.store.models import BatchRow, BatchRun, utcnow

log = logging.getLogger(__name__)

GroqStatus = Literal[
    "validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"
]
# Groq is still working on these: the run's rows are neither sent here nor resubmitted.
ACTIVE: frozenset[str] = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
# These leave result files to merge (expired and cancelled ones hold what was done in time).
WITH_RESULTS: frozenset[str] = frozenset({"completed", "expired", "cancelled"})
COMPLETION_WINDOW = "24h"
ENDPOINT: Literal["/v1/chat/completions"] = "/v1/chat/completions"
MAX_LINES = 50_000  # Groq's limit for one batch file


class GroqBatches:
    """One person's runs sent through Groq's Batch API, with one SDK client (the key's)."""

    def __init__(self, sessions: sessionmaker[Session], owner: str, client: groq.Groq) -> None:
        self._sessions = sessions
        self.owner = owner
        self._client = client

    @database_errors
    def submit(self, run_id: str) -> str:
        """Upload the run's pending rows and create a Groq batch on them; its first status."""
        with self._sessions() as s:
            run = self._run(s, run_id)
            if run.groq_status in ACTIVE:
                raise InvalidInput("batch.groq_under_way")
            if run.state == "running":
                raise InvalidInput("batch.groq_while_running")
            params = GenerationParams(**run.params)
            rows = s.execute(
                select(BatchRow.id, BatchRow.provider, BatchRow.model, BatchRow.prompt, BatchRow.system_prompt)
                .where(BatchRow.run_id == run_id, BatchRow.status == "pending")
                .order_by(BatchRow.position, BatchRow.provider, BatchRow.model)
            ).all()
        if not rows:
            raise InvalidInput("batch.groq_nothing_pending")
        if any(r.provider != "groq" for r in rows):
            raise InvalidInput("batch.groq_only")
        if len(rows) > MAX_LINES:
            raise InvalidInput("batch.groq_too_many", limit=MAX_LINES)
        try:  # a used-up budget refuses before anything is uploaded, as for rows sent one by one
            Budgets(self._sessions).check(self.owner, Prices(self._sessions).table())
        except BudgetReached as exc:
            raise exc.as_batch() from None
        data = b"".join(_line(r.id, r.model, r.prompt, r.system_prompt, params) for r in rows)
        try:
            uploaded = self._client.files.create(file=("rows.jsonl", data, "application/jsonl"), purpose="batch")
            batch = self._client.batches.create(
                completion_window=COMPLETION_WINDOW, endpoint=ENDPOINT, input_file_id=str(uploaded.id)
            )
        except groq.APIError as exc:
            raise translate_error(exc, "batch") from None
        # Groq may refuse the file at once: the reason is kept now, as a later poll asks nothing.
        error = _validation_error(batch) if batch.status == "failed" else None
        with self._sessions.begin() as s:
            run = self._run(s, run_id)
            run.groq_batch_id, run.groq_status, run.updated_at = batch.id, batch.status, utcnow()
            run.error_code = error.key if error else None
            run.error_values = stored_values(error) if error else None
        return str(batch.status)

    @database_errors
    def poll(self, run_id: str) -> GroqStatus | None:
        """Groq's status of the run's batch now (None: not sent through the Batch API); once Groq
        is done with it, its results are merged into the rows (once: later polls ask nothing)."""
        with self._sessions() as s:
            run = self._run(s, run_id)
            batch_id, seen = run.groq_batch_id, run.groq_status
        if batch_id is None:
            return None
        if seen is not None and seen not in ACTIVE:
            return cast(GroqStatus, seen)
        try:
            batch = self._client.batches.retrieve(batch_id)
            status = str(batch.status)
            results: list[dict[str, Any]] = []
            if status in WITH_RESULTS:
                for file_id in (batch.output_file_id, batch.error_file_id):
                    if file_id:
                        results.extend(_records(self._client.files.content(file_id).text()))
        except groq.APIError as exc:
            raise translate_error(exc, "batch") from None
        error = _validation_error(batch) if status == "failed" else None
        with self._sessions.begin() as s:
            for record in results:
                self._merge(s, run_id, record)
            run = self._run(s, run_id)
            run.groq_status, run.updated_at = status, utcnow()
            if error is not None:
                run.error_code, run.error_values = error.key, stored_values(error)
        return cast(GroqStatus, status)

    @database_errors
    def cancel(self, run_id: str) -> GroqStatus | None:
        """Ask Groq to stop the batch; what it finished in the meantime is merged once cancelled."""
        with self._sessions() as s:
            run = self._run(s, run_id)
            batch_id, seen = run.groq_batch_id, run.groq_status
        if batch_id is None or seen not in ACTIVE:
            return cast(GroqStatus | None, seen)
        try:
            status = str(self._client.batches.cancel(batch_id).status)
        except groq.APIError as exc:
            raise translate_error(exc, "batch") from None
        with self._sessions.begin() as s:
            run = self._run(s, run_id)
            run.groq_status, run.updated_at = status, utcnow()
        return cast(GroqStatus, status)

    def _merge(self, s: Session, run_id: str, record: dict[str, Any]) -> None:
        """One output or error line into its row, if still pending (a row done otherwise stays)."""
        row_id = record.get("custom_id")
        response = record.get("response")
        if not isinstance(row_id, str) or not isinstance(response, dict):
            return  # never run (expired, cancelled): the row stays pending, to be resumed
        found = response.get("body")
        body: dict[str, Any] = found if isinstance(found, dict) else {}
        values: dict[str, Any] = {"finished_at": utcnow()}
        if response.get("status_code") == 200:
            choice = (body.get("choices") or [{}])[0]
            usage = body.get("usage") or {}
            values.update(
                status="done",
                content=str((choice.get("message") or {}).get("content") or ""),
                finish_reason=choice.get("finish_reason"),
                prompt_tokens=_int(usage.get("prompt_tokens")),
                completion_tokens=_int(usage.get("completion_tokens")),
            )
        else:
            error = _line_error(s, row_id, response.get("status_code"), body)
            values.update(status="failed", error_code=error.key, error_values=stored_values(error))
        s.execute(
            update(BatchRow)
            .where(BatchRow.id == row_id, BatchRow.run_id == run_id, BatchRow.status == "pending")
            .values(**values)
        )

    def _run(self, s: Session, run_id: str) -> BatchRun:
        run = s.scalar(select(BatchRun).where(BatchRun.id == run_id, BatchRun.owner == self.owner))
        if run is None:
            raise InvalidInput("batch.not_found")
        return run


def _line(row_id: str, model: str, prompt: str, system: str | None, params: GenerationParams) -> bytes:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    body: dict[str, Any] = {"model": model, "messages": messages}
    # The sync request's options; Groq's Batch API has no service_tier.
    options = {"temperature": params.temperature, "top_p": params.top_p, "max_completion_tokens": params.max_tokens}
    body.update({k: v for k, v in options.items() if v is not None})
    if params.reasoning_effort:
        body["reasoning_effort"] = params.reasoning_effort
    line = {"custom_id": row_id, "method": "POST", "url": ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _records(text: str) -> Iterator[dict[str, Any]]:
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            log.warning("Groq batch result line %d is not JSON; skipped (its row stays pending)", number)
            continue
        if isinstance(record, dict):
            yield record


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _line_error(s: Session, row_id: str, status: Any, body: dict[str, Any]) -> ChatError:
    """A line Groq answered with an error, said as the page says errors (no body kept)."""
    found = body.get("error")
    inner: dict[str, Any] = found if isinstance(found, dict) else {}
    code = str(inner.get("code") or inner.get("type") or "")[:80]
    if code in ("model_not_found", "model_decommissioned"):
        model = s.scalar(select(BatchRow.model).where(BatchRow.id == row_id)) or ""
        return ChatError("batch.groq_line_model_gone", {"model": model})
    return ChatError("batch.groq_line_failed", {"status": status if isinstance(status, int) else 0, "code": code})


def _validation_error(batch: Any) -> ChatError:
    """Groq refused the whole file: its first reason, by code and line."""
    errors = getattr(batch, "errors", None)
    data = getattr(errors, "data", None) if errors is not None and not isinstance(errors, list) else errors
    first: Any = (data or [None])[0]
    if isinstance(first, dict):
        code, line = first.get("code"), first.get("line")
    else:
        code, line = getattr(first, "code", None), getattr(first, "line", None)
    return ChatError("batch.groq_failed", {"code": str(code or "")[:80], "line": line if isinstance(line, int) else 0})
