"""A batch's rows cost money like chat replies: priced at the table's prices (cached prompt tokens
at the cache discount), counted in the Usage page's day, model and month figures, and stopped by
the spending budgets before anything more is sent (the rows left pending with the reason).

Through the real SDK against the stand-in; storage on SQLite and PostgreSQL (``sessions``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import groq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.access import LOCAL
from chatbot.batch import BatchService, Progress
from chatbot.batch_input import BatchPrompt
from chatbot.budgets import Budgets
from chatbot.costs import Costs
from chatbot.errors import ChatError
from chatbot.groq_batch import GroqBatches
from chatbot.i18n import set_language, t, t_md
from chatbot.pricing import builtin_table, usd
from chatbot.providers import Providers
from chatbot.store.models import BatchRow, BatchRun, utcnow
from tests.pages import texts, wire
from tests.priced_by_hand import by_hand
from tests.stand_in_groq import StandInGroq, answer_naming_prompt

DEADLINE = 120.0  # a deadline, not a duration
PRICED = "openai/gpt-oss-20b"  # $0.075 input, $0.0375 cached input, $0.30 output per million
UNPRICED = "llama-3.1-8b-instant"  # not in the table: unknown, never zero


@pytest.fixture
def server() -> Iterator[StandInGroq]:
    with StandInGroq(reply=answer_naming_prompt) as s:
        s.cached_tokens = 3
        yield s


def service(sessions: sessionmaker[Session], server: StandInGroq, owner: str = "alice") -> BatchService:
    return BatchService(sessions, owner, Providers(server.api_key, server.base_url))


def ran(batches: BatchService, prompts: list[str], models: list[str]) -> tuple[str, Progress]:
    run_id = batches.create("test", [BatchPrompt(str(n), p) for n, p in enumerate(prompts)], models, concurrency=1)
    batches.start(run_id)
    batches.wait(run_id, DEADLINE)
    progress = batches.progress(run_id)
    assert progress.state in ("finished", "stopped"), progress
    return run_id, progress


def run_by_hand(sessions: sessionmaker[Session], run_id: str, model: str) -> Decimal:
    """The run's rows of ``model``, priced by hand from the stored counts."""
    with sessions() as s:
        rows = s.scalars(select(BatchRow).where(BatchRow.run_id == run_id, BatchRow.model == model)).all()
    assert rows and all(r.cached_tokens == 3 for r in rows)
    return sum((by_hand(r.model, r.prompt_tokens, r.completion_tokens, r.cached_tokens) for r in rows), Decimal(0))


