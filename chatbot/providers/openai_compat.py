"""Any OpenAI-compatible server (chatbot.endpoints) through the official ``openai`` SDK.

Each failure becomes a ChatError naming the endpoint (never its URL, which may say more than
its name, nor its key): server down, refused key, unknown model, no streaming, a cut reply.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

from chatbot.endpoints import Endpoint
from chatbot.errors import ChatError, ContextTooLong, ModelUnavailable, RateLimited, StreamInterrupted
from chatbot.providers.base import (
    ChatRequest,
    Finish,
    GenerationParams,
    ModelInfo,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)

MODELS_TTL_SECONDS = 120.0
# Every page run lists the models: a server that is down or unreachable is asked again only
# after this long, and each ask waits at most LIST_TIMEOUT, so the page never hangs on it.
FAILED_LIST_TTL_SECONDS = 30.0
LIST_TIMEOUT = 5.0
# A server without a key still gets a bearer header from the SDK; servers that check none ignore it.
NO_KEY = "no-key"

_models_cache: dict[str, tuple[float, list[str] | ChatError]] = {}
_models_lock = threading.Lock()


_KEYS = {
    "auth": "error.endpoint_auth",
    "connection": "error.endpoint_connection",
    "timeout": "error.endpoint_timeout",
    "server": "error.endpoint_server",
    "http": "error.endpoint_http",
    "no_stream": "error.endpoint_no_stream",
}


def _endpoint_error(kind: str, endpoint: str, **values: Any) -> ChatError:
    actions: tuple[Any, ...] = ("settings",) if kind == "auth" else ("retry",)
    return ChatError(_KEYS[kind], {"endpoint": endpoint, **values}, actions)


def translate_error(exc: Exception, endpoint: str, model: str) -> ChatError:
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return _endpoint_error("auth", endpoint)
    if isinstance(exc, openai.NotFoundError):
        return ModelUnavailable(model, decommissioned=False)
    if isinstance(exc, openai.RateLimitError):
        header = exc.response.headers.get("retry-after")
        try:
            wait = float(header) if header else None
        except ValueError:
            wait = None
        return RateLimited("", wait)
    if isinstance(exc, openai.BadRequestError):
        text = json.dumps(exc.body).lower() if exc.body is not None else ""
        if "context" in text and ("length" in text or "window" in text or "exceed" in text):
            return ContextTooLong()
        if "model" in text and ("not found" in text or "does not exist" in text or "unknown" in text):
            return ModelUnavailable(model, decommissioned=False)
        return _endpoint_error("http", endpoint, status=400)
    if isinstance(exc, openai.APITimeoutError):
        return _endpoint_error("timeout", endpoint)
    if isinstance(exc, openai.APIConnectionError):
        return _endpoint_error("connection", endpoint)
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return _endpoint_error("server", endpoint)
        return _endpoint_error("http", endpoint, status=exc.status_code)
    if isinstance(exc, openai.APIError):  # an {"error": ...} event inside the stream
        return StreamInterrupted()
    return ChatError("error.unknown")


def _options(p: GenerationParams) -> dict[str, Any]:
    # max_tokens, not max_completion_tokens: what llama.cpp, Ollama, vLLM and LM Studio all read.
    options = {"temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens}
    return {name: value for name, value in options.items() if value is not None}


def _usage(raw: Any) -> Usage | None:
    if raw is None or getattr(raw, "prompt_tokens", None) is None:
        return None
    return Usage(prompt_tokens=raw.prompt_tokens, completion_tokens=raw.completion_tokens)


def _reasoning(delta: Any) -> str | None:
    """Reasoning as servers send it: ``reasoning_content`` (vLLM, DeepSeek, llama.cpp's
    llama-server) or ``reasoning`` (Ollama, OpenRouter); outside the SDK's typed fields."""
    extra = getattr(delta, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) and value else None


