"""Groq through the official ``groq`` SDK.

Named ``groq_api`` so that ``import groq`` inside this package always means the SDK.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import groq
import httpx

from chatbot import config
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
from chatbot.images import data_url
from chatbot.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationParams,
    ModelInfo,
    RateLimits,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)
from chatbot.tools import from_executed

MODELS_TTL_SECONDS = 300.0
# The SDK retries a 429 by itself, waiting retry-after when it is at most 60 s and backing off
# 0.5-1 s otherwise. Only waits nobody notices are left to it: a longer one is shown to the
# user with a countdown (the chat page retries once by itself), and a daily limit ("try again
# in 9m52s", retry-after > 60) would only burn the SDK's retries and the user's requests.
SDK_429_MAX_WAIT = 1.0
# Speech, TTS and safety classifiers are listed by /models but cannot chat.
_NOT_CHAT = re.compile(r"whisper|tts|orpheus|playai|guard|safeguard|distil-whisper", re.I)
_REASONING = re.compile(r"gpt-oss|qwen3|deepseek-r1|qwq|minimax", re.I)

_models_cache: dict[str, tuple[float, list[ModelInfo]]] = {}
_models_lock = threading.Lock()
# Groq's limits are per organization (per key), so the newest headers seen for a key are the
# best estimate for every session using it.
_last_limits: dict[str, RateLimits] = {}


def is_chat_model(model_id: str) -> bool:
    return not _NOT_CHAT.search(model_id)


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def rate_limits_from_headers(headers: httpx.Headers) -> RateLimits:
    return RateLimits(
        limit_requests=_int(headers.get("x-ratelimit-limit-requests")),
        remaining_requests=_int(headers.get("x-ratelimit-remaining-requests")),
        reset_requests=headers.get("x-ratelimit-reset-requests"),
        limit_tokens=_int(headers.get("x-ratelimit-limit-tokens")),
        remaining_tokens=_int(headers.get("x-ratelimit-remaining-tokens")),
        reset_tokens=headers.get("x-ratelimit-reset-tokens"),
    )


_WINDOW = re.compile(r"\((RPM|RPD|TPM|TPD|ASH|ASD|ITPM|OTPM)\)")
_TRY_AGAIN = re.compile(r"try again in ((?:\d+(?:\.\d+)?[hms]+)+)")
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_LIMIT_REQUESTED = re.compile(r"Limit (\d+), Requested (\d+)")


def _retry_wait(headers: httpx.Headers) -> float | None:
    """retry-after-ms, else retry-after (seconds), as the SDK reads them."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return float(value) * scale
            except ValueError:
                return None
    return None


def _only_short_429_retries(response: httpx.Response) -> None:
    """httpx response hook: the SDK honours ``x-should-retry`` before its own rules."""
    if response.status_code == 429 and "x-should-retry" not in response.headers:
        wait = _retry_wait(response.headers)
        if wait is None or not 0 < wait <= SDK_429_MAX_WAIT:
            response.headers["x-should-retry"] = "false"


def parse_go_duration(text: str) -> float:
    """'9m52.272s' -> 592.272; '400ms' -> 0.4."""
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[unit] for n, unit in _GO_PART.findall(text))


def _error_body(exc: groq.APIError) -> dict[str, Any]:
    body = exc.body
    if isinstance(body, dict) and isinstance(error := body.get("error"), dict):
        return cast(dict[str, Any], error)
    return body if isinstance(body, dict) else {}


def _rate_limited(exc: groq.RateLimitError) -> RateLimited:
    """Which limit (from the message), and the longer of retry-after and "try again in"."""
    err = _error_body(exc)
    message = str(err.get("message", ""))
    window = _WINDOW.search(message)
    retry_after: float | None = None
    header = exc.response.headers.get("retry-after")
    if header:
        retry_after = float(header)
    match = _TRY_AGAIN.search(message)
    if match:
        retry_after = max(retry_after or 0.0, parse_go_duration(match.group(1)))
    return RateLimited(window.group(1) if window else str(err.get("type", "")), retry_after)


def _bad_request(exc: groq.BadRequestError | groq.NotFoundError, model: str) -> ChatError:
    code = _error_body(exc).get("code")
    if code == "model_decommissioned":
        return ModelUnavailable(model, decommissioned=True)
    if code == "model_not_found" or isinstance(exc, groq.NotFoundError):
        return ModelUnavailable(model, decommissioned=False)
    if code == "context_length_exceeded":
        return ContextTooLong()
    return ChatError("error.bad_request", {"code": str(code or "")})


