"""GroqProvider through the real ``groq`` SDK, talking HTTP to the stand-in server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatbot.errors import (
    AuthenticationFailed,
    ChatError,
    ContextTooLong,
    FlexCapacity,
    ModelUnavailable,
    ProviderUnavailable,
    RateLimited,
    RequestTooLarge,
    StreamInterrupted,
)
from chatbot.i18n import catalogue, set_language, t
from chatbot.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationParams,
    RateLimits,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)
from chatbot.providers.groq_api import GroqProvider
from tests.stand_in_groq import DEFAULT_MODELS, StandInGroq, estimate_prompt_tokens, make_reply, tokenize

PLAIN = "llama-3.1-8b-instant"
REPLY = "Paris is the capital of France."
# Verbatim 429 body text from the live API (groq-api.md §7.2).
TPD_MESSAGE = (
    "Rate limit reached for model `openai/gpt-oss-120b` in organization `org_01m1ndt442evgsxeaab1qcat51` "
    "service tier `on_demand` on tokens per day (TPD): Limit 200000, Used 197117, Requested 4254. "
    "Please try again in 9m52.272s. Need more tokens? Upgrade to Dev Tier today at "
    "https://console.groq.com/settings/billing"
)


@pytest.fixture
def server() -> Iterator[StandInGroq]:
    with StandInGroq(reply=REPLY) as s:
        yield s


@pytest.fixture
def provider(server: StandInGroq) -> GroqProvider:
    return GroqProvider(server.api_key, server.base_url, timeout=10.0)


def request(model: str = PLAIN, text: str = "What is the capital of France?", **params: object) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=[ChatMessage("system", "Be brief."), ChatMessage("user", text)],
        params=GenerationParams(**params),  # type: ignore[arg-type]
    )


def collect(events: Iterator[StreamEvent]) -> list[StreamEvent]:
    return list(events)


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def raise_from_stream(provider: GroqProvider, req: ChatRequest | None = None) -> tuple[ChatError, list[StreamEvent]]:
    """Stream until the provider raises; return the error and what came before it."""
    seen: list[StreamEvent] = []
    with pytest.raises(ChatError) as info:
        for event in provider.stream_chat(req or request()):
            seen.append(event)
    return info.value, seen


def assert_clean_message(error: ChatError, server: StandInGroq) -> None:
    """What the user reads: a catalogue sentence, no raw provider JSON, no key."""
    assert error.key in catalogue("en")
    for language in ("en", "zh-CN"):
        set_language(language)
        try:
            shown = t(error.key, **error.values)
        finally:
            set_language("en")
        assert shown and shown != error.key
        assert "{" not in shown and "}" not in shown
        assert server.api_key not in shown
        assert '"type"' not in shown and "invalid_request_error" not in shown and "rate_limit_exceeded" not in shown
    assert server.api_key not in str(error)


# --------------------------------------------------------------------------- models


def test_list_models_keeps_only_chat_models_with_their_limits(provider: GroqProvider, server: StandInGroq) -> None:
    models = provider.list_models()
    ids = {m.id for m in models}
    listed = {m["id"]: m for m in DEFAULT_MODELS}
    # Speech, text-to-speech and safety classifiers are listed by /models but cannot chat.
    for gone in (
        "whisper-large-v3",
        "whisper-large-v3-turbo",
        "canopylabs/orpheus-v1-english",
        "meta-llama/llama-prompt-guard-2-22m",
        "openai/gpt-oss-safeguard-20b",
    ):
        assert gone in listed and gone not in ids
    assert {"openai/gpt-oss-120b", "openai/gpt-oss-20b", "qwen/qwen3.8-27b", PLAIN} <= ids
    for m in models:
        assert m.provider == "groq" and m.key == f"groq:{m.id}"
        assert m.context_window == listed[m.id]["context_window"]
        assert m.max_completion_tokens == listed[m.id]["max_completion_tokens"]
        assert m.owned_by == listed[m.id]["owned_by"]
    assert next(m for m in models if m.id == "openai/gpt-oss-20b").reasoning
    assert not next(m for m in models if m.id == PLAIN).reasoning


def test_list_models_skips_inactive_models(server: StandInGroq) -> None:
    server.models[0]["active"] = False
    models = GroqProvider(server.api_key, server.base_url).list_models()
    assert server.models[0]["id"] not in {m.id for m in models}


def test_list_models_is_cached(provider: GroqProvider, server: StandInGroq) -> None:
    first = provider.list_models()
    model_requests = [r for r in server.requests if r["path"].endswith("/models")]
    assert len(model_requests) == 1
    # A second call, and a second provider for the same key (another page run), ask nothing.
    assert provider.list_models() == first
    assert GroqProvider(server.api_key, server.base_url).list_models() == first
    assert len([r for r in server.requests if r["path"].endswith("/models")]) == 1


def test_list_models_with_a_wrong_key_is_an_auth_error(server: StandInGroq) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        GroqProvider("gsk_wrong_key_0123456789abcdef", server.base_url).list_models()
    assert_clean_message(info.value, server)
    assert "settings" in info.value.actions


# --------------------------------------------------------------------------- streaming


def test_stream_yields_limits_text_usage_and_finish(provider: GroqProvider, server: StandInGroq) -> None:
    events = collect(provider.stream_chat(request(temperature=0.2, top_p=0.9, max_tokens=300)))

    assert isinstance(events[0], RateLimits)
    assert events[0].limit_requests == server.limit_requests
    assert events[0].limit_tokens == server.limit_tokens
    assert events[0].remaining_requests is not None and events[0].remaining_requests < server.limit_requests
    assert text_of(events) == REPLY
    usage = [e for e in events if isinstance(e, Usage)]
    assert len(usage) == 1  # from x_groq.usage: the app does not ask for stream_options
    sent = server.chat_requests[-1]["json"]
    assert "stream_options" not in sent
    assert usage[0].completion_tokens == len(tokenize(REPLY))
    assert usage[0].prompt_tokens == estimate_prompt_tokens(sent)
    assert usage[0].completion_time is not None and usage[0].total_time is not None
    assert events[-1] == Finish("stop")

    # The parameters reach the API under Groq's names.
    assert sent["model"] == PLAIN and sent["stream"] is True
    assert (sent["temperature"], sent["top_p"], sent["max_completion_tokens"]) == (0.2, 0.9, 300)
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    assert server.chat_requests[-1]["headers"]["authorization"] == f"Bearer {server.api_key}"


def test_max_tokens_cut_finishes_with_length(provider: GroqProvider) -> None:
    events = collect(provider.stream_chat(request(max_tokens=3)))
    assert len([e for e in events if isinstance(e, TextDelta)]) == 3
    assert events[-1] == Finish("length")


def test_reasoning_streams_separately_from_the_answer(server: StandInGroq, provider: GroqProvider) -> None:
    server.reasoning = "The user asks about France. Its capital is Paris."
    events = collect(provider.stream_chat(request("openai/gpt-oss-20b")))
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == server.reasoning
    assert text_of(events) == REPLY


def test_dropped_connection_mid_stream_is_interrupted(server: StandInGroq, provider: GroqProvider) -> None:
    server.fail_next("drop", after=3)
    error, seen = raise_from_stream(provider)
    assert isinstance(error, StreamInterrupted)
    assert text_of(seen) == "".join(tokenize(REPLY)[:3])  # what came before the cut is kept
    assert "retry" in error.actions


def test_dropped_chunked_stream_is_interrupted_too() -> None:
    """Keep-alive (chunked) streams surface a drop as an httpx error, not a quiet end."""
    with StandInGroq(reply=REPLY, stream_framing="chunked") as server:
        server.fail_next("drop", after=2)
        error, seen = raise_from_stream(GroqProvider(server.api_key, server.base_url))
    assert isinstance(error, StreamInterrupted)
    assert text_of(seen) == "".join(tokenize(REPLY)[:2])


@pytest.mark.parametrize("kind", ["midstream_error", "x_groq_error"])
def test_errors_inside_a_started_stream(server: StandInGroq, provider: GroqProvider, kind: str) -> None:
    server.fail_next(kind, after=2)
    error, seen = raise_from_stream(provider)
    assert isinstance(error, StreamInterrupted)
    assert text_of(seen) == "".join(tokenize(REPLY)[:2])
    assert not any(isinstance(e, Finish) for e in seen)
    assert_clean_message(error, server)


def test_stream_ending_without_a_finish_reason_is_interrupted(server: StandInGroq, provider: GroqProvider) -> None:
    server.fail_next("no_finish")
    error, seen = raise_from_stream(provider)
    assert isinstance(error, StreamInterrupted)
    assert text_of(seen) == REPLY
    assert not any(isinstance(e, Finish) for e in seen)


def test_401_is_authentication_failed(server: StandInGroq, provider: GroqProvider) -> None:
    server.fail_next("401")
    error, seen = raise_from_stream(provider)
    assert isinstance(error, AuthenticationFailed)
    assert seen == []
    assert_clean_message(error, server)


def test_429_tokens_per_day_says_which_limit_and_when(server: StandInGroq, provider: GroqProvider) -> None:
    server.fail_next("429", message=TPD_MESSAGE, limit_type="tokens", retry_after=1, should_retry=False)
    error, _ = raise_from_stream(provider)
    assert isinstance(error, RateLimited)
    assert error.limit == "TPD"
    assert error.retry_after == pytest.approx(592.272, abs=1)
    assert error.key == "error.rate_limit_wait"
    shown = t(error.key, **error.values)
    assert "TPD" in shown and "592" in shown
    assert "org_01m1ndt442evgsxeaab1qcat51" not in shown
    assert len(server.chat_requests) == 1  # x-should-retry: false is honoured


def test_429_retry_after_header_is_used(server: StandInGroq, provider: GroqProvider) -> None:
    server.fail_next("429", window="RPM", retry_after=7, should_retry=False)
    error, _ = raise_from_stream(provider)
    assert isinstance(error, RateLimited)
    assert error.limit == "RPM"
    assert error.retry_after == pytest.approx(7, abs=0.5)


def test_a_retryable_429_is_retried_by_the_sdk(server: StandInGroq, provider: GroqProvider) -> None:
    server.fail_next("429", retry_after_ms=50)
    events = collect(provider.stream_chat(request()))
    assert text_of(events) == REPLY
    assert len(server.chat_requests) == 2


def test_413_reports_limit_and_requested_tokens() -> None:
    with StandInGroq(reply=REPLY, limit_tokens=100) as server:
        req = request(text="word " * 200)
        error, _ = raise_from_stream(GroqProvider(server.api_key, server.base_url), req)
        requested = estimate_prompt_tokens(server.chat_requests[-1]["json"])
    assert isinstance(error, RequestTooLarge)
    assert error.values == {"limit": 100, "requested": requested}
    shown = t(error.key, **error.values)
    assert "100" in shown and str(requested) in shown
    assert len(server.chat_requests) == 1  # 413 is not retried


def test_decommissioned_model_is_unavailable(provider: GroqProvider, server: StandInGroq) -> None:
    error, _ = raise_from_stream(provider, request("llama-3.3-70b-versatile"))
    assert isinstance(error, ModelUnavailable)
    assert error.key == "error.model_decommissioned"
    assert error.model == "llama-3.3-70b-versatile"
    assert "switch_model" in error.actions
    assert_clean_message(error, server)


def test_unknown_model_is_unavailable(provider: GroqProvider) -> None:
    error, _ = raise_from_stream(provider, request("no-such-model"))
    assert isinstance(error, ModelUnavailable)
    assert error.key == "error.model_not_found"


def test_context_length_exceeded(server: StandInGroq, provider: GroqProvider) -> None:
    server.fail_next("context_length_exceeded")
    error, _ = raise_from_stream(provider)
    assert isinstance(error, ContextTooLong)


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_side_failures(server: StandInGroq, provider: GroqProvider, kind: str) -> None:
    server.fail_next(kind, should_retry=False)
    error, _ = raise_from_stream(provider)
    assert isinstance(error, ProviderUnavailable)
    assert error.key == "error.server"
    assert_clean_message(error, server)


def test_flex_capacity_is_said_as_such(server: StandInGroq, provider: GroqProvider) -> None:
    """498 from the flex tier: explained with the way on (on demand), not as a server error."""
    server.fail_next("498")
    error, _ = raise_from_stream(provider)
    assert isinstance(error, FlexCapacity) and error.key == "error.flex_capacity"
    assert_clean_message(error, server)


def test_unreachable_server_is_a_connection_error() -> None:
    with StandInGroq() as server:
        key, url = server.api_key, server.base_url
    error, _ = raise_from_stream(GroqProvider(key, url, timeout=2.0))  # the port is closed now
    assert isinstance(error, ProviderUnavailable)
    assert error.key == "error.connection"


def test_closing_the_stream_closes_the_connection(server: StandInGroq, provider: GroqProvider) -> None:
    server.reply = make_reply(400)
    server.tokens_per_second = 40  # ~10 s if nobody stops it
    stream = provider.stream_chat(request())
    received = ""
    for event in stream:
        if isinstance(event, TextDelta):
            received += event.text
            if len(received) > 10:
                break
    stream.close()  # what a Stop in the UI does
    assert server.wait_for(lambda: server.closed_early >= 1, timeout=5)
    assert server.closed_early == 1
