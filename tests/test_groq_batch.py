"""A batch run sent through Groq's Batch API: through the real groq SDK against the stand-in's
/files and /batches (groq-api-more §6), on SQLite and PostgreSQL (the ``sessions`` fixture)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import groq
import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot import batch_export
from chatbot.batch import BatchService
from chatbot.errors import ChatError
from chatbot.groq_batch import GroqBatches
from chatbot.i18n import set_language, t
from chatbot.providers import Providers
from chatbot.providers.base import GenerationParams
from tests.stand_in_groq import StandInGroq, answer_naming_prompt
from tests.test_batch import prompts

MODEL = "groq:llama-3.1-8b-instant"
DEADLINE = 120.0


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def server() -> Iterator[StandInGroq]:
    with StandInGroq(reply=answer_naming_prompt) as s:
        yield s


def services(sessions: sessionmaker[Session], server: StandInGroq) -> tuple[BatchService, GroqBatches]:
    client = groq.Groq(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    return (
        BatchService(sessions, "alice", Providers(server.api_key, server.base_url)),
        GroqBatches(sessions, "alice", client),
    )


def uploaded_lines(server: StandInGroq) -> list[dict[str, object]]:
    [found] = [f for f in server.files.values() if f["meta"]["purpose"] == "batch"]
    return [json.loads(line) for line in found["content"].splitlines()]


def the_batch_id(server: StandInGroq) -> str:
    [batch_id] = server.batches
    return batch_id


def message(error: ChatError, language: str) -> str:
    set_language(language)
    return t(error.key, **error.values)


def test_a_run_sent_through_groqs_batch_api_fills_its_rows_with_replies_and_usage(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches, through_groq = services(sessions, server)
    run_id = batches.create("n", prompts(5), [MODEL], GenerationParams(temperature=0.2, max_tokens=100))
    assert through_groq.submit(run_id) == "validating"
    assert batches.progress(run_id).groq_status == "validating"

    # One JSONL line a pending row, its custom_id the row's id, the sync request's body.
    lines = uploaded_lines(server)
    assert [line["body"]["messages"][-1]["content"] for line in lines] == [f"question {n}" for n in range(1, 6)]  # type: ignore[index]
    assert {line["method"] for line in lines} == {"POST"} and {line["url"] for line in lines} == {
        "/v1/chat/completions"
    }
    assert lines[0]["body"]["temperature"] == 0.2 and lines[0]["body"]["max_completion_tokens"] == 100  # type: ignore[index]

    assert through_groq.poll(run_id) == "completed"
    rows = batches.results(run_id)
    assert [r.status for r in rows] == ["done"] * 5
    assert [r.content for r in rows] == [f"Answer to question {n}" for n in range(1, 6)]
    assert all(r.prompt_tokens and r.completion_tokens for r in rows)
    progress = batches.progress(run_id)
    assert (progress.done, progress.pending, progress.groq_status) == (5, 0, "completed")
    assert server.chat_requests == []  # nothing sent request by request
    assert len(server.batch_lines) == 5

    # Merged once: polling again asks Groq nothing and changes nothing.
    asked = len(server.requests)
    assert through_groq.poll(run_id) == "completed" and len(server.requests) == asked
    table = list(csv.DictReader(io.StringIO(batch_export.to_csv(batches.results(run_id)).decode("utf-8-sig"))))
    assert [r["reply"] for r in table] == [f"Answer to question {n}" for n in range(1, 6)]


def test_a_line_groq_answers_with_an_error_becomes_a_failed_row_with_that_error(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches, through_groq = services(sessions, server)
    run_id = batches.create("n", prompts(2), [MODEL, "groq:no-such-model"])
    through_groq.submit(run_id)
    assert through_groq.poll(run_id) == "completed"
    rows = {r.model: r for r in batches.results(run_id) if r.item_id == "1"}
    assert rows[MODEL].status == "done"
    gone = rows["groq:no-such-model"]
    assert gone.status == "failed" and gone.error is not None and gone.content is None
    assert "no-such-model" in message(gone.error, "en") and "does not exist" in message(gone.error, "en")
    assert "no-such-model" in message(gone.error, "zh-CN") and "不存在" in message(gone.error, "zh-CN")
    progress = batches.progress(run_id)
    assert (progress.done, progress.failed, progress.pending) == (2, 2, 0)


def test_cancelling_leaves_the_rows_groq_did_not_answer_pending_and_resume_sends_only_them(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    server.batch_hold = True  # Groq takes its time: the batch stays in progress until told
    batches, through_groq = services(sessions, server)
    run_id = batches.create("n", prompts(3), [MODEL])
    through_groq.submit(run_id)
    assert through_groq.poll(run_id) == "in_progress"
    # While Groq holds the rows, they are not sent again request by request.
    with pytest.raises(ChatError) as refused:
        batches.start(run_id)
    assert refused.value.key == "batch.groq_under_way" and "cancel" in message(refused.value, "en")
    assert "取消" in message(refused.value, "zh-CN")
    with pytest.raises(ChatError) as twice:
        through_groq.submit(run_id)
    assert twice.value.key == "batch.groq_under_way"

    assert through_groq.cancel(run_id) == "cancelling"
    assert server.batches[the_batch_id(server)]["status"] == "cancelling"
    assert through_groq.poll(run_id) == "cancelled"
    assert batches.progress(run_id).pending == 3 and server.batch_lines == []

    batches.start(run_id)
    batches.wait(run_id, DEADLINE)
    assert batches.progress(run_id).done == 3
    assert sorted(r["json"]["messages"][-1]["content"] for r in server.chat_requests) == [
        "question 1",
        "question 2",
        "question 3",
    ]


def test_an_expired_batch_keeps_what_groq_finished_and_resume_sends_only_the_rest(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    server.batch_hold = True
    batches, through_groq = services(sessions, server)
    run_id = batches.create("n", prompts(4), [MODEL])
    through_groq.submit(run_id)
    assert through_groq.poll(run_id) == "in_progress"
    server.expire_batch(the_batch_id(server), answered=2)  # the window passed with two answered
    assert through_groq.poll(run_id) == "expired"
    assert [r.status for r in batches.results(run_id)] == ["done", "done", "pending", "pending"]
    set_language("zh-CN")
    assert "过期" in t("batch.groq.status.expired")

    batches.start(run_id)
    batches.wait(run_id, DEADLINE)
    assert [r.status for r in batches.results(run_id)] == ["done"] * 4
    sent = sorted(r["json"]["messages"][-1]["content"] for r in server.chat_requests)
    assert sent == ["question 3", "question 4"]
    assert len(server.batch_lines) == 2


def test_only_groq_models_go_through_the_batch_api_and_nothing_is_uploaded_otherwise(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches, through_groq = services(sessions, server)
    run_id = batches.create("n", prompts(1), [MODEL, "local:smollm2"])
    with pytest.raises(ChatError) as refused:
        through_groq.submit(run_id)
    assert refused.value.key == "batch.groq_only" and "built-in" in message(refused.value, "en")
    assert "内置模型" in message(refused.value, "zh-CN")
    assert server.files == {} and server.batches == {}
    assert batches.progress(run_id).groq_status is None


def test_a_file_groq_refuses_fails_the_batch_with_the_reason_and_its_rows_can_be_sent_one_by_one(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    server.batch_validation_error = "invalid_method"
    batches, through_groq = services(sessions, server)
    run_id = batches.create("n", prompts(2), [MODEL])
    assert through_groq.submit(run_id) == "failed"
    assert through_groq.poll(run_id) == "failed"
    progress = batches.progress(run_id)
    assert progress.groq_status == "failed" and progress.pending == 2 and progress.error is not None
    assert "invalid_method" in message(progress.error, "en") and "line 1" in message(progress.error, "en")
    assert "第 1 行" in message(progress.error, "zh-CN")
    assert server.batch_lines == []

    batches.start(run_id)  # nothing with Groq any more: sent request by request
    batches.wait(run_id, DEADLINE)
    progress = batches.progress(run_id)
    assert (progress.done, progress.groq_status, progress.error) == (2, None, None)
    assert len(server.chat_requests) == 2