def _request_options(p: GenerationParams) -> dict[str, Any]:
    """The request's optional fields: only those set (Groq's defaults otherwise)."""
    options: dict[str, Any] = {
        "temperature": p.temperature,
        "top_p": p.top_p,
        "max_completion_tokens": p.max_tokens,
        "reasoning_effort": p.reasoning_effort or None,
        "service_tier": p.service_tier or None,
    }
    return {name: value for name, value in options.items() if value is not None}


def _cached_tokens(usage: dict[str, Any]) -> int | None:
    """``usage.prompt_tokens_details.cached_tokens`` (prompt caching)."""
    details = usage.get("prompt_tokens_details")
    found = details.get("cached_tokens") if isinstance(details, dict) else None
    return found if isinstance(found, int) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _object(value: Any) -> dict[str, Any]:
    """A JSON object field; anything else (absent, null) reads as empty."""
    return value if isinstance(value, dict) else {}


def _chunk_events(chunk: Any) -> tuple[list[StreamEvent], str | None]:
    """The events one streamed chunk (its JSON, as sent) carries, and its finish reason if any."""
    if not isinstance(chunk, dict):
        return [], None
    events: list[StreamEvent] = []
    finish: str | None = None
    x_groq = _object(chunk.get("x_groq"))
    if x_groq.get("error"):
        raise StreamInterrupted()
    # Chunks with empty choices carry only usage (stream_options.include_usage).
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = _object(choice.get("delta"))
        reasoning = delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.append(TextDelta(content))
        # Built-in tools (browser_search, code_interpreter, compound's): each item whole, sent
        # again with its output; chatbot.tools.merge keeps the newest per index.
        for item in delta.get("executed_tools") or []:
            if (run := from_executed(item)) is not None:
                events.append(run)
        reason = choice.get("finish_reason")
        finish = reason if isinstance(reason, str) and reason else None
    usage = chunk.get("usage") or x_groq.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        completion = usage.get("completion_tokens")
        events.append(
            Usage(
                prompt_tokens=usage["prompt_tokens"],
                completion_tokens=completion if isinstance(completion, int) else None,
                queue_time=_number(usage.get("queue_time")),
                completion_time=_number(usage.get("completion_time")),
                total_time=_number(usage.get("total_time")),
                cached_tokens=_cached_tokens(usage),
            )
        )
    return events, finish


def translate_error(exc: Exception, model: str, single_message: bool = False) -> ChatError:
    """Map SDK exceptions to errors the UI explains; never keeps the raw body or the key.

    ``single_message``: the request held one message besides the system prompt, so a 413
    cannot be helped by leaving earlier messages out.
    """
    if isinstance(exc, groq.AuthenticationError):
        return AuthenticationFailed()
    if isinstance(exc, groq.RateLimitError):
        return _rate_limited(exc)
    if isinstance(exc, groq.APIStatusError) and exc.status_code == 413:
        match = _LIMIT_REQUESTED.search(str(_error_body(exc).get("message", "")))
        if match:
            return RequestTooLarge(int(match.group(1)), int(match.group(2)), single_message)
        return RequestTooLarge(single=single_message)
    if isinstance(exc, (groq.BadRequestError, groq.NotFoundError)):
        return _bad_request(exc, model)
    if isinstance(exc, groq.APITimeoutError):
        return ProviderUnavailable("timeout")
    if isinstance(exc, groq.APIConnectionError):
        return ProviderUnavailable("connection")
    if isinstance(exc, groq.APIStatusError):
        if exc.status_code == 498:  # the flex tier is at capacity: on_demand may still answer
            return FlexCapacity(model)
        if exc.status_code >= 500:
            return ProviderUnavailable("server")
        return ChatError("error.http", {"status": exc.status_code})
    if isinstance(exc, groq.APIError):  # in-band {"error": ...} inside a stream
        return StreamInterrupted()
    return ChatError("error.unknown")