class OpenAICompatProvider:
    def __init__(self, endpoint: Endpoint, api_key: str | None, timeout: float) -> None:
        self.name = endpoint.provider
        self.endpoint = endpoint
        self._client = openai.OpenAI(
            api_key=api_key or NO_KEY,
            base_url=endpoint.base_url,
            timeout=timeout,
            max_retries=1,  # one quiet retry of a dropped connection; a server that is down is said at once
        )
        self._cache_key = hashlib.sha256(f"{endpoint.base_url}|{api_key or ''}".encode()).hexdigest()

    def _listed(self) -> list[str]:
        """The ids the server's /models lists ([] for a server without that route)."""
        with _models_lock:
            cached = _models_cache.get(self._cache_key)
        if cached is not None:
            age = time.monotonic() - cached[0]
            if isinstance(cached[1], ChatError) and age < FAILED_LIST_TTL_SECONDS:
                raise cached[1]
            if isinstance(cached[1], list) and age < MODELS_TTL_SECONDS:
                return cached[1]
        result: list[str] | ChatError
        try:
            page = self._client.with_options(timeout=LIST_TIMEOUT, max_retries=0).models.list()
            result = [m.id for m in page.data]
        except openai.NotFoundError:
            result = []  # no /models here: the configured ids are all there is
        except openai.APIError as exc:
            result = translate_error(exc, self.endpoint.name, "")
        with _models_lock:
            _models_cache[self._cache_key] = (time.monotonic(), result)
        if isinstance(result, ChatError):
            raise result
        return result

    def list_models(self) -> list[ModelInfo]:
        ids = dict.fromkeys([*self._listed(), *self.endpoint.models])
        return [ModelInfo(id=i, provider=self.name, owned_by=self.endpoint.name) for i in ids]

    def _check_model(self, model: str) -> None:
        """A model the server does not list is refused before sending: llama.cpp's server, for
        one, answers any name with the model it has, which would pass it off as the one asked."""
        if model in self.endpoint.models:
            return
        listed = self._listed()
        if listed and model not in listed:
            raise ModelUnavailable(model, decommissioned=False)

    def stream_chat(self, request: ChatRequest) -> Iterator[StreamEvent]:
        name = self.endpoint.name
        self._check_model(request.model)
        try:
            raw = self._client.chat.completions.with_raw_response.create(
                model=request.model,
                messages=[],
                # Plain dicts as the SDK would send them, without its per-field transform (slow
                # for long histories; see the Groq provider).
                extra_body={"messages": [{"role": m.role, "content": m.content} for m in request.messages]},
                stream=True,
                stream_options={"include_usage": True},
                **_options(request.params),
            )
        except openai.APIError as exc:
            raise translate_error(exc, name, request.model) from None
        if "text/event-stream" not in raw.headers.get("content-type", ""):
            yield from self._whole_reply(raw.http_response)
            return
        stream = raw.parse()
        finish: str | None = None
        try:
            with stream:
                for chunk in stream:
                    if chunk.choices:
                        choice = chunk.choices[0]
                        if reasoning := _reasoning(choice.delta):
                            yield ReasoningDelta(reasoning)
                        if choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        finish = choice.finish_reason or finish
                    if usage := _usage(getattr(chunk, "usage", None)):
                        yield usage
        except openai.APITimeoutError:
            raise _endpoint_error("timeout", name) from None
        except openai.APIConnectionError:
            # The reply had started: the SDK wraps the connection dropping mid-stream (a server
            # killed, a proxy cut) like one never made, but this is a reply cut off.
            raise StreamInterrupted() from None
        except openai.APIError as exc:
            raise translate_error(exc, name, request.model) from None
        except httpx2.TimeoutException:
            raise _endpoint_error("timeout", name) from None
        except httpx2.HTTPError:
            raise StreamInterrupted() from None  # the server went away mid-reply
        if finish is None:  # closed before saying why: a reply cut off
            raise StreamInterrupted()
        yield Finish(finish)

    def _whole_reply(self, response: httpx2.Response) -> Iterator[StreamEvent]:
        """A server that ignored ``stream``: its one JSON answer, if it is a chat completion."""
        try:
            body = json.loads(response.read())
            choice = body["choices"][0]
            text = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError, httpx2.HTTPError):
            raise _endpoint_error("no_stream", self.endpoint.name) from None
        finally:
            response.close()
        if not isinstance(text, str):
            raise _endpoint_error("no_stream", self.endpoint.name)
        yield TextDelta(text)
        usage = body.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            yield Usage(prompt_tokens=usage["prompt_tokens"], completion_tokens=usage.get("completion_tokens"))
        yield Finish(choice.get("finish_reason") or "stop")