def test_batch_rows_are_priced_and_counted_per_day_model_and_month(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches = service(sessions, server)
    run_id, progress = ran(batches, ["Name a fruit", "Name a tree"], [f"groq:{PRICED}", f"groq:{UNPRICED}"])
    assert (progress.done, progress.pending) == (4, 0)
    expected = run_by_hand(sessions, run_id, PRICED)
    assert expected > 0
    costs = Costs(sessions, "alice", builtin_table())
    run_cost = costs.batch_run(run_id)
    assert (run_cost.known, run_cost.unknown, run_cost.cached_tokens) == (expected, 2, 12)  # llama: unknown
    assert run_cost.usd is None  # part of it unknown: not shown as a total
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = {(r.model, r.day): r.cost for r in costs.by_day_and_model(today - timedelta(days=1))}
    day = today.date().isoformat()
    assert rows[(PRICED, day)].known == expected and rows[(PRICED, day)].unknown == 0
    assert rows[(UNPRICED, day)].unknown == 2
    month = costs.since(today.replace(day=1))
    assert (month.known, month.unknown) == (expected, 2)
    assert Costs(sessions, "bob", builtin_table()).since(None).known == 0  # never another person's
    assert Costs(sessions, "bob", builtin_table()).batch_run(run_id).known == 0


def test_a_used_up_budget_stops_a_batch_and_refuses_to_start_it_again(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches = service(sessions, server)
    first, _ = ran(batches, ["question 1"], [f"groq:{PRICED}"])
    one_row = Costs(sessions, "alice", builtin_table()).batch_run(first).known
    assert one_row > 0
    Budgets(sessions).set_limits(LOCAL, daily=str(one_row * Decimal("1.5")), monthly="")
    # The first row is sent (half the budget left); after it the budget is used up.
    run_id, progress = ran(batches, ["question 2", "question 3", "question 4"], [f"groq:{PRICED}"])
    assert (progress.done, progress.failed, progress.pending, progress.state) == (1, 0, 2, "stopped")
    assert progress.error is not None and progress.error.key == "batch.budget_day"
    assert len(server.chat_requests) == 2
    assert "the rows not sent stay pending" in t(progress.error.key, **progress.error.values)
    set_language("zh-CN")
    assert "未发送的行保持待处理" in t(progress.error.key, **progress.error.values)
    set_language("en")
    batches.start(run_id)  # continuing: refused before anything is sent
    batches.wait(run_id, DEADLINE)
    progress = batches.progress(run_id)
    assert (progress.done, progress.pending, progress.state) == (1, 2, "stopped")
    assert progress.error is not None and progress.error.key == "batch.budget_day"
    assert len(server.chat_requests) == 2
    with sessions() as s:  # the refused rows keep no time: not counted as sent by anyone
        pending = s.scalars(select(BatchRow).where(BatchRow.run_id == run_id, BatchRow.status == "pending")).all()
    assert [r.finished_at for r in pending] == [None, None]
    Budgets(sessions).set_limits(LOCAL, daily="", monthly="")  # an admin lifts it: the rest is sent
    batches.start(run_id)
    batches.wait(run_id, DEADLINE)
    assert batches.progress(run_id).state == "finished"
    assert len(server.chat_requests) == 4


def test_a_used_up_budget_refuses_to_send_a_run_through_groqs_batch_api(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches = service(sessions, server)
    first, _ = ran(batches, ["question 1"], [f"groq:{PRICED}"])
    spent = Costs(sessions, "alice", builtin_table()).batch_run(first).known
    Budgets(sessions).set_limits(LOCAL, daily=str(spent / 2), monthly="")
    run_id = batches.create("later", [BatchPrompt("2", "question 2")], [f"groq:{PRICED}"])
    client = groq.Groq(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    with pytest.raises(ChatError) as refused:
        GroqBatches(sessions, "alice", client).submit(run_id)
    assert refused.value.key == "batch.budget_day"  # said as a batch's: its rows stay pending
    assert server.files == {} and server.batches == {}  # nothing uploaded, no batch made
    assert batches.progress(run_id).pending == 1


@pytest.mark.usefixtures("english")
def test_the_batch_page_shows_what_the_run_cost(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    from tests.test_batch_page import batch_page, run_batch

    groq_server.cached_tokens = 2
    run_batch(batch_page(app), "Name a fruit\nName a tree")
    end = time.monotonic() + DEADLINE
    while "2 done, 0 failed, 0 remaining of 2" not in wire(app) and time.monotonic() < end:
        time.sleep(0.1)
        app.run()
    assert "2 done, 0 failed, 0 remaining of 2" in wire(app)
    run_id = app.query_params["run"]
    run_id = run_id[0] if isinstance(run_id, list) else run_id
    with sessions() as s:
        rows = s.scalars(select(BatchRow).where(BatchRow.run_id == run_id)).all()
        assert {r.model for r in rows} == {"openai/gpt-oss-120b"}  # the page's first model
        # $0.15 input, $0.075 cached input, $0.60 output per million tokens
        expected = sum(
            ((r.prompt_tokens or 0) - 2) * Decimal("0.15") / 1_000_000
            + 2 * Decimal("0.075") / 1_000_000
            + (r.completion_tokens or 0) * Decimal("0.60") / 1_000_000
            for r in rows
        )
    assert expected > 0
    assert t_md("cost.reply", cost=usd(Decimal(expected))) in texts(app)


def test_rows_answered_through_groqs_batch_api_cost_half(sessions: sessionmaker[Session], server: StandInGroq) -> None:
    batches = service(sessions, server)
    run_id = batches.create("api", [BatchPrompt("1", "Name a fruit")], [f"groq:{PRICED}"])
    with sessions.begin() as s:  # as chatbot.groq_batch saves a row Groq's batch answered
        s.get(BatchRun, run_id).groq_batch_id = "batch_01jh6xa7reempvjyh6n3yst2zw"  # type: ignore[union-attr]
        row = s.scalars(select(BatchRow).where(BatchRow.run_id == run_id)).one()
        row.status, row.prompt_tokens, row.completion_tokens, row.finished_at = "done", 1000, 2000, utcnow()
    # 1,000 × $0.075 + 2,000 × $0.30 per million = $0.000675, half of it through the Batch API
    costs = Costs(sessions, "alice", builtin_table())
    assert costs.batch_run(run_id).usd == Decimal("0.0003375")
    assert costs.since(None).usd == Decimal("0.0003375")
    (day,) = costs.by_day_and_model(utcnow() - timedelta(days=1))
    assert (day.model, day.cost.usd) == (PRICED, Decimal("0.0003375"))