def _message_json(m: ChatMessage) -> dict[str, Any]:
    """A message as Groq takes it: its text, or OpenAI content parts (text, then each image as
    a base64 data URL: Groq has no upload endpoint) when it carries images."""
    if not m.images:
        return {"role": m.role, "content": m.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
    parts += [{"type": "image_url", "image_url": {"url": data_url(i.mime, i.data)}} for i in m.images]
    return {"role": m.role, "content": parts}


class GroqProvider:
    name = "groq"

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float | None = None) -> None:
        # base_url None -> the SDK reads GROQ_BASE_URL, then uses api.groq.com.
        self._client = groq.Groq(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout if timeout is not None else config.groq_timeout(),
            http_client=groq.DefaultHttpxClient(event_hooks={"response": [_only_short_429_retries]}),
        )
        self._cache_key = hashlib.sha256(f"{self._client.base_url}|{api_key}".encode()).hexdigest()

    @property
    def client(self) -> groq.Groq:
        """The SDK client, for Groq's other endpoints (audio): same key, connections and 429 rule."""
        return self._client

    def rate_limits(self) -> RateLimits | None:
        return _last_limits.get(self._cache_key)

    def list_models(self) -> list[ModelInfo]:
        with _models_lock:
            cached = _models_cache.get(self._cache_key)
            if cached and time.monotonic() - cached[0] < MODELS_TTL_SECONDS:
                return cached[1]
        try:
            page = self._client.models.list()
        except groq.APIError as exc:
            raise translate_error(exc, "") from None
        models = [
            ModelInfo(
                id=m.id,
                provider=self.name,
                owned_by=m.owned_by or "",
                context_window=getattr(m, "context_window", None),
                max_completion_tokens=getattr(m, "max_completion_tokens", None),
                reasoning=bool(_REASONING.search(m.id)),
            )
            for m in page.data
            if is_chat_model(m.id) and getattr(m, "active", True) is not False
        ]
        models.sort(key=lambda m: m.id)
        with _models_lock:
            _models_cache[self._cache_key] = (time.monotonic(), models)
        return models

    def stream_chat(self, request: ChatRequest) -> Iterator[StreamEvent]:
        kwargs = _request_options(request.params)
        if request.tools:
            kwargs["tools"] = [{"type": name} for name in request.tools]
        try:
            raw = self._client.chat.completions.with_raw_response.create(
                model=request.model,
                # The history goes in extra_body, which the SDK merges into the JSON as is (its
                # keys win): the SDK's per-field type transform of ``messages`` is pure Python and
                # took ~0.3 s before the request of a 1,000-message conversation was even sent.
                # Plain {"role", "content"} dicts are exactly what that transform would produce.
                messages=[],
                extra_body={"messages": [_message_json(m) for m in request.messages]},
                stream=True,
                **kwargs,
            )
        except groq.APIError as exc:
            response = getattr(exc, "response", None)
            if response is not None and response.headers.get("x-ratelimit-limit-tokens"):
                # A 413/429 still says the tokens-per-minute limit: the next request's context
                # budget fits it.
                _last_limits[self._cache_key] = rate_limits_from_headers(response.headers)
            single = sum(1 for m in request.messages if m.role != "system") <= 1
            error = translate_error(exc, request.model, single)
            if isinstance(error, RateLimited) and response is not None:
                error.rate_limits = rate_limits_from_headers(response.headers)  # what was left: kept per model
            raise error from None
        limits = rate_limits_from_headers(raw.headers)
        _last_limits[self._cache_key] = limits
        yield limits
        # The SDK's own stream (in-band errors raised, closed on exit), yielding each chunk's JSON
        # as sent: building its typed chunk objects cost ~0.4 ms a chunk, more than all the rest
        # of a token's way to the page, and four compared streams fell behind the server.
        stream = raw.parse(to=groq.Stream[object])
        finish: str | None = None
        try:
            with stream:
                for chunk in stream:
                    events, finished = _chunk_events(chunk)
                    yield from events
                    finish = finished or finish
        except groq.APIError as exc:
            raise translate_error(exc, request.model) from None
        except httpx.TimeoutException:
            raise ProviderUnavailable("timeout") from None
        except httpx.HTTPError:
            # The response had started: the SDK does not wrap transport errors raised while
            # iterating (e.g. RemoteProtocolError when a chunked stream is cut), and this is a
            # reply cut off mid-way, not a network that was never reached.
            raise StreamInterrupted() from None
        # A connection closed before [DONE] ends the SDK iterator silently: no finish_reason
        # is how we know the reply was cut.
        if finish is None:
            raise StreamInterrupted()
        yield Finish(finish)
