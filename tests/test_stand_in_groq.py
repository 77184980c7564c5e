"""The stand-in Groq server, exercised through the real ``groq`` SDK over loopback HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import groq
import httpx
import pytest

from tests.stand_in_groq import DEFAULT_REPLY, StandInGroq, go_duration, make_reply, tokenize

MODEL = "openai/gpt-oss-20b"
PLAIN_MODEL = "llama-3.1-8b-instant"
USER = [{"role": "user", "content": "Say hi"}]
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")
SCRIPT = Path(__file__).with_name("stand_in_groq.py")


@pytest.fixture
def server() -> Iterator[StandInGroq]:
    with StandInGroq() as s:
        yield s


@pytest.fixture
def client(server: StandInGroq) -> Iterator[groq.Groq]:
    c = groq.Groq(api_key=server.api_key, base_url=server.base_url, timeout=10.0)
    yield c
    c.close()


def _stream(client: groq.Groq, model: str = PLAIN_MODEL, **kw: object) -> list[groq.types.chat.ChatCompletionChunk]:
    return list(client.chat.completions.create(model=model, messages=USER, stream=True, **kw))


def _content(chunks: list) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --------------------------------------------------------------------------- helpers


def test_tokenize_round_trips_and_make_reply_counts() -> None:
    for text in [DEFAULT_REPLY, "  lead and trail  ", "a\n\nb\tc!!", "", "emoji 🧪✨ ok", make_reply(500)]:
        assert "".join(tokenize(text)) == text
    assert len(tokenize(make_reply(8000))) == 8000
    assert make_reply(50) == make_reply(50)


def test_go_duration_format() -> None:
    assert go_duration(7.66) == "7.66s"
    assert go_duration(179.56) == "2m59.56s"
    assert go_duration(0.3) == "300ms"
    assert go_duration(2) == "2s"
    assert go_duration(120) == "2m0s"
    assert go_duration(3723) == "1h2m3s"
    assert go_duration(0) == "0s"


# --------------------------------------------------------------------------- models


def test_models_list_exposes_groq_extras(client: groq.Groq) -> None:
    models = {m.id: m for m in client.models.list().data}
    assert {"openai/gpt-oss-120b", "openai/gpt-oss-20b", "qwen/qwen3.8-27b", "whisper-large-v3"} <= set(models)
    assert "mixtral-8x7b-32768" not in models
    big = models["openai/gpt-oss-120b"]
    assert (big.context_window, big.max_completion_tokens, big.owned_by, big.active) == (131072, 65536, "OpenAI", True)
    assert models["qwen/qwen3.8-27b"].context_window == 131042


def test_model_retrieve_slash_and_percent_encoded(server: StandInGroq, client: groq.Groq) -> None:
    assert client.models.retrieve("openai/gpt-oss-120b").context_window == 131072
    raw = httpx.get(
        f"{server.base_url}/openai/v1/models/openai/gpt-oss-120b", headers={"Authorization": f"Bearer {server.api_key}"}
    )
    assert raw.status_code == 200 and raw.json()["id"] == "openai/gpt-oss-120b"
    with pytest.raises(groq.NotFoundError) as exc:
        client.models.retrieve("no/such-model")
    assert exc.value.body["error"]["code"] == "model_not_found"


def test_unknown_route_is_json_404(server: StandInGroq) -> None:
    r = httpx.get(f"{server.base_url}/openai/v1/nope", headers={"Authorization": f"Bearer {server.api_key}"})
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "x-ratelimit-remaining-requests" in r.headers


# --------------------------------------------------------------------------- chat: success paths


def test_non_stream_completion_shape(server: StandInGroq, client: groq.Groq) -> None:
    raw = client.chat.completions.with_raw_response.create(model=PLAIN_MODEL, messages=USER, seed=42)
    done = raw.parse()
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", done.id)
    assert re.fullmatch(r"fp_[0-9a-f]{10}", done.system_fingerprint)
    assert re.fullmatch(r"req_[0-9a-z]{26}", done.x_groq.id)
    assert raw.headers["x-request-id"] == done.x_groq.id
    assert done.x_groq.seed == 42 and done.service_tier == "on_demand"
    assert done.choices[0].message.content == DEFAULT_REPLY
    assert done.choices[0].finish_reason == "stop"
    assert done.usage.completion_tokens == len(tokenize(DEFAULT_REPLY))
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens


def test_stream_joins_to_reply_with_x_groq_usage(server: StandInGroq, client: groq.Groq) -> None:
    chunks = _stream(client)
    first, last = chunks[0], chunks[-1]
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert first.x_groq.id.startswith("req_") and first.x_groq.seed is not None
    assert _content(chunks) == DEFAULT_REPLY
    assert len({c.id for c in chunks}) == 1
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert last.choices[0].finish_reason == "stop" and last.choices[0].delta.content is None
    assert last.x_groq.usage.completion_tokens == len(tokenize(DEFAULT_REPLY))
    assert last.usage is None  # without include_usage only x_groq.usage carries it
    assert all(c.choices for c in chunks)


def test_stream_include_usage_adds_empty_choices_chunk(client: groq.Groq) -> None:
    chunks = _stream(client, extra_body={"stream_options": {"include_usage": True}})
    finish, extra = chunks[-2], chunks[-1]
    assert finish.choices[0].finish_reason == "stop"
    assert finish.usage is not None and finish.usage == finish.x_groq.usage
    assert extra.choices == [] and extra.usage.total_tokens == finish.usage.total_tokens
    assert extra.service_tier == "on_demand"


def test_chunk_tokens_and_length_cut(server: StandInGroq, client: groq.Groq) -> None:
    server.reply = make_reply(40)
    server.chunk_tokens = 4
    chunks = _stream(client, max_completion_tokens=10)
    pieces = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert len(pieces) == 3  # 10 tokens in chunks of 4
    assert _content(chunks) == "".join(tokenize(make_reply(40))[:10])
    assert chunks[-1].choices[0].finish_reason == "length"
    assert chunks[-1].x_groq.usage.completion_tokens == 10


def test_reply_callable_and_recorded_requests(server: StandInGroq, client: groq.Groq) -> None:
    server.reply = lambda body: f"I received {len(body['messages'])} messages."
    history = [{"role": "system", "content": "Be brief."}, *USER]
    done = client.chat.completions.create(model=PLAIN_MODEL, messages=history, temperature=0.2)
    assert done.choices[0].message.content == "I received 2 messages."
    req = server.chat_requests[-1]
    assert req["method"] == "POST" and req["json"]["messages"] == history
    assert req["json"]["temperature"] == 0.2 and "stream" not in req["json"]
    assert req["headers"]["authorization"] == f"Bearer {server.api_key}"
    assert req["headers"]["x-stainless-retry-count"] == "0"


def test_reasoning_streams_first_on_gpt_oss_only(server: StandInGroq, client: groq.Groq) -> None:
    server.reasoning = "Thinking it over."
    chunks = _stream(client, model=MODEL)
    reasoning = [c.choices[0].delta for c in chunks if c.choices and c.choices[0].delta.reasoning]
    assert "".join(d.reasoning for d in reasoning) == "Thinking it over."
    assert all(d.model_extra.get("channel") == "analysis" for d in reasoning)
    first_content = next(i for i, c in enumerate(chunks) if c.choices[0].delta.content)
    assert all(not c.choices[0].delta.reasoning for c in chunks[first_content:])
    assert _content(chunks) == DEFAULT_REPLY
    usage = chunks[-1].x_groq.usage
    assert usage.completion_tokens_details.reasoning_tokens == len(tokenize("Thinking it over."))
    plain = _stream(client, model=PLAIN_MODEL)
    assert not any(c.choices[0].delta.reasoning for c in plain)


def test_stream_is_paced_and_flushed_per_token(server: StandInGroq, client: groq.Groq) -> None:
    server.reply = make_reply(30)
    server.tokens_per_second = 100.0
    start = time.monotonic()
    arrivals = []
    for chunk in client.chat.completions.create(model=PLAIN_MODEL, messages=USER, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
    total = time.monotonic() - start
    assert len(arrivals) == 30
    assert arrivals[0] < 0.15  # the first token is not held back behind the rest
    assert 0.28 <= total < 2.0
    assert arrivals[-1] - arrivals[0] > 0.2


def test_chunked_framing_streams_too(server: StandInGroq, client: groq.Groq) -> None:
    server.stream_framing = "chunked"
    assert _content(_stream(client)) == DEFAULT_REPLY
    assert _content(_stream(client)) == DEFAULT_REPLY


# --------------------------------------------------------------------------- headers


def test_rate_limit_headers_on_every_response(server: StandInGroq, client: groq.Groq) -> None:
    names = [
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
        "x-request-id",
        "x-groq-region",
    ]
    first = client.chat.completions.with_raw_response.create(model=PLAIN_MODEL, messages=USER)
    second = client.chat.completions.with_raw_response.create(model=PLAIN_MODEL, messages=USER)
    for raw in (first, second):
        assert all(n in raw.headers for n in names)
        assert "retry-after" not in raw.headers
        assert GO_DURATION.match(raw.headers["x-ratelimit-reset-requests"])
        assert GO_DURATION.match(raw.headers["x-ratelimit-reset-tokens"])
    assert first.headers["x-ratelimit-limit-requests"] == "1000"
    assert first.headers["x-ratelimit-limit-tokens"] == "8000"
    assert int(first.headers["x-ratelimit-remaining-requests"]) == 999
    assert int(second.headers["x-ratelimit-remaining-requests"]) == 998
    tokens_left = [int(r.headers["x-ratelimit-remaining-tokens"]) for r in (first, second)]
    assert tokens_left[1] < tokens_left[0] < 8000

    stream = client.chat.completions.create(model=PLAIN_MODEL, messages=USER, stream=True)
    assert all(n in stream.response.headers for n in names)
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    stream.close()

    bad = groq.Groq(api_key="gsk_wrong", base_url=server.base_url)
    with pytest.raises(groq.AuthenticationError) as exc:
        bad.chat.completions.create(model=PLAIN_MODEL, messages=USER)
    assert all(n in exc.value.response.headers for n in names)


# --------------------------------------------------------------------------- errors


def test_bad_key_is_401_and_not_retried(server: StandInGroq) -> None:
    bad = groq.Groq(api_key="gsk_wrong", base_url=server.base_url)
    with pytest.raises(groq.AuthenticationError) as exc:
        bad.chat.completions.create(model=PLAIN_MODEL, messages=USER)
    assert exc.value.status_code == 401
    assert exc.value.body == {
        "error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    assert len(server.requests) == 1


def test_unknown_and_decommissioned_models(client: groq.Groq) -> None:
    with pytest.raises(groq.NotFoundError) as nf:
        client.chat.completions.create(model="no-such-model-xyz-123", messages=USER, stream=True)
    assert nf.value.body == {
        "error": {
            "message": "The model `no-such-model-xyz-123` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "code": "model_not_found",
        }
    }
    with pytest.raises(groq.BadRequestError) as gone:
        client.chat.completions.create(model="mixtral-8x7b-32768", messages=USER)
    assert gone.value.body == {
        "error": {
            "message": "The model `mixtral-8x7b-32768` has been decommissioned and is no longer supported. Please "
            "refer to https://console.groq.com/docs/deprecations for a recommendation on which model to "
            "use instead.",
            "type": "invalid_request_error",
            "code": "model_decommissioned",
        }
    }


def test_validation_errors(client: groq.Groq) -> None:
    with pytest.raises(groq.BadRequestError) as n2:
        client.chat.completions.create(model=PLAIN_MODEL, messages=USER, n=2)
    assert n2.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(groq.BadRequestError) as ctx:
        client.chat.completions.create(model=PLAIN_MODEL, messages=USER, max_completion_tokens=131072)
    assert ctx.value.body["error"]["code"] == "context_length_exceeded"
    assert ctx.value.body["error"]["message"] == "Please reduce the length of the messages or completion."


def test_request_over_tpm_is_413_and_not_retried(server: StandInGroq, client: groq.Groq) -> None:
    huge = [{"role": "user", "content": "x" * 40_000}]  # ~10000 tokens > 8000 TPM
    with pytest.raises(groq.APIStatusError) as exc:
        client.chat.completions.create(model="openai/gpt-oss-120b", messages=huge)
    assert exc.value.status_code == 413 and not isinstance(exc.value, groq.RateLimitError)
    error = exc.value.body["error"]
    assert error["type"] == "tokens" and error["code"] == "rate_limit_exceeded"
    assert "tokens per minute (TPM): Limit 8000, Requested 10000" in error["message"]
    assert len(server.chat_requests) == 1
    assert "retry-after" not in exc.value.response.headers


def test_three_429s_exhaust_sdk_retries(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next("429", times=3, retry_after_ms=10)
    with pytest.raises(groq.RateLimitError) as exc:
        client.chat.completions.create(model=PLAIN_MODEL, messages=USER)
    assert [r["headers"]["x-stainless-retry-count"] for r in server.chat_requests] == ["0", "1", "2"]
    headers = exc.value.response.headers
    assert headers["retry-after"] == "1" and headers["retry-after-ms"] == "10"
    body = exc.value.body["error"]
    assert body["type"] == "requests" and body["code"] == "rate_limit_exceeded"
    assert "on requests per minute (RPM): Limit 30" in body["message"]
    assert "Please try again in 10ms." in body["message"]
    assert server.pending_faults() == []


def test_429_tokens_window_then_recovery(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next("429", limit_type="tokens", window="TPD", retry_after_ms=5)
    done = client.chat.completions.create(model=PLAIN_MODEL, messages=USER)
    assert done.choices[0].message.content == DEFAULT_REPLY
    assert len(server.chat_requests) == 2


def test_5xx_retried_498_not(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next("503", headers={"retry-after-ms": "5"})
    assert client.chat.completions.create(model=PLAIN_MODEL, messages=USER).choices[0].message.content
    assert len(server.chat_requests) == 2

    server.fail_next("498")
    with pytest.raises(groq.APIStatusError) as exc:
        client.chat.completions.create(model=PLAIN_MODEL, messages=USER, service_tier="flex")
    assert exc.value.status_code == 498 and "`flex` tier capacity exceeded" in exc.value.body["error"]["message"]
    assert len(server.chat_requests) == 3

    server.fail_next("500", should_retry=False)
    with pytest.raises(groq.InternalServerError):
        client.chat.completions.create(model=PLAIN_MODEL, messages=USER)
    assert len(server.chat_requests) == 4


def test_status_faults_use_request_model(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next("decommissioned")
    server.fail_next("model_not_found")
    server.fail_next("context_length_exceeded")
    server.fail_next("401")
    server.fail_next("413")
    with pytest.raises(groq.BadRequestError, match="`openai/gpt-oss-20b` has been decommissioned"):
        client.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(groq.NotFoundError, match="`openai/gpt-oss-20b` does not exist"):
        client.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(groq.BadRequestError, match="context_length_exceeded"):
        client.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(groq.AuthenticationError):
        client.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(groq.APIStatusError, match="Request too large"):
        client.chat.completions.create(model=MODEL, messages=USER)
    assert len(server.chat_requests) == 5


# --------------------------------------------------------------------------- stream faults


def test_midstream_error_raises_api_error(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next(
        "midstream_error",
        after=2,
        error={"message": "Failed to call a function.", "type": "invalid_request_error", "code": "tool_use_failed"},
    )
    seen = []
    with pytest.raises(groq.APIError) as exc:
        for chunk in client.chat.completions.create(model=PLAIN_MODEL, messages=USER, stream=True):
            seen.append(chunk)
    assert not isinstance(exc.value, groq.APIStatusError)
    assert exc.value.body["code"] == "tool_use_failed"  # mid-stream: body is the inner error object
    assert _content(seen) == "".join(tokenize(DEFAULT_REPLY)[:2])
    assert len(server.chat_requests) == 1  # mid-stream errors are never retried


def test_midstream_error_as_named_event(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next("midstream_error", after=0, as_event=True)
    with pytest.raises(groq.APIError, match="stream was interrupted"):
        _stream(client)


def test_x_groq_error_chunk_is_yielded(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next("x_groq_error", after=1, message="upstream stopped")
    chunks = _stream(client)
    assert chunks[-1].x_groq.error == "upstream stopped"
    assert not any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_drop_ends_stream_quietly(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next("drop", after=3)
    chunks = _stream(client)
    assert _content(chunks) == "".join(tokenize(DEFAULT_REPLY)[:3])
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_no_finish_sends_done_without_finish_reason(server: StandInGroq, client: groq.Groq) -> None:
    server.fail_next("no_finish")
    chunks = _stream(client)
    assert _content(chunks) == DEFAULT_REPLY
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_hang_trips_client_timeout(server: StandInGroq) -> None:
    server.fail_next("hang", seconds=5)
    impatient = groq.Groq(api_key=server.api_key, base_url=server.base_url, timeout=0.3, max_retries=0)
    start = time.monotonic()
    with pytest.raises(groq.APITimeoutError):
        impatient.chat.completions.create(model=PLAIN_MODEL, messages=USER)
    assert time.monotonic() - start < 2


def test_client_close_counts_closed_early(server: StandInGroq, client: groq.Groq) -> None:
    server.reply = make_reply(400)
    server.tokens_per_second = 200.0  # ~2 s of tokens; we leave after the first
    stream = client.chat.completions.create(model=PLAIN_MODEL, messages=USER, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()
    assert server.wait_for(lambda: server.closed_early == 1, timeout=1.5)


def test_finished_stream_is_not_closed_early(server: StandInGroq, client: groq.Groq) -> None:
    _stream(client)
    time.sleep(0.05)
    assert server.closed_early == 0


def test_fail_next_rejects_unknown_kind(server: StandInGroq) -> None:
    with pytest.raises(ValueError):
        server.fail_next("teapot")


# --------------------------------------------------------------------------- CLI


def _spawn_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE, text=True)


def test_cli_prints_ready_and_serves() -> None:
    proc = _spawn_cli("--port", "0", "--tokens-per-second", "2000", "--reply-tokens", "50", "--api-key", "gsk_cli")
    try:
        line = proc.stdout.readline().split()
        assert line[0] == "READY" and line[2] == "gsk_cli"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", line[1])
        client = groq.Groq(api_key=line[2], base_url=line[1])
        text = _content(list(client.chat.completions.create(model=PLAIN_MODEL, messages=USER, stream=True)))
        assert text == make_reply(50)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_cli_exits_when_parent_dies() -> None:
    # The parent starts the server, reports its pid and exits at once.
    launcher = textwrap.dedent(f"""
        import subprocess, sys
        p = subprocess.Popen([sys.executable, {str(SCRIPT)!r}], stdout=subprocess.PIPE, text=True)
        print(p.pid, p.stdout.readline().strip(), flush=True)
    """)
    out = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=10).stdout
    pid_text, ready = out.split(" ", 1)
    assert ready.startswith("READY ")
    pid = int(pid_text)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # an exited but unreaped orphan is a zombie: it no longer serves
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_enforced_rate_limits_answer_429(server: StandInGroq) -> None:
    server.enforce_rate_limits = True
    server.limit_requests = 2
    client = groq.Groq(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    for _ in range(2):
        client.chat.completions.create(model=PLAIN_MODEL, messages=USER)
    with pytest.raises(groq.RateLimitError) as exc:
        client.chat.completions.create(model=PLAIN_MODEL, messages=USER)
    assert "requests per day (RPD): Limit 2, Used 2, Requested 1" in exc.value.body["error"]["message"]
    assert exc.value.response.headers["retry-after"] == "43200"
    assert exc.value.response.headers["x-ratelimit-remaining-requests"] == "0"
