"""Batch runs: prompts in, replies out, through the real groq SDK against the stand-in.

Storage tests run on SQLite and PostgreSQL (the ``sessions`` fixture). Waits are on conditions
with generous deadlines; the stand-in counts the requests it received and how many were under
way at once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from chatbot import batch_export
from chatbot.batch import BatchService, Progress
from chatbot.batch_input import MAX_PROMPTS, BatchPrompt, from_file, from_text
from chatbot.errors import ChatError, InvalidInput
from chatbot.i18n import set_language, t
from chatbot.providers import Providers
from chatbot.providers.base import GenerationParams
from chatbot.store.models import BatchRun
from tests.conftest import ROOT
from tests.stand_in_groq import StandInGroq, answer_naming_prompt

MODEL = "groq:llama-3.1-8b-instant"
OTHER = "groq:openai/gpt-oss-20b"
DEADLINE = 120.0  # a deadline, not a duration: runs end in seconds on a quiet machine


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def server() -> Iterator[StandInGroq]:
    with StandInGroq(reply=answer_naming_prompt) as s:
        yield s


def service(sessions: sessionmaker[Session], server: StandInGroq, owner: str = "alice") -> BatchService:
    return BatchService(sessions, owner, Providers(server.api_key, server.base_url))


def prompts(n: int, text: str = "question") -> list[BatchPrompt]:
    return [BatchPrompt(str(i + 1), f"{text} {i + 1}") for i in range(n)]


def until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.02)
    assert condition(), f"not within {deadline} s: {what}"


def finished(batches: BatchService, run_id: str) -> Progress:
    batches.wait(run_id, DEADLINE)
    progress = batches.progress(run_id)
    assert progress.state in ("finished", "stopped"), progress
    return progress


def sent_prompts(server: StandInGroq, start: int = 0) -> list[str]:
    """What the requests from the ``start``-th on asked (one cut off by a killed sender has no body)."""
    return [r["json"]["messages"][-1]["content"] for r in server.chat_requests[start:] if r["json"]]


def message(error: ChatError, language: str = "en") -> str:
    set_language(language)
    return t(error.key, **error.values)


# --------------------------------------------------------------------------- reading prompts


def test_pasted_text_is_one_prompt_a_line_blank_lines_skipped() -> None:
    got = from_text("What is 2+2?\n\n  Name a colour.  \r\n\nSay hi")
    assert [(p.item_id, p.prompt) for p in got] == [("1", "What is 2+2?"), ("3", "Name a colour."), ("5", "Say hi")]


def test_a_csv_gives_prompt_system_and_id_columns_whatever_their_case_and_separator() -> None:
    data = '\ufeffID;Prompt;System\nq1;Translate: bonjour;Answer in English\nq2;"Two; lines\nhere";\n'.encode()
    got = from_file("questions.csv", data)
    assert got == [
        BatchPrompt("q1", "Translate: bonjour", "Answer in English"),
        BatchPrompt("q2", "Two; lines\nhere", None),
    ]


def test_a_jsonl_file_gives_prompts_with_optional_system_and_id() -> None:
    data = b'{"prompt": "Hi", "id": 7}\n\n{"prompt": "Bye", "system": "Be short"}\n'
    assert from_file("p.jsonl", data) == [BatchPrompt("7", "Hi"), BatchPrompt("2", "Bye", "Be short")]


@pytest.mark.parametrize(
    ("name", "data", "key", "says"),
    [
        ("p.csv", b"question,answer\nWhat?,x\n", "batch.no_prompt_column", "question, answer"),
        ("p.csv", b"", "batch.empty", "empty"),
        ("p.jsonl", b"\n\n", "batch.empty", "empty"),
        ("p.csv", "prompt\nCafé\n".encode("latin-1"), "batch.not_utf8", "UTF-8"),
        ("p.jsonl", b'{"prompt": "ok"}\n{"prompt": \n', "batch.bad_jsonl", "Line 2"),
        ("p.jsonl", b'{"text": "no prompt"}\n', "batch.jsonl_no_prompt", "Line 1"),
        ("p.csv", b"id,prompt\na,x\na,y\n", "batch.duplicate_id", "a"),
        ("p.xlsx", b"PK\x03\x04", "batch.unknown_format", "p.xlsx"),
        ("p.csv", b"prompt\n" + b"x" * 20_001 + b"\n", "batch.prompt_too_long", "row 2"),
        ("p.csv", b"prompt\n" + b"x\n" * (11 * 1024 * 1024 // 2), "batch.file_too_large", "10 MB"),
    ],
)
def test_a_bad_file_is_refused_whole_with_a_clear_message_in_both_languages(
    name: str, data: bytes, key: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        from_file(name, data)
    assert refused.value.key == key
    assert says in message(refused.value)
    chinese = message(refused.value, "zh-CN")
    assert chinese != message(refused.value) and any("\u4e00" <= c <= "\u9fff" for c in chinese)


def test_100000_rows_are_refused_with_the_limit_said() -> None:
    data = ("prompt\n" + "".join(f"question {n}\n" for n in range(100_000))).encode()
    with pytest.raises(InvalidInput) as refused:
        from_file("big.csv", data)
    assert refused.value.key == "batch.too_many"
    assert f"{MAX_PROMPTS:,}" in message(refused.value) and f"{MAX_PROMPTS:,}" in message(refused.value, "zh-CN")


# --------------------------------------------------------------------------- running


def test_a_batch_sends_every_prompt_to_every_model_and_saves_replies_with_usage(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches = service(sessions, server)
    given = [BatchPrompt("a", "Name a fruit", "Answer in one word"), BatchPrompt("b", "Name a tree")]
    run_id = batches.create("test", given, [MODEL, OTHER], GenerationParams(temperature=0.2, max_tokens=50))
    batches.start(run_id)
    progress = finished(batches, run_id)
    assert (progress.total, progress.done, progress.failed, progress.pending) == (4, 4, 0, 0)
    assert progress.state == "finished"
    rows = batches.results(run_id)
    assert [(r.item_id, r.model, r.content) for r in rows] == [
        ("a", m, "Answer to Name a fruit") for m in (MODEL, OTHER)
    ] + [("b", m, "Answer to Name a tree") for m in (MODEL, OTHER)]
    assert all(r.prompt_tokens and r.completion_tokens and r.finish_reason == "stop" for r in rows)
    bodies = [r["json"] for r in server.chat_requests]
    assert sorted(b["model"] for b in bodies) == sorted(["llama-3.1-8b-instant", "openai/gpt-oss-20b"] * 2)
    assert all(b["temperature"] == 0.2 and b["max_completion_tokens"] == 50 for b in bodies)
    fruit = [b for b in bodies if b["messages"][-1]["content"] == "Name a fruit"]
    assert all(b["messages"][0] == {"role": "system", "content": "Answer in one word"} for b in fruit)


def test_no_more_requests_are_under_way_than_the_concurrency_chosen(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    server.tokens_per_second = 40  # each reply takes a while, so requests overlap
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(12), [MODEL], concurrency=3)
    batches.start(run_id)
    assert finished(batches, run_id).done == 12
    assert server.peak_chats_in_flight == 3
    assert len(server.chat_requests) == 12


def test_a_429_is_waited_out_for_its_retry_after_and_the_row_is_sent_again(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    server.fail_next("429", retry_after=2, window="RPM")
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(3), [MODEL], concurrency=1)
    batches.start(run_id)
    progress = finished(batches, run_id)
    assert (progress.done, progress.failed) == (3, 0)
    times = [r["time"] for r in server.chat_requests]
    assert sent_prompts(server) == ["question 1", "question 1", "question 2", "question 3"]
    assert times[1] - times[0] >= 2.0  # the retry-after Groq asked for, not the SDK's short backoff


@pytest.mark.sqlite_only
def test_the_pace_follows_the_tokens_per_minute_groq_reports_so_no_request_is_refused(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    # 6,000 tokens a minute; 13 prompts of ~500 tokens (about 6,600 with the replies): the last
    # ones must wait for the bucket to refill, which the headers of each reply tell.
    server.limit_tokens = 6000
    server.enforce_rate_limits = True
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(13, "x" * 2000), [MODEL], GenerationParams(max_tokens=20), concurrency=4)
    batches.start(run_id)
    progress = finished(batches, run_id)
    assert (progress.done, progress.failed) == (13, 0)
    assert server.answered_429 == 0
    assert len(server.chat_requests) == 13


def test_a_model_that_no_longer_exists_fails_its_rows_after_one_request_the_others_finish(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(4), [MODEL, "groq:no-such-model"], concurrency=1)
    batches.start(run_id)
    progress = finished(batches, run_id)
    assert (progress.done, progress.failed) == (4, 4)
    gone = [r for r in batches.results(run_id) if r.model == "groq:no-such-model"]
    assert {r.error.key for r in gone if r.error} == {"error.model_not_found"}
    assert "no-such-model" in message(gone[0].error)  # type: ignore[arg-type]
    assert [r["json"]["model"] for r in server.chat_requests].count("no-such-model") == 1
    # Five requests reached Groq; the three rows failed without one do not count toward a budget.
    from chatbot.quota import Limits
    from tests.test_quota import ask, chat_for, refused

    refused(chat_for(sessions, server, "alice", Limits(0, 5, 0, 0)), "Five are used: refused")
    ask(chat_for(sessions, server, "alice", Limits(0, 6, 0, 0)), "The sixth request of the day")


def test_stop_then_resume_sends_only_the_rows_not_done(sessions: sessionmaker[Session], server: StandInGroq) -> None:
    server.tokens_per_second = 40
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(8), [MODEL], concurrency=2)
    batches.start(run_id)
    until(lambda: batches.progress(run_id).done >= 2, "two rows done")
    batches.stop(run_id)
    stopped = finished(batches, run_id)
    assert stopped.state == "stopped" and stopped.pending > 0
    assert len(server.chat_requests) == stopped.done  # the requests under way were finished and kept
    before = set(sent_prompts(server))
    batches.start(run_id)
    progress = finished(batches, run_id)
    assert (progress.done, progress.state) == (8, "finished")
    assert len(server.chat_requests) == 8
    assert set(sent_prompts(server)[len(before) :]) == {f"question {n}" for n in range(1, 9)} - before


CRASHING_RUN = """
import sys, time
from chatbot.batch import BatchService
from chatbot.providers import Providers
from chatbot.store.db import open_database
url, key, base, run_id = sys.argv[1:5]
_, sessions = open_database(url)
BatchService(sessions, "alice", Providers(key, base)).start(run_id)
time.sleep(3600)
"""


def test_a_crashed_run_resumes_without_sending_finished_rows_again(
    sessions: sessionmaker[Session], server: StandInGroq, db_url: str
) -> None:
    server.tokens_per_second = 40
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(10), [MODEL], concurrency=2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RUN, db_url, server.api_key, server.base_url, run_id], env=env, cwd=ROOT
    )
    try:
        until(lambda: batches.progress(run_id).done >= 3, "three rows done in the other process")
    finally:
        worker.kill()  # a crash: no Stop, no clean-up
        worker.wait(timeout=30)
    crashed = batches.progress(run_id)
    assert crashed.state == "interrupted" and crashed.pending > 0
    finished_rows = {r.prompt for r in batches.results(run_id) if r.status == "done"}
    # The killed sender's requests under way are over (the stand-in notices the dropped sockets).
    assert server.wait_for(lambda: server.chats_in_flight == 0, timeout=DEADLINE)
    sent_before = len(server.chat_requests)
    batches.start(run_id)
    progress = finished(batches, run_id)
    assert (progress.done, progress.failed, progress.state) == (10, 0, "finished")
    resent = sent_prompts(server, sent_before)
    assert len(resent) == crashed.pending
    assert not finished_rows & set(resent)


def test_each_person_sees_and_runs_only_their_own_batches(sessions: sessionmaker[Session], server: StandInGroq) -> None:
    alice = service(sessions, server, "alice")
    bob = service(sessions, server, "bob")
    run_id = alice.create("alice's", prompts(2), [MODEL])
    assert [r.id for r in alice.runs()] == [run_id]
    assert bob.runs() == []
    for attempt in (bob.progress, bob.results, bob.start, bob.stop, bob.delete, bob.retry_failed):
        with pytest.raises(InvalidInput) as refused:
            attempt(run_id)
        assert refused.value.key == "batch.not_found"
    assert server.chat_requests == []
    assert alice.progress(run_id).pending == 2


def test_a_run_left_running_by_a_dead_server_reads_as_interrupted(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(2), [MODEL])
    with sessions.begin() as s:
        s.execute(update(BatchRun).where(BatchRun.id == run_id).values(state="running"))
    assert batches.progress(run_id).state == "interrupted"


# --------------------------------------------------------------------------- results as files


def test_results_download_as_csv_with_formulas_neutralised_and_as_jsonl(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    batches = service(sessions, server)
    given = [BatchPrompt("f1", "=1+1"), BatchPrompt("f2", "中文问题")]
    run_id = batches.create("test", given, [MODEL, "groq:no-such-model"], concurrency=1)
    batches.start(run_id)
    finished(batches, run_id)
    rows = batches.results(run_id)

    table = list(csv.DictReader(io.StringIO(batch_export.to_csv(rows).decode("utf-8").removeprefix("\ufeff"))))
    assert [(r["id"], r["model"], r["status"]) for r in table] == [
        ("f1", MODEL, "done"),
        ("f1", "groq:no-such-model", "failed"),
        ("f2", MODEL, "done"),
        ("f2", "groq:no-such-model", "failed"),
    ]
    assert table[0]["prompt"] == "'=1+1" and table[0]["reply"] == "Answer to =1+1"
    assert table[2]["prompt"] == "中文问题" and int(table[2]["completion_tokens"]) > 0
    assert table[1]["error_code"] == "error.model_not_found" and "no-such-model" in table[1]["error"]

    lines = [json.loads(line) for line in batch_export.to_jsonl(rows).decode("utf-8").splitlines()]
    assert [(r["id"], r["status"]) for r in lines] == [(r["id"], r["status"]) for r in table]
    assert lines[0]["prompt"] == "=1+1" and lines[0]["reply"] == "Answer to =1+1"
    assert lines[1]["reply"] is None and lines[1]["error_code"] == "error.model_not_found"


def test_retry_failed_sends_only_the_failed_rows_again(sessions: sessionmaker[Session], server: StandInGroq) -> None:
    server.fail_next("500", times=6)  # the SDK's own retries (3 attempts) for two rows
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(4), [MODEL], concurrency=1)
    batches.start(run_id)
    first = finished(batches, run_id)
    assert (first.done, first.failed) == (2, 2)
    sent = len(server.chat_requests)
    assert batches.retry_failed(run_id) == 2
    again = finished(batches, run_id)
    assert (again.done, again.failed) == (4, 0)
    assert len(server.chat_requests) == sent + 2


def test_a_persons_budget_on_the_shared_key_stops_a_batch_and_counts_its_rows(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    from chatbot.quota import Budget, Limits
    from tests.test_quota import chat_for, refused

    budget = Budget(sessions, "alice", Limits(requests_per_minute=0, requests_per_day=2, tokens_per_minute=0))
    batches = BatchService(sessions, "alice", Providers(server.api_key, server.base_url, budget))
    run_id = batches.create("test", prompts(3), [MODEL], concurrency=1)
    batches.start(run_id)
    progress = finished(batches, run_id)
    assert (progress.done, progress.failed, progress.pending, progress.state) == (2, 0, 1, "stopped")
    assert progress.error is not None and progress.error.key == "error.quota_requests_day"
    assert len(server.chat_requests) == 2  # the third was refused here, before Groq
    chat = chat_for(sessions, server, "alice", Limits(0, 2, 0, 0))
    assert refused(chat, "And now a chat message?").key == "error.quota_requests_day"  # the same budget
    assert len(server.chat_requests) == 2


# --------------------------------------------------------------------------- the pace


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pace_waits_for_the_tokens_per_minute_bucket_the_headers_describe() -> None:
    from chatbot.batch_pacing import RateGate
    from chatbot.providers.base import RateLimits

    clock = FakeClock()
    gate = RateGate(clock)
    assert gate.reserve(500) == 0.0  # nothing known yet: the first request goes
    gate.done(500, RateLimits(limit_tokens=6000, remaining_tokens=700, limit_requests=1000, remaining_requests=900))
    assert gate.reserve(500) == 0.0  # 700 left
    wait = gate.reserve(500)  # 200 left; 300 more refill at 100 a second
    assert wait == pytest.approx(3.0)
    clock.now += wait
    assert gate.reserve(500) == 0.0


def test_a_requests_per_minute_429_teaches_the_pace_and_a_used_up_day_asks_for_a_long_wait() -> None:
    from chatbot.batch_pacing import RateGate
    from chatbot.providers.base import RateLimits

    clock = FakeClock()
    gate = RateGate(clock)
    for _ in range(3):  # three admitted in this minute, then Groq says RPM
        assert gate.reserve(10) == 0.0
        gate.done(10, RateLimits(limit_requests=1000, remaining_requests=500))
        clock.now += 1
    gate.limited("RPM", 2.0)
    assert gate.paused_for() == pytest.approx(2.0)
    clock.now += 60  # the pause and the minute are over: three more may go, the fourth waits
    assert [gate.reserve(10) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert gate.reserve(10) == pytest.approx(60.0)

    day = RateGate(clock)
    day.reserve(10)
    day.done(10, RateLimits(limit_requests=1000, remaining_requests=0))
    assert day.reserve(10) == pytest.approx(86.4)  # one request's refill of a 1,000-a-day limit


def test_groq_going_away_mid_run_stops_it_and_resuming_sends_only_the_rest(
    sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    server.tokens_per_second = 40
    batches = service(sessions, server)
    run_id = batches.create("test", prompts(10), [MODEL], concurrency=2)
    batches.start(run_id)
    until(lambda: batches.progress(run_id).done >= 3, "three rows done")
    server.stop()  # Groq unreachable: the rows under way are cut, the rest cannot be sent
    stopped = finished(batches, run_id)
    assert stopped.state == "stopped" and stopped.pending > 0
    assert stopped.error is not None and stopped.error.key == "error.connection"
    assert "could not be reached" in message(stopped.error)
    done_before = {r.prompt for r in batches.results(run_id) if r.status == "done"}

    again = StandInGroq(reply=server.reply, api_key=server.api_key, port=server.port)
    with again:
        batches.retry_failed(run_id)  # with the replies cut while streaming, if any
        progress = finished(batches, run_id)
        assert (progress.done, progress.failed, progress.state) == (10, 0, "finished")
        assert not done_before & set(sent_prompts(again))
        assert len(again.chat_requests) == 10 - len(done_before)
