"""A loopback stand-in for the Groq HTTP API, for tests and benchmarks.

The real ``groq`` SDK talks to this server over real HTTP, so the SDK's own
retry, streaming and error-mapping code runs exactly as it does in production.
The wire contract follows ``/work/shared/reference/groq-api.md`` (sections
0, 3, 5, 6, 7 and 12).  Stdlib only.

Use it in-process::

    with StandInGroq(reply="Hi there!") as server:
        client = groq.Groq(api_key=server.api_key, base_url=server.base_url)
        ...
        assert server.chat_requests[-1]["json"]["messages"][-1]["content"] == "hello"

or as a separate process (prints ``READY <base_url> <api_key>``)::

    python tests/stand_in_groq.py --port 0 --tokens-per-second 2000 --reply-tokens 8000
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import http.server
import io
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import string
import struct
import sys
import threading
import time
import traceback
import uuid
import wave
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "DEFAULT_DECOMMISSIONED",
    "DEFAULT_MODELS",
    "DEFAULT_REPLY",
    "FAULT_KINDS",
    "StandInGroq",
    "go_duration",
    "make_reply",
    "tokenize",
]

API_PREFIX = "/openai/v1"
CHAT_PATH = f"{API_PREFIX}/chat/completions"
MODELS_PATH = f"{API_PREFIX}/models"
TRANSCRIPTIONS_PATH = f"{API_PREFIX}/audio/transcriptions"
TRANSLATIONS_PATH = f"{API_PREFIX}/audio/translations"
SPEECH_PATH = f"{API_PREFIX}/audio/speech"
FILES_PATH = f"{API_PREFIX}/files"
BATCHES_PATH = f"{API_PREFIX}/batches"

DEFAULT_REPLY = "Hello! I am a stand-in for the Groq API. This reply is deterministic, so tests can compare it exactly."

# Verbatim values from the live /models capture (reference §3.1), except
# qwen/qwen3.8-27b whose limits come from the models page (§9.1, context 131042
# "sic"); its `created` timestamp is not published and is invented here.
DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "id": "openai/gpt-oss-120b",
        "object": "model",
        "created": 1754408224,
        "owned_by": "OpenAI",
        "active": True,
        "context_window": 131072,
        "public_apps": None,
        "max_completion_tokens": 65536,
    },
    {
        "id": "openai/gpt-oss-20b",
        "object": "model",
        "created": 1754407957,
        "owned_by": "OpenAI",
        "active": True,
        "context_window": 131072,
        "public_apps": None,
        "max_completion_tokens": 65536,
    },
    {
        "id": "qwen/qwen3.8-27b",
        "object": "model",
        "created": 1788000000,
        "owned_by": "Alibaba Cloud",
        "active": True,
        "context_window": 131042,
        "public_apps": None,
        "max_completion_tokens": 16384,
    },
    {
        "id": "llama-3.1-8b-instant",
        "object": "model",
        "created": 1693721698,
        "owned_by": "Meta",
        "active": True,
        "context_window": 131072,
        "public_apps": None,
        "max_completion_tokens": 131072,
    },
    {
        "id": "whisper-large-v3",
        "object": "model",
        "created": 1693721698,
        "owned_by": "OpenAI",
        "active": True,
        "context_window": 448,
        "public_apps": None,
        "max_completion_tokens": 448,
    },
    {
        "id": "whisper-large-v3-turbo",
        "object": "model",
        "created": 1728413088,
        "owned_by": "OpenAI",
        "active": True,
        "context_window": 448,
        "public_apps": None,
        "max_completion_tokens": 448,
    },
    {
        "id": "meta-llama/llama-prompt-guard-2-22m",
        "object": "model",
        "created": 1748632101,
        "owned_by": "Meta",
        "active": True,
        "context_window": 512,
        "public_apps": None,
        "max_completion_tokens": 512,
    },
    {
        "id": "canopylabs/orpheus-v1-english",
        "object": "model",
        "created": 1766186316,
        "owned_by": "Canopy Labs",
        "active": True,
        "context_window": 4000,
        "public_apps": None,
        "max_completion_tokens": 50000,
    },
    {
        "id": "openai/gpt-oss-safeguard-20b",
        "object": "model",
        "created": 1761708789,
        "owned_by": "OpenAI",
        "active": True,
        "context_window": 131072,
        "public_apps": None,
        "max_completion_tokens": 65536,
    },
]

# Models that answer 400 model_decommissioned (reference §9.2).
DEFAULT_DECOMMISSIONED: frozenset[str] = frozenset(
    {
        "mixtral-8x7b-32768",
        "gemma2-9b-it",
        "llama-3.3-70b-versatile",
        "llama-3.1-70b-versatile",
        "deepseek-r1-distill-llama-70b",
        "llama3-8b-8192",
        "llama3-70b-8192",
    }
)

# Vision (groq-api.md §4.2, §9; groq-api-more.md §4): which models take image parts, and
# Groq's limits for them: 5 images per request, 33 megapixels per image, a base64 request
# of at most 4 MB (413 above), an image URL request of at most 20 MB.
DEFAULT_VISION_MODELS: frozenset[str] = frozenset(
    {"qwen/qwen3.8-27b", "meta-llama/llama-4-scout-17b-16e-instruct", "meta-llama/llama-4-maverick-17b-128e-instruct"}
)
MAX_IMAGES_PER_REQUEST = 5
MAX_IMAGE_PIXELS = 33_177_600
MAX_BASE64_REQUEST_BYTES = 4 * 1024 * 1024
_DATA_URL = re.compile(r"^data:(image/[\w.+-]+);base64,(.*)$", re.S)

# Speech models are listed by /models but cannot chat.
_NON_CHAT_PREFIXES = ("whisper-", "distil-whisper", "canopylabs/orpheus", "playai-tts")
# gpt-oss streams reasoning by default with a "channel" field (§6.3); qwen3.x only
# with reasoning_format="parsed".
_GPT_OSS_PREFIX = "openai/gpt-oss"
# Built-in tools (groq-api-more.md §1): gpt-oss takes browser_search / code_interpreter in
# ``tools``; the compound systems search by themselves.
_BUILTIN_TOOLS = ("browser_search", "code_interpreter")
_COMPOUND_PREFIXES = ("groq/compound", "compound-beta")
DEFAULT_SEARCH_RESULTS: list[dict[str, Any]] = [
    {
        "title": "Paris - Wikipedia",
        "url": "https://en.wikipedia.org/wiki/Paris",
        "content": "Paris is the capital and largest city of France.",
        "score": 0.9655,
    },
    {
        "title": "France | Capital, Map, Population",
        "url": "https://www.britannica.com/place/France",
        "content": "The capital of France is Paris.",
        "score": 0.8121,
    },
]
_QWEN_REASONING_PREFIX = "qwen/qwen3"

FAULT_KINDS = frozenset(
    {
        "429",
        "401",
        "413",
        "498",
        "500",
        "503",
        "decommissioned",
        "model_not_found",
        "context_length_exceeded",
        "midstream_error",
        "x_groq_error",
        "drop",
        "hang",
        "no_finish",
    }
)
# Faults that only make sense once a 200 stream is under way.
_STREAM_ONLY_FAULTS = frozenset({"midstream_error", "x_groq_error", "no_finish"})

_UPGRADE_HINT = "Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing"
_WINDOW_NAMES = {
    "RPM": "requests per minute (RPM)",
    "RPD": "requests per day (RPD)",
    "TPM": "tokens per minute (TPM)",
    "TPD": "tokens per day (TPD)",
}

# A "token" is optional leading whitespace plus a word or a single other
# character; a trailing whitespace run is its own token.  Every character is
# matched exactly once, so "".join(tokenize(s)) == s for every s.
_TOKEN_RE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")

TextSource = str | Callable[[dict[str, Any]], str] | None


# --------------------------------------------------------------------------- helpers


def tokenize(text: str) -> list[str]:
    """Split text into word-ish pieces whose concatenation is exactly ``text``."""
    return _TOKEN_RE.findall(text)


_VOCAB = [
    "groq",
    "streams",
    "tokens",
    "quickly",
    "while",
    "the",
    "stand",
    "in",
    "server",
    "keeps",
    "every",
    "reply",
    "deterministic",
    "so",
    "benchmarks",
    "can",
    "measure",
    "throughput",
    "latency",
    "and",
    "rendering",
    "cost",
    "without",
    "network",
    "noise",
]


def make_reply(n_tokens: int) -> str:
    """A deterministic reply that ``tokenize`` splits into exactly ``n_tokens`` pieces."""
    pieces: list[str] = []
    for i in range(n_tokens):
        if i % 12 == 11:
            pieces.append(".")  # punctuation is its own token
        else:
            word = _VOCAB[i % len(_VOCAB)]
            if i == 0:
                pieces.append(word.capitalize())
            elif i % 60 == 0:
                pieces.append("\n\n" + word)  # paragraph breaks ride on the next word
            else:
                pieces.append(" " + word)
    return "".join(pieces)


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String()`` (rounded to ms): ``7.66s``, ``2m59.56s``, ``300ms``."""
    ms = max(0, int(round(seconds * 1000)))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rem = divmod(ms, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    secs, frac = divmod(rem, 1000)
    sec_text = f"{secs}.{frac:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{sec_text}"
    if minutes:
        return f"{minutes}m{sec_text}"
    return sec_text


def _go_json(obj: Any) -> bytes:
    """Compact JSON as Go's encoder writes it: UTF-8 kept, but <, > and & escaped (§6.3)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8")


def _lower_alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _new_request_id() -> str:
    return "req_" + _lower_alnum(26)


def _new_api_key() -> str:
    return "gsk_test_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))


def _error_body(message: str, type_: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"message": message, "type": type_}
    if code is not None:
        err["code"] = code
    err.update(extra)
    return {"error": err}


def _content_text(content: Any) -> str:
    """Text of a message's content, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """chars/4 (rounded up) over all message contents, like a cheap tokenizer."""
    chars = 0
    for msg in body.get("messages") or []:
        if isinstance(msg, dict):
            chars += len(_content_text(msg.get("content")))
            chars += len(_content_text(msg.get("reasoning")))
    return max(1, math.ceil(chars / 4))


# --------------------------------------------------------------------------- state


@dataclass
class Fault:
    """One queued failure; consumed by the next ``times`` chat-completions requests."""

    kind: str
    times: int
    opts: dict[str, Any]


@dataclass
class _Usage:
    """A continuously refilling bucket, tracked as 'used' so the limit can change at run time."""

    window_seconds: float
    used: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def _decay(self, limit: int) -> None:
        now = time.monotonic()
        if limit > 0:
            self.used = max(0.0, self.used - (now - self.stamp) * limit / self.window_seconds)
        self.stamp = now

    def snapshot(self, limit: int) -> tuple[int, float]:
        """(remaining, seconds until full)."""
        self._decay(limit)
        remaining = max(0, int(limit - self.used))
        reset = self.used * self.window_seconds / limit if limit > 0 else 0.0
        return remaining, reset

    def consume(self, limit: int, amount: float) -> None:
        self._decay(limit)
        self.used += amount


@dataclass
class _Plan:
    """What one chat completion will produce."""

    reasoning: list[str]
    content: list[str]
    finish_reason: str
    reasoning_channel: str | None  # "analysis" for gpt-oss, None for qwen "parsed"
    # executed_tools items, each streamed twice: announced (no output), then whole with it.
    tools: list[dict[str, Any]] = field(default_factory=list)


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stand_in: StandInGroq


class _ClientGone(Exception):
    """The client closed the connection while we were writing."""


# --------------------------------------------------------------------------- server


def answer_naming_prompt(body: dict[str, Any]) -> str:
    """A reply that names its prompt, so a test can tell which request a reply belongs to."""
    return f"Answer to {body['messages'][-1]['content']}"


@dataclass(eq=False)
class StandInGroq:
    """Loopback Groq API.  Every field is a constructor kwarg and may be reassigned between requests.

    reply / reasoning may be a string or a callable taking the request JSON.
    """

    reply: TextSource = DEFAULT_REPLY
    reasoning: TextSource = None
    tokens_per_second: float | None = None
    chunk_tokens: int = 1
    first_token_delay: float = 0.0
    models: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULT_MODELS))
    decommissioned: set[str] = field(default_factory=lambda: set(DEFAULT_DECOMMISSIONED))
    limit_requests: int = 1000  # RPD (x-ratelimit-*-requests always mean per day)
    limit_tokens: int = 8000  # TPM (x-ratelimit-*-tokens always mean per minute)
    enforce_rate_limits: bool = False  # answer 429 by itself once a bucket is empty
    # Limits of a model's own, enforced whenever set: model id -> (requests per day, tokens per
    # minute). Its answers' x-ratelimit-* headers count its own buckets down, as Groq's do.
    model_limits: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Prompt tokens Groq's prompt cache served (usage.prompt_tokens_details.cached_tokens): a
    # number (at most the prompt's), or a callable taking the request JSON; 0 leaves it out.
    cached_tokens: int | Callable[[dict[str, Any]], int] = 0
    flex_at_capacity: bool = False  # a request with service_tier "flex" gets 498 capacity_exceeded
    # Requests per minute (0 = none), enforced whenever set: Groq says this limit only in a
    # 429's message (RPM), never in the x-ratelimit-* headers.
    limit_requests_per_minute: int = 0
    api_key: str = field(default_factory=_new_api_key)
    host: str = "127.0.0.1"
    port: int = 0
    region: str = "fra"
    organization: str = field(default_factory=lambda: "org_" + _lower_alnum(26))
    # "close": stream bodies end at EOF (Connection: close), so a dropped
    # connection ends the SDK's iteration quietly.  "chunked": keep-alive
    # streams; a drop then surfaces as httpx.RemoteProtocolError.
    stream_framing: str = "close"
    verbose: bool = False

    # Audio (transcriptions/translations): the text every answer carries (None: a phrase
    # derived from the audio's bytes), and the largest file accepted (Groq's free tier: 25 MB).
    transcript: str | None = None
    audio_max_bytes: int = 25 * 1024 * 1024

    # What built-in tools answer: search results ({title, url, content, score}; a callable
    # taking the request JSON may build them) and the code interpreter's printed output.
    search_results: list[dict[str, Any]] | Callable[[dict[str, Any]], list[dict[str, Any]]] = field(
        default_factory=lambda: copy.deepcopy(DEFAULT_SEARCH_RESULTS)
    )
    code_output: str = "4"
    requests: list[dict[str, Any]] = field(default_factory=list, init=False)
    closed_early: int = field(default=0, init=False)
    # One entry per audio request that reached the handler, refused ones included:
    # path, model, language, prompt, response_format, temperature, filename, size, status.
    audio_requests: list[dict[str, Any]] = field(default_factory=list, init=False)
    # One entry per text-to-speech request that reached the handler, refused ones included:
    # model, voice, input, response_format, sample_rate, speed, status.
    speech_requests: list[dict[str, Any]] = field(default_factory=list, init=False)
    # Chat completions being answered right now, the most there ever were at once, and how
    # many were answered 429 (injected or enforced).
    chats_in_flight: int = field(default=0, init=False)
    peak_chats_in_flight: int = field(default=0, init=False)
    answered_429: int = field(default=0, init=False)
    # The JSON of every chat request let through the limits (not refused 429), in order: what
    # was actually answered, so a test can count how often each prompt was paid for.
    admitted_chats: list[dict[str, Any]] = field(default_factory=list, init=False)
    # Files and Batch API (groq-api-more §6): uploaded and produced files by id ({"meta": File
    # object, "content": bytes}), batches by id (the Batch object). A batch completes when it is
    # next retrieved, unless batch_hold: then it stays in_progress until complete_batch().
    files: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    batch_hold: bool = False
    # An error code: the next batches fail validation with it (line 1), nothing run.
    batch_validation_error: str | None = None
    # The body of every batch line answered (each line of a completed batch), in order.
    batch_lines: list[dict[str, Any]] = field(default_factory=list, init=False)
    vision_models: set[str] = field(default_factory=lambda: set(DEFAULT_VISION_MODELS))
    # One entry per chat request carrying image parts, refused ones included: model, count,
    # images ([{mime, url_chars, size (decoded bytes), width, height}]), status.
    image_requests: list[dict[str, Any]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._faults: deque[Fault] = deque()
        self._model_usage: dict[str, tuple[_Usage, _Usage]] = {}
        self._req_usage = _Usage(window_seconds=86_400.0)
        self._tok_usage = _Usage(window_seconds=60.0)
        self._minute_admits: deque[float] = deque()
        self._stopping = threading.Event()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.decommissioned = set(self.decommissioned)

    def __repr__(self) -> str:
        return f"StandInGroq(base_url={self.base_url!r}, requests={len(self.requests)})"

    # -- lifecycle --------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Host-only URL for ``groq.Groq(base_url=...)``; the SDK adds /openai/v1 itself."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> StandInGroq:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HttpServer((self.host, self.port), _Handler)
        httpd.stand_in = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"stand-in-groq:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delays / hangs
        httpd.shutdown()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:  # idle keep-alive handlers would otherwise linger
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StandInGroq:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test helpers -----------------------------------------------------

    def fail_next(self, kind: str, times: int = 1, **opts: Any) -> None:
        """Queue a fault for the next ``times`` chat-completions requests.

        Common opts: ``should_retry`` (bool → ``x-should-retry`` header),
        ``headers`` (extra response headers), ``message`` (override the text),
        ``model`` (only a request for this model takes the fault).
        Per kind:
          429: limit_type "requests"|"tokens", window "RPM"|"RPD"|"TPM"|"TPD",
               retry_after (int s, default 2), retry_after_ms (adds retry-after-ms header).
          midstream_error / x_groq_error / drop / no_finish: after (token chunks before it, default 1).
          midstream_error: error (dict, the inner error object), as_event (send ``event: error``).
          hang: seconds (default 3600, cut short by stop()), after (None = before the
               response; N = after N token chunks of a stream).
          Any other 4xx/5xx as a string (e.g. "502") gives a generic error body.
        """
        if kind not in FAULT_KINDS and not (kind.isdigit() and 400 <= int(kind) <= 599):
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)} or a status code")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(Fault(kind, times, dict(opts)))

    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return [copy.copy(f) for f in self._faults]

    def reset(self) -> None:
        """Forget recorded requests, queued faults, rate-limit usage and closed_early."""
        with self._lock:
            self.requests.clear()
            self.audio_requests.clear()
            self.speech_requests.clear()
            self.image_requests.clear()
            self._faults.clear()
            self._model_usage.clear()
            self._req_usage = _Usage(window_seconds=86_400.0)
            self._tok_usage = _Usage(window_seconds=60.0)
            self._minute_admits.clear()
            self.closed_early = 0
            self.peak_chats_in_flight = self.answered_429 = 0
            self.admitted_chats.clear()
            self.files.clear()
            self.batches.clear()
            self.batch_lines.clear()

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"] == CHAT_PATH]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
        """Poll until predicate() is true; for things the server notices asynchronously."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    # -- Batch API ----------------------------------------------------------

    def complete_batch(self, batch_id: str) -> None:
        """Answer every line of a batch still under way (batch_hold) and complete it."""
        with self._lock:
            batch = self.batches[batch_id]
            if batch["status"] in ("validating", "in_progress", "finalizing"):
                self._finish_batch(batch, "completed")

    def expire_batch(self, batch_id: str, answered: int = 0) -> None:
        """The completion window passed: the first ``answered`` lines have results, the others an
        error line with ``response`` null (Groq bills only what completed)."""
        with self._lock:
            self._finish_batch(self.batches[batch_id], "expired", answered)

    def _new_file(self, name: str, purpose: str, content: bytes) -> dict[str, Any]:
        meta = {
            "id": "file_" + _lower_alnum(26),
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": name,
            "purpose": purpose,
        }
        self.files[meta["id"]] = {"meta": meta, "content": content}
        return meta

    def _batch_line(self, line: dict[str, Any]) -> dict[str, Any]:
        """One input line's output line: 200 with a chat completion, or the error Groq gives."""
        body = line.get("body") if isinstance(line.get("body"), dict) else {}
        model = str(body.get("model") or "")
        out: dict[str, Any] = {"id": "batch_req_out_" + _lower_alnum(26), "custom_id": line.get("custom_id")}
        request_id = _new_request_id()
        if self._find_model(model) is None or model in self.decommissioned:
            error = _decommissioned(model) if model in self.decommissioned else _model_not_found(model)
            out.update(response={"status_code": error.status, "request_id": request_id, "body": error.body}, error=None)
            return out
        self.batch_lines.append(body)
        reply = self.reply(body) if callable(self.reply) else (self.reply or "")
        prompt, completion = estimate_prompt_tokens(body), len(tokenize(str(reply)))
        completion_body = {
            "id": f"chatcmpl-{uuid.uuid4()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": str(reply)},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
            "system_fingerprint": "fp_" + secrets.token_hex(5),
            "x_groq": {"id": request_id},
        }
        out.update(response={"status_code": 200, "request_id": request_id, "body": completion_body}, error=None)
        return out

    def _advance_batch(self, batch: dict[str, Any]) -> None:
        """What a retrieve finds: cancelling ends cancelled; a batch under way completes (or, held,
        stays in_progress)."""
        if batch["status"] == "cancelling":
            batch["status"], batch["cancelled_at"] = "cancelled", int(time.time())
        elif batch["status"] in ("validating", "in_progress"):
            if self.batch_hold:
                batch["status"], batch["in_progress_at"] = "in_progress", int(time.time())
            else:
                self._finish_batch(batch, "completed")

    def _finish_batch(self, batch: dict[str, Any], status: str, answered: int | None = None) -> None:
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]]["content"].splitlines() if x.strip()]
        outputs: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for n, line in enumerate(lines):
            if answered is not None and n >= answered:
                errors.append(
                    {
                        "id": "batch_req_out_" + _lower_alnum(26),
                        "custom_id": line.get("custom_id"),
                        "response": None,
                        "error": {
                            "code": "batch_expired",
                            "message": "This request could not be executed before the completion window expired.",
                        },
                    }
                )
                continue
            result = self._batch_line(line)
            (outputs if result["response"]["status_code"] == 200 else errors).append(result)
        now = int(time.time())
        if outputs:
            batch["output_file_id"] = self._new_file(
                "batch_output.jsonl", "batch_output", b"".join(_go_json(o) + b"\n" for o in outputs)
            )["id"]
        if errors:
            batch["error_file_id"] = self._new_file(
                "batch_errors.jsonl", "batch_output", b"".join(_go_json(e) + b"\n" for e in errors)
            )["id"]
        batch["status"] = status
        batch[f"{status}_at"] = now
        batch["request_counts"] = {
            "total": len(lines),
            "completed": len(outputs),
            "failed": len([e for e in errors if e.get("response") is not None]),
        }

    # -- internals used by the handler -----------------------------------

    def _take_fault(self, model: str | None = None) -> Fault | None:
        """The first queued fault for this request: one with a ``model`` option waits for a
        request for that model (several models' requests arrive at once in a comparison)."""
        with self._lock:
            head = next((f for f in self._faults if f.opts.get("model") in (None, model)), None)
            if head is None:
                return None
            head.times -= 1
            if head.times <= 0:
                self._faults.remove(head)
            return Fault(head.kind, 1, dict(head.opts))

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def _note_closed_early(self) -> None:
        with self._lock:
            self.closed_early += 1

    def _buckets(self, model: str | None) -> tuple[_Usage, _Usage, int, int]:
        """The day's requests and the minute's tokens of ``model`` when it has limits of its own
        (``model_limits``), else the ones every model shares; and their limits."""
        limits = self.model_limits.get(model or "")
        if model is None or limits is None:
            return self._req_usage, self._tok_usage, self.limit_requests, self.limit_tokens
        buckets = self._model_usage.setdefault(model, (_Usage(86_400.0), _Usage(60.0)))
        return buckets[0], buckets[1], limits[0], limits[1]

    def _rate_headers(self, model: str | None = None) -> dict[str, str]:
        with self._lock:
            req, tok, limit_r, limit_t = self._buckets(model)
            rem_r, reset_r = req.snapshot(limit_r)
            rem_t, reset_t = tok.snapshot(limit_t)
        return {
            "x-ratelimit-limit-requests": str(limit_r),
            "x-ratelimit-limit-tokens": str(limit_t),
            "x-ratelimit-remaining-requests": str(rem_r),
            "x-ratelimit-remaining-tokens": str(rem_t),
            "x-ratelimit-reset-requests": go_duration(reset_r),
            "x-ratelimit-reset-tokens": go_duration(reset_t),
        }

    def _admit(self, tokens: int, model: str | None = None) -> dict[str, Any] | None:
        """Charge one request; if enforcement says 429, return the opts for that 429 instead."""
        with self._lock:
            req, tok, limit_r, limit_t = self._buckets(model)
            if self.limit_requests_per_minute > 0:
                now = time.monotonic()
                while self._minute_admits and self._minute_admits[0] <= now - 60.0:
                    self._minute_admits.popleft()
                if len(self._minute_admits) >= self.limit_requests_per_minute:
                    return {
                        "window": "RPM",
                        "limit": self.limit_requests_per_minute,
                        "used": len(self._minute_admits),
                        "requested": 1,
                        "retry_after": max(1, math.ceil(self._minute_admits[0] + 60.0 - now)),
                    }
                self._minute_admits.append(now)
            if self.enforce_rate_limits or (model or "") in self.model_limits:
                rem_r, _ = req.snapshot(limit_r)
                if rem_r < 1:
                    wait = 86_400.0 / max(1, limit_r)  # one request's worth of refill
                    return {
                        "window": "RPD",
                        "limit": limit_r,
                        "used": limit_r - rem_r,
                        "requested": 1,
                        "retry_after": max(1, math.ceil(wait)),
                    }
                rem_t, _ = tok.snapshot(limit_t)
                if rem_t < tokens:
                    wait = (tokens - rem_t) * 60.0 / max(1, limit_t)
                    return {
                        "window": "TPM",
                        "limit": limit_t,
                        "used": limit_t - rem_t,
                        "requested": tokens,
                        "retry_after": max(1, math.ceil(wait)),
                    }
            req.consume(limit_r, 1)
            tok.consume(limit_t, tokens)
        return None

    @contextlib.contextmanager
    def _chat_counted(self) -> Iterator[None]:
        with self._lock:
            self.chats_in_flight += 1
            self.peak_chats_in_flight = max(self.peak_chats_in_flight, self.chats_in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.chats_in_flight -= 1

    def _cached(self, body: dict[str, Any], prompt_tokens: int) -> int:
        found = self.cached_tokens(body) if callable(self.cached_tokens) else self.cached_tokens
        return max(0, min(int(found), prompt_tokens))

    def _find_model(self, model_id: str) -> dict[str, Any] | None:
        for m in self.models:
            if m.get("id") == model_id:
                return m
        return None

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True if the full time elapsed."""
        if seconds <= 0:
            return True
        return not self._stopping.wait(seconds)


# --------------------------------------------------------------------------- HTTP handler


class _HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _model_not_found(model: str) -> _HttpError:
    return _HttpError(
        404,
        _error_body(
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
    )


def _decommissioned(model: str) -> _HttpError:
    return _HttpError(
        400,
        _error_body(
            f"The model `{model}` has been decommissioned and is no longer supported. Please refer to "
            "https://console.groq.com/docs/deprecations for a recommendation on which model to use instead.",
            "invalid_request_error",
            "model_decommissioned",
        ),
    )


def _context_exceeded() -> _HttpError:
    return _HttpError(
        400,
        _error_body(
            "Please reduce the length of the messages or completion.",
            "invalid_request_error",
            "context_length_exceeded",
            param="messages",
        ),
    )


def _invalid_api_key() -> _HttpError:
    return _HttpError(401, _error_body("Invalid API Key", "invalid_request_error", "invalid_api_key"))


def _too_large(model: str, org: str, limit: int, requested: int) -> _HttpError:
    return _HttpError(
        413,
        _error_body(
            f"Request too large for model `{model}` in organization `{org}` service tier `on_demand` on "
            f"tokens per minute (TPM): Limit {limit}, Requested {requested}, please reduce your message size "
            f"and try again. {_UPGRADE_HINT}",
            "tokens",
            "rate_limit_exceeded",
        ),
    )


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height from a PNG, GIF or JPEG header (stdlib only); None when not found."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + length
    return None, None


def _image_entry(part: dict[str, Any]) -> dict[str, Any]:
    """What the stand-in notes of one image part: its type, URL length, decoded size, pixels."""
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else None
    url = url if isinstance(url, str) else ""
    match = _DATA_URL.match(url)
    entry: dict[str, Any] = {"mime": None, "url_chars": len(url), "size": 0, "width": None, "height": None}
    if match is None:
        return entry
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except ValueError:
        return entry
    width, height = _image_size(data)
    entry.update(mime=match.group(1), size=len(data), width=width, height=height)
    return entry


def _flex_capacity(model: str) -> _HttpError:
    # Exact body unverified (groq-api-more.md §7); clients match "`flex` tier capacity exceeded".
    message = f"`flex` tier capacity exceeded for model `{model}`"
    return _HttpError(498, _error_body(message, "capacity_exceeded", "capacity_exceeded"))


def _not_found(kind: str, object_id: str) -> _HttpError:
    return _HttpError(404, _error_body(f"{kind} {object_id} not found", "invalid_request_error", "not_found"))


def _bad_request(message: str, param: str | None = None) -> _HttpError:
    extra = {"param": param} if param else {}
    return _HttpError(400, _error_body(message, "invalid_request_error", **extra))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer
    server_version = "stand-in-groq"
    sys_version = ""
    _chunked = False  # set per stream from StandInGroq.stream_framing
    _response_started = False

    def send_response(self, code: int, message: str | None = None) -> None:
        self._response_started = True
        super().send_response(code, message)

    # -- plumbing -----------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Each SSE event is a small write; without TCP_NODELAY Nagle would
        # batch them and distort time-to-first-token in benchmarks.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.stand_in._lock:
            self.stand_in._connections.add(self.connection)

    def finish(self) -> None:
        with self.stand_in._lock:
            self.stand_in._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    @property
    def stand_in(self) -> StandInGroq:
        return self.server.stand_in

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.stand_in.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, body: Any, request_id: str, extra: dict[str, str] | None = None) -> None:
        payload = _go_json(body)
        try:
            self.send_response(status)
            self._common_headers(request_id)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True

    def _common_headers(self, request_id: str) -> None:
        self.send_header("x-request-id", request_id)
        self.send_header("x-groq-region", self.stand_in.region)
        for k, v in self.stand_in._rate_headers(self._limits_model).items():
            self.send_header(k, v)

    # -- routing ----------------------------------------------------------

    def _dispatch(self) -> None:
        srv = self.stand_in
        self._response_started = False  # one handler serves many keep-alive requests
        self._limits_model: str | None = None  # whose x-ratelimit-* headers this answer carries
        request_id = _new_request_id()
        raw = self._read_body()
        parts = urlsplit(self.path)
        path = parts.path
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        srv._record(
            {
                "method": self.command,
                "path": path,
                "query": parts.query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "json": body,
                "raw": raw,
                "time": time.time(),
            }
        )
        try:
            if self.headers.get("Authorization") != f"Bearer {srv.api_key}":
                raise _invalid_api_key()
            if path == CHAT_PATH and self.command == "POST":
                if body is None:
                    raise _bad_request(
                        "We could not parse the JSON body of your request. (HINT: This likely "
                        "means you aren't using your HTTP library correctly.)"
                    )
                with srv._chat_counted():
                    self._chat(body, request_id)
            elif path in (TRANSCRIPTIONS_PATH, TRANSLATIONS_PATH) and self.command == "POST":
                self._audio(path, raw, request_id)
            elif path == SPEECH_PATH and self.command == "POST":
                self._speech(body, request_id)
            elif path.startswith(FILES_PATH) or path.startswith(BATCHES_PATH):
                self._batch_api(path, raw, body, request_id)
            elif path == MODELS_PATH and self.command == "GET":
                self._send_json(200, {"object": "list", "data": copy.deepcopy(srv.models)}, request_id)
            elif path.startswith(MODELS_PATH + "/") and self.command == "GET" and len(path) > len(MODELS_PATH) + 1:
                # The id may arrive with a raw "/" or as "%2F".
                model_id = unquote(path[len(MODELS_PATH) + 1 :])
                model = srv._find_model(model_id)
                if model is None:
                    raise _model_not_found(model_id)
                self._send_json(200, copy.deepcopy(model), request_id)
            else:
                raise _HttpError(
                    404,
                    _error_body(
                        f"Unknown request URL: {self.command} {path}. Please check the URL for typos, "
                        "or see the docs at https://console.groq.com/docs/",
                        "invalid_request_error",
                        "unknown_url",
                    ),
                )
        except _HttpError as e:
            self._send_json(e.status, e.body, request_id, e.headers)
        except Exception as e:  # a bug in the stand-in: make it visible, not a hung client
            traceback.print_exc()
            self.close_connection = True
            if not self._response_started:
                self._send_json(500, _error_body(f"stand-in bug: {e!r}", "internal_server_error"), request_id)

    # -- files and batches (groq-api-more §6) --------------------------------

    def _batch_api(self, path: str, raw: bytes, body: Any, request_id: str) -> None:
        srv = self.stand_in
        rest = path[len(FILES_PATH) :] if path.startswith(FILES_PATH) else None
        with srv._lock:
            if rest == "" and self.command == "POST":
                fields, files = _parse_multipart(self.headers.get("Content-Type", ""), raw)
                if fields.get("purpose") != "batch" or "file" not in files:
                    raise _bad_request("purpose must be batch, with a file", "purpose")
                name, content = files["file"]
                if not name.endswith(".jsonl"):
                    raise _bad_request("only .jsonl files are accepted", "file")
                self._send_json(200, srv._new_file(name, "batch", content), request_id)
                return
            if rest is not None and rest.startswith("/"):
                file_id, _, what = rest[1:].partition("/")
                found = srv.files.get(file_id)
                if found is None:
                    raise _not_found("file", file_id)
                if what == "content" and self.command == "GET":
                    payload = found["content"]
                    self.send_response(200)
                    self._common_headers(request_id)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if what == "" and self.command == "GET":
                    self._send_json(200, found["meta"], request_id)
                    return
            rest = path[len(BATCHES_PATH) :] if path.startswith(BATCHES_PATH) else None
            if rest == "" and self.command == "POST":
                self._send_json(200, self._create_batch(body), request_id)
                return
            if rest is not None and rest.startswith("/"):
                batch_id, _, what = rest[1:].partition("/")
                batch = srv.batches.get(batch_id)
                if batch is None:
                    raise _not_found("batch", batch_id)
                if what == "" and self.command == "GET":
                    srv._advance_batch(batch)
                    self._send_json(200, copy.deepcopy(batch), request_id)
                    return
                if what == "cancel" and self.command == "POST":
                    if batch["status"] in ("validating", "in_progress"):
                        batch["status"], batch["cancelling_at"] = "cancelling", int(time.time())
                    self._send_json(200, copy.deepcopy(batch), request_id)
                    return
        raise _HttpError(
            404, _error_body(f"Unknown request URL: {self.command} {path}.", "invalid_request_error", "unknown_url")
        )

    def _create_batch(self, body: Any) -> dict[str, Any]:
        srv = self.stand_in
        if not isinstance(body, dict) or body.get("endpoint") != "/v1/chat/completions":
            raise _bad_request("endpoint must be /v1/chat/completions", "endpoint")
        found = srv.files.get(str(body.get("input_file_id")))
        if found is None or found["meta"]["purpose"] != "batch":
            raise _bad_request("input_file_id is not an uploaded batch file", "input_file_id")
        window = str(body.get("completion_window") or "")
        if not re.fullmatch(r"\d+[hd]", window):
            raise _bad_request("completion_window must be from 24h to 7d", "completion_window")
        now = int(time.time())
        batch: dict[str, Any] = {
            "id": "batch_" + _lower_alnum(26),
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": found["meta"]["id"],
            "completion_window": window,
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "finalizing_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
            "created_at": now,
            "expires_at": now + 86_400,
            "cancelling_at": None,
            "completed_at": None,
            "in_progress_at": None,
        }
        problems = []
        for n, text in enumerate(found["content"].decode("utf-8", "replace").splitlines(), 1):
            try:
                line = json.loads(text) if text.strip() else None
            except ValueError:
                line = "bad"
            if line is None:
                continue
            if not isinstance(line, dict) or line.get("method") != "POST" or not line.get("custom_id"):
                problems.append(
                    {"code": "invalid_request", "message": "Invalid line: custom_id and method POST needed", "line": n}
                )
        if srv.batch_validation_error:
            problems.append({"code": srv.batch_validation_error, "message": "Invalid line", "line": 1})
        if problems:  # validation failed: the whole batch, nothing run
            batch.update(status="failed", failed_at=now, errors={"object": "list", "data": problems})
        srv.batches[batch["id"]] = batch
        return copy.deepcopy(batch)

    # -- audio: transcriptions and translations ----------------------------

    def _audio(self, path: str, raw: bytes, request_id: str) -> None:
        """Whisper as Groq serves it (reference §11, groq-api-more §5): multipart in, the text of
        the audio out, its words chosen by ``transcript`` or derived from the audio's bytes."""
        srv = self.stand_in
        translate = path == TRANSLATIONS_PATH
        fields, files = _parse_multipart(self.headers.get("Content-Type", ""), raw)
        filename, data = files.get("file", ("", b""))
        entry: dict[str, Any] = {
            "path": path,
            "model": fields.get("model"),
            "language": fields.get("language"),
            "prompt": fields.get("prompt"),
            "response_format": fields.get("response_format"),
            "temperature": fields.get("temperature"),
            "filename": filename,
            "size": len(data),
            "status": 200,
        }
        try:
            answer = self._check_audio(fields, files, translate)
        except _HttpError as e:
            entry["status"] = e.status
            with srv._lock:
                srv.audio_requests.append(entry)
            raise
        with srv._lock:
            srv.audio_requests.append(entry)
        fmt, model_id = answer
        text = srv.transcript if srv.transcript is not None else _phrase_for(data)
        text = " " + text.strip()  # Whisper's leading space (§11.1)
        if fmt == "text":
            payload = text.encode("utf-8")
            try:
                self.send_response(200)
                self._common_headers(request_id)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                self.close_connection = True
            return
        x_groq = {"id": request_id}
        if fmt == "json":
            self._send_json(200, {"text": text, "x_groq": x_groq}, request_id)
            return
        duration = _audio_duration(data)
        language = "english" if translate else _LANGUAGE_NAMES.get(fields.get("language") or "en", "English")
        segment = {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": round(duration, 2),
            "text": text,
            "tokens": [50365 + i for i in range(len(tokenize(text)))],
            "temperature": float(fields.get("temperature") or 0),
            "avg_logprob": -0.1,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.01,
        }
        body = {
            "task": "translate" if translate else "transcribe",
            "language": language,
            "duration": duration,
            "text": text,
            "segments": [segment],
            "x_groq": x_groq,
        }
        self._send_json(200, body, request_id)

    def _check_audio(
        self, fields: dict[str, str], files: dict[str, tuple[str, bytes]], translate: bool
    ) -> tuple[str, str]:
        """Refuse what Groq refuses: (response_format, model id) of an acceptable request."""
        srv = self.stand_in
        if "file" in files and len(files["file"][1]) > srv.audio_max_bytes:
            raise _HttpError(413, _error_body("Request Entity Too Large", "invalid_request_error", "request_too_large"))
        model_id = fields.get("model")
        if not model_id:
            raise _bad_request("'model' : property 'model' is missing", "model")
        if model_id in srv.decommissioned:
            raise _decommissioned(model_id)
        if srv._find_model(model_id) is None:
            raise _model_not_found(model_id)
        if not model_id.startswith("whisper-"):
            raise _bad_request(f"The model `{model_id}` does not support audio transcription", "model")
        if translate and model_id != "whisper-large-v3":
            # [UNVERIFIED wording] Groq translates with whisper-large-v3 only (reference §11.2).
            raise _bad_request(f"The model `{model_id}` does not support translations", "model")
        if "file" not in files and not fields.get("url"):
            raise _bad_request("either file or url must be provided", "file")
        fmt = fields.get("response_format") or "json"
        if fmt not in ("json", "text", "verbose_json"):
            raise _bad_request("response_format must be one of [json text verbose_json]", "response_format")
        temperature = fields.get("temperature")
        if temperature is not None:
            try:
                ok = 0.0 <= float(temperature) <= 1.0
            except ValueError:
                ok = False
            if not ok:
                raise _bad_request("temperature must be between 0 and 1", "temperature")
        prompt = fields.get("prompt") or ""
        if len(prompt) > 896:  # groq-api-more §5.1: characters, whatever the docs say of tokens
            raise _bad_request(
                f"prompt length must be 896 characters or fewer, but provided prompt contains {len(prompt)} characters"
            )
        if "file" in files and _audio_format(files["file"][1]) is None:
            # [UNVERIFIED wording] what Groq answers a file that is not one of its formats.
            raise _bad_request(
                "file must be one of the following types: [flac mp3 mp4 mpeg mpga m4a ogg opus wav webm]", "file"
            )
        return fmt, model_id

    # -- audio: text to speech ---------------------------------------------

    def _speech(self, body: Any, request_id: str) -> None:
        """Orpheus as Groq serves it (groq-api-more §5.2): JSON in, a WAV out whose length grows
        with the text (``SPEECH_SECONDS_PER_CHAR`` of a quiet tone per character, deterministic)."""
        srv = self.stand_in
        fields = body if isinstance(body, dict) else {}
        entry: dict[str, Any] = {
            "model": fields.get("model"),
            "voice": fields.get("voice"),
            "input": fields.get("input"),
            "response_format": fields.get("response_format"),
            "sample_rate": fields.get("sample_rate"),
            "speed": fields.get("speed"),
            "status": 200,
        }
        try:
            if body is None:
                raise _bad_request("We could not parse the JSON body of your request.")
            rate = self._check_speech(fields)
        except _HttpError as e:
            entry["status"] = e.status
            with srv._lock:
                srv.speech_requests.append(entry)
            raise
        with srv._lock:
            srv.speech_requests.append(entry)
        payload = speech_wav(str(fields["input"]), rate)
        try:
            self.send_response(200)
            self._common_headers(request_id)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True

    def _check_speech(self, fields: dict[str, Any]) -> int:
        """Refuse what Groq refuses; the sample rate of an acceptable request."""
        srv = self.stand_in
        for name in ("model", "input", "voice"):
            if not fields.get(name):
                raise _bad_request(f"'{name}' : property '{name}' is missing", name)
        model_id = str(fields["model"])
        if model_id in srv.decommissioned:
            raise _decommissioned(model_id)
        if srv._find_model(model_id) is None:
            raise _model_not_found(model_id)
        voices = SPEECH_VOICES.get(model_id)
        if voices is None:
            raise _bad_request(f"The model `{model_id}` does not support text to speech", "model")
        text = str(fields["input"])
        if len(text) > SPEECH_MAX_INPUT:
            # [UNVERIFIED wording] groq-api-more §5.2's guess, modelled on the prompt-length error.
            raise _bad_request(
                f"input length must be {SPEECH_MAX_INPUT} characters or fewer, but provided input contains "
                f"{len(text)} characters",
                "input",
            )
        if fields["voice"] not in voices:
            # [UNVERIFIED wording]
            raise _bad_request(f"voice must be one of [{' '.join(voices)}]", "voice")
        if fields.get("response_format", "wav") != "wav":
            raise _bad_request("response_format must be one of [wav]", "response_format")
        rate = fields.get("sample_rate", 48_000)
        if rate not in SPEECH_SAMPLE_RATES:
            raise _bad_request(f"sample_rate must be one of [{' '.join(map(str, SPEECH_SAMPLE_RATES))}]", "sample_rate")
        speed = fields.get("speed", 1)
        if not isinstance(speed, (int, float)) or not 0.5 <= speed <= 5:
            raise _bad_request("speed must be between 0.5 and 5", "speed")
        return int(rate)

    # -- chat completions ------------------------------------------------

    def _chat(self, body: dict[str, Any], request_id: str) -> None:
        srv = self.stand_in
        received = time.monotonic()
        stream = bool(body.get("stream"))
        model = body.get("model")
        self._limits_model = model if isinstance(model, str) and model in srv.model_limits else None
        if srv.flex_at_capacity and body.get("service_tier") == "flex":
            raise _flex_capacity(str(model))

        fault = srv._take_fault(str(body.get("model") or ""))
        if fault is not None and fault.kind == "hang" and (fault.opts.get("after") is None or not stream):
            if not srv._sleep(float(fault.opts.get("seconds", 3600))):
                self.close_connection = True  # server stopping
                return
            fault = None
        if fault is not None and fault.kind == "drop" and not stream:
            self.close_connection = True  # no response at all: the SDK sees a connection error
            return
        if fault is not None:
            self._raise_status_fault(fault, body)

        model_id, max_tokens, prompt_tokens = self._check_request(body)
        plan = self._plan(body, model_id, max_tokens)
        denied = srv._admit(prompt_tokens + len(plan.reasoning) + len(plan.content), model_id)
        if denied is not None:
            raise self._rate_limited(model_id, denied)
        with srv._lock:
            srv.admitted_chats.append(body)

        ctx = _Completion(
            request_id=request_id,
            completion_id=f"chatcmpl-{uuid.uuid4()}",
            created=int(time.time()),
            model=model_id,
            fingerprint="fp_" + secrets.token_hex(5),
            seed=body.get("seed") if isinstance(body.get("seed"), int) else random.randrange(2**31),
            service_tier=body.get("service_tier")
            if body.get("service_tier") in ("flex", "performance")
            else "on_demand",
            prompt_tokens=prompt_tokens,
            received=received,
            cached_tokens=srv._cached(body, prompt_tokens),
        )
        if stream:
            self._stream(body, plan, ctx, fault)
        else:
            self._complete(plan, ctx)

    def _check_request(self, body: dict[str, Any]) -> tuple[str, int | None, int]:
        """Refuse what Groq refuses, in its order: (model id, max tokens asked for, prompt tokens)."""
        srv = self.stand_in
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise _bad_request("'model' : property 'model' is missing", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad_request("'messages' : property 'messages' is missing", "messages")
        if model_id in srv.decommissioned:
            raise _decommissioned(model_id)
        model = srv._find_model(model_id)
        if model is None:
            raise _model_not_found(model_id)
        if model_id.startswith(_NON_CHAT_PREFIXES):
            raise _bad_request(f"The model `{model_id}` does not support chat completions", "model")
        self._check_images(model_id, messages)
        n = body.get("n", 1)
        if n is not None and n != 1:
            raise _bad_request(
                "'n' : number must be at most 1" if isinstance(n, int) and n > 1 else "'n' : number must be at least 1",
                "n",
            )
        if body.get("reasoning_format") is not None and body.get("include_reasoning") is not None:
            raise _bad_request("reasoning_format and include_reasoning cannot be used together", "reasoning_format")

        max_tokens = body.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = body.get("max_tokens")
        model_max = model.get("max_completion_tokens")
        if isinstance(max_tokens, int) and isinstance(model_max, int) and max_tokens > model_max:
            raise _bad_request(
                f"`max_tokens` must be less than or equal to `{model_max}`, the maximum value for `max_tokens` "
                "is less than the `context_window` for this model",
                "max_tokens",
            )
        prompt_tokens = estimate_prompt_tokens(body)
        if prompt_tokens + (max_tokens or 0) > int(model.get("context_window") or 0):
            raise _context_exceeded()
        if prompt_tokens > srv.limit_tokens:
            raise _too_large(model_id, srv.organization, srv.limit_tokens, prompt_tokens)
        for tool in body.get("tools") or []:
            kind = tool.get("type") if isinstance(tool, dict) else None
            if kind in _BUILTIN_TOOLS and not model_id.startswith(_GPT_OSS_PREFIX):
                raise _bad_request(f"tool type `{kind}` is not supported with model `{model_id}`", "tools")
        return model_id, max_tokens, prompt_tokens

    def _check_images(self, model_id: str, messages: list[Any]) -> None:
        """Image parts: recorded (how many, how large), refused as Groq refuses them."""
        srv = self.stand_in
        found: list[tuple[int, dict[str, Any]]] = []
        for i, message in enumerate(messages):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "image_url":
                        found.append((i, _image_entry(part)))
        if not found:
            return
        entry: dict[str, Any] = {"model": model_id, "count": len(found), "images": [e for _, e in found]}
        with srv._lock:
            srv.image_requests.append(entry)
        base64_chars = sum(e["url_chars"] for _, e in found if e["mime"])
        error: _HttpError | None = None
        if model_id not in srv.vision_models:
            # Verbatim (groq-api-more.md §4): the first message with parts, singular "message".
            error = _bad_request(f"message[{found[0][0]}].content must be a string")
        elif len(found) > MAX_IMAGES_PER_REQUEST:
            error = _bad_request(
                f"Too many images provided. This model supports up to {MAX_IMAGES_PER_REQUEST} images", "messages"
            )
        elif any(e["mime"] is None for _, e in found):
            error = _bad_request("Invalid image data: expected a base64 data URL or an https URL", "messages")
        elif any((e["width"] or 0) * (e["height"] or 0) > MAX_IMAGE_PIXELS for _, e in found):
            error = _bad_request("Image exceeds the maximum resolution of 33177600 pixels", "messages")
        elif base64_chars > MAX_BASE64_REQUEST_BYTES:
            error = _HttpError(
                413,
                _error_body(
                    "Request Entity Too Large: base64 encoded images are limited to 4MB", "invalid_request_error"
                ),
            )
        entry["status"] = error.status if error is not None else 200
        if error is not None:
            raise error

    def _plan(self, body: dict[str, Any], model_id: str, max_tokens: int | None) -> _Plan:
        srv = self.stand_in
        reply_src, reasoning_src = srv.reply, srv.reasoning
        content = str(reply_src(body)) if callable(reply_src) else (reply_src or "")
        reasoning_text = reasoning_src(body) if callable(reasoning_src) else reasoning_src

        channel: str | None = None
        if reasoning_text and model_id.startswith(_GPT_OSS_PREFIX):
            if body.get("include_reasoning") is False or body.get("reasoning_format") == "hidden":
                reasoning_text = None
            channel = "analysis"
        elif reasoning_text and model_id.startswith(_QWEN_REASONING_PREFIX):
            fmt = body.get("reasoning_format")
            if fmt == "raw":
                content, reasoning_text = f"<think>{reasoning_text}</think>{content}", None
            elif fmt != "parsed" or body.get("include_reasoning") is False:
                reasoning_text = None
        else:
            reasoning_text = None

        finish = "stop"
        stops = body.get("stop")
        if isinstance(stops, str):
            stops = [stops]
        if isinstance(stops, list):
            cuts = [content.find(s) for s in stops if isinstance(s, str) and s and s in content]
            if cuts:
                content = content[: min(cuts)]

        reasoning = tokenize(reasoning_text) if reasoning_text else []
        pieces = tokenize(content)
        # Reasoning tokens are billed as completion tokens, so they eat the budget first.
        if isinstance(max_tokens, int) and max_tokens >= 0 and len(reasoning) + len(pieces) > max_tokens:
            finish = "length"
            reasoning = reasoning[:max_tokens]
            pieces = pieces[: max(0, max_tokens - len(reasoning))]
        return _Plan(
            reasoning=reasoning,
            content=pieces,
            finish_reason=finish,
            reasoning_channel=channel,
            tools=self._tool_items(body, model_id),
        )

    def _tool_items(self, body: dict[str, Any], model_id: str) -> list[dict[str, Any]]:
        """The executed_tools a request gets: a search (compound always; gpt-oss when asked)
        and a Python run (gpt-oss with code_interpreter: type "function", name "python")."""
        srv = self.stand_in
        asked = {t.get("type") for t in body.get("tools") or [] if isinstance(t, dict)}
        question = next(
            (_content_text(m.get("content")) for m in reversed(body["messages"]) if m.get("role") == "user"), ""
        )
        items: list[dict[str, Any]] = []
        if model_id.startswith(_COMPOUND_PREFIXES) or "browser_search" in asked:
            results = srv.search_results(body) if callable(srv.search_results) else srv.search_results
            output = "".join(
                f"Title: {r.get('title', '')}\nURL: {r.get('url', '')}\nContent: {r.get('content', '')}\n"
                f"Score: {r.get('score', 0)}\n\n"
                for r in results
            )
            items.append(
                {
                    "index": len(items),
                    "type": "search",
                    "arguments": json.dumps({"query": question[:200]}),
                    "output": output,
                    "search_results": {"results": copy.deepcopy(results)},
                }
            )
        if "code_interpreter" in asked:
            items.append(
                {
                    "index": len(items),
                    "type": "function",
                    "name": "python",
                    "arguments": json.dumps({"code": "print(2 + 2)"}),
                    "output": srv.code_output,
                    "search_results": {"results": None},
                    "code_results": [{"text": srv.code_output}],
                }
            )
        return items

    def _raise_status_fault(self, fault: Fault, body: dict[str, Any]) -> None:
        """Turn a queued status fault into an _HttpError; stream-shape faults pass through."""
        srv = self.stand_in
        kind, opts = fault.kind, fault.opts
        model = str(body.get("model") or "openai/gpt-oss-120b")
        extra_headers = dict(opts.get("headers") or {})
        if "should_retry" in opts:
            extra_headers["x-should-retry"] = "true" if opts["should_retry"] else "false"

        err: _HttpError | None
        if kind == "429":
            err = self._rate_limited(model, opts)
        elif kind == "401":
            err = _invalid_api_key()
        elif kind == "413":
            err = _too_large(
                model, srv.organization, srv.limit_tokens, int(opts.get("requested", srv.limit_tokens + 3881))
            )
        elif kind == "decommissioned":
            err = _decommissioned(model)
        elif kind == "model_not_found":
            err = _model_not_found(model)
        elif kind == "context_length_exceeded":
            err = _context_exceeded()
        elif kind == "498":
            # Exact body unverified (§7.2); clients match the "`flex` tier capacity exceeded" text.
            err = _HttpError(
                498,
                _error_body(
                    "`flex` tier capacity exceeded. Please try again later.",
                    "invalid_request_error",
                    "capacity_exceeded",
                ),
            )
        elif kind == "503":
            # Exact body unverified (§13); the "over capacity" text is what clients key on.
            err = _HttpError(
                503,
                _error_body(
                    f"{model} is currently over capacity. Please try again and back off exponentially. "
                    "Visit https://groqstatus.com to see if there is an active incident.",
                    "internal_server_error",
                    "over_capacity",
                ),
            )
        elif kind.isdigit():
            status = int(kind)
            err = _HttpError(
                status,
                _error_body(
                    HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error",
                    "internal_server_error" if status >= 500 else "invalid_request_error",
                ),
            )
        else:
            err = None  # stream-shape fault (drop, midstream_error, ...) handled later
        if err is None:
            return
        if "message" in opts and kind != "429":
            err.body["error"]["message"] = opts["message"]
        if "body" in opts:
            err.body = opts["body"]
        err.headers.update(extra_headers)
        raise err

    def _rate_limited(self, model: str, opts: dict[str, Any]) -> _HttpError:
        srv = self.stand_in
        with srv._lock:
            srv.answered_429 += 1
        window = str(opts.get("window") or ("TPM" if opts.get("limit_type") == "tokens" else "RPM")).upper()
        limit_type = opts.get("limit_type") or ("tokens" if window.startswith("T") else "requests")
        limit = int(
            opts.get("limit")
            or {"RPM": 30, "RPD": srv.limit_requests, "TPM": srv.limit_tokens, "TPD": 200_000}.get(window, 30)
        )
        requested = int(opts.get("requested") or (1 if limit_type == "requests" else 460))
        used = int(opts.get("used") if opts.get("used") is not None else max(0, limit - requested // 2))
        retry_after_ms = opts.get("retry_after_ms")
        retry_after = opts.get("retry_after")
        if retry_after is None:
            retry_after = max(1, math.ceil(retry_after_ms / 1000)) if retry_after_ms is not None else 2
        wait = retry_after_ms / 1000 if retry_after_ms is not None else retry_after
        message = opts.get("message") or (
            f"Rate limit reached for model `{model}` in organization `{srv.organization}` service tier "
            f"`on_demand` on {_WINDOW_NAMES.get(window, window)}: Limit {limit}, Used {used}, "
            f"Requested {requested}. Please try again in {go_duration(wait)}. {_UPGRADE_HINT}"
        )
        headers = {"retry-after": str(int(retry_after))}
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        return _HttpError(429, _error_body(message, limit_type, "rate_limit_exceeded"), headers)

    # -- non-stream ------------------------------------------------------

    def _complete(self, plan: _Plan, ctx: _Completion) -> None:
        srv = self.stand_in
        n_tokens = len(plan.reasoning) + len(plan.content)
        # Take as long as the equivalent stream would, so timeouts behave alike.
        if not srv._sleep(srv.first_token_delay):
            return
        started = time.monotonic()
        if not srv._sleep(n_tokens / srv.tokens_per_second if srv.tokens_per_second else 0.0):
            return
        message: dict[str, Any] = {"role": "assistant", "content": "".join(plan.content)}
        if plan.reasoning:
            message["reasoning"] = "".join(plan.reasoning)
        body = {
            "id": ctx.completion_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": plan.finish_reason}],
            "usage": ctx.usage(plan, started, time.monotonic()),
            "usage_breakdown": None,
            "system_fingerprint": ctx.fingerprint,
            "x_groq": {"id": ctx.request_id, "seed": ctx.seed},
            "service_tier": ctx.service_tier,
        }
        self._send_json(200, body, ctx.request_id)

    # -- stream ------------------------------------------------------------

    def _write_event(self, data: bytes, event: str | None = None) -> None:
        frame = (f"event: {event}\n".encode() if event else b"") + b"data: " + data + b"\n\n"
        if self._chunked:
            frame = f"{len(frame):x}\r\n".encode() + frame + b"\r\n"
        try:
            self.wfile.write(frame)  # wfile is unbuffered: one send per event
        except OSError as e:  # BrokenPipe / ConnectionReset / ConnectionAborted
            raise _ClientGone() from e

    def _stream(self, body: dict[str, Any], plan: _Plan, ctx: _Completion, fault: Fault | None) -> None:
        srv = self.stand_in
        self._chunked = srv.stream_framing == "chunked"
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
        try:
            self.send_response(200)
            self._common_headers(ctx.request_id)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            if self._chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
        except OSError:
            self.close_connection = True
            srv._note_closed_early()
            return

        try:
            self._stream_body(plan, ctx, fault, include_usage)
        except _ClientGone:
            self.close_connection = True
            srv._note_closed_early()

    @staticmethod
    def _tool_chunks(plan: _Plan) -> list[tuple[dict[str, Any], int]]:
        """Each tool announced, its call in the reasoning transcript, then the whole item again
        with its output, and the output echoed in the reasoning (groq-api-more.md §1.3)."""
        channel = {"channel": plan.reasoning_channel} if plan.reasoning_channel else {}
        chunks: list[tuple[dict[str, Any], int]] = []
        for item in plan.tools:
            announce = {k: v for k, v in item.items() if k not in ("output", "code_results")}
            if "search_results" in announce:
                announce["search_results"] = {"results": []}
            said = f"<tool>{item.get('name') or item['type']}({item['arguments']})</tool>\n"
            echoed = f"<output>{str(item.get('output'))[:200]}</output>\n"
            chunks += [
                ({"executed_tools": [announce]}, 0),
                ({"reasoning": said, **channel}, 1),
                ({"executed_tools": [item]}, 0),
                ({"reasoning": echoed, **channel}, 1),
            ]
        return chunks

    def _stream_body(self, plan: _Plan, ctx: _Completion, fault: Fault | None, include_usage: bool) -> None:
        srv = self.stand_in
        kind = fault.kind if fault else None
        opts = fault.opts if fault else {}
        after = opts.get("after", 1)
        fault_after = int(after) if after is not None else -1
        base = ctx.chunk_base()

        self._write_event(
            _go_json(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                    "x_groq": {"id": ctx.request_id, "seed": ctx.seed},
                }
            )
        )

        # Reasoning chunks first, then content; both count toward `after`.
        per_chunk = max(1, int(srv.chunk_tokens))
        chunks: list[tuple[dict[str, Any], int]] = []  # (delta, tokens in it)
        for i in range(0, len(plan.reasoning), per_chunk):
            part = plan.reasoning[i : i + per_chunk]
            delta: dict[str, Any] = {"reasoning": "".join(part)}
            if plan.reasoning_channel:
                delta["channel"] = plan.reasoning_channel
            chunks.append((delta, len(part)))
        chunks.extend(self._tool_chunks(plan))
        for i in range(0, len(plan.content), per_chunk):
            part = plan.content[i : i + per_chunk]
            chunks.append(({"content": "".join(part)}, len(part)))

        # first_token_delay shows up as queue_time, like a busy real server.
        if not srv._sleep(srv.first_token_delay):
            return
        tps = srv.tokens_per_second
        gen_start = started = time.monotonic()
        emitted_tokens = 0
        for index, (delta, n_tokens) in enumerate(chunks):
            if kind is not None and index == fault_after and self._stream_fault(kind, opts, ctx):
                return
            if tps:
                # Pace against an absolute schedule so sleep overshoot does not accumulate.
                due = gen_start + emitted_tokens / tps
                if not srv._sleep(due - time.monotonic()):
                    return
            self._write_event(
                _go_json(
                    {
                        **base,
                        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}],
                    }
                )
            )
            emitted_tokens += n_tokens
        if kind is not None and fault_after >= len(chunks) and self._stream_fault(kind, opts, ctx):
            return
        if tps:
            srv._sleep(gen_start + emitted_tokens / tps - time.monotonic())

        if kind != "no_finish":
            usage = ctx.usage(plan, started, time.monotonic())
            finish: dict[str, Any] = {
                **base,
                "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": plan.finish_reason}],
                "x_groq": {"id": ctx.request_id, "usage": usage},
            }
            if include_usage:
                finish["usage"] = usage
            self._write_event(_go_json(finish))
            if include_usage:
                self._write_event(_go_json({**base, "choices": [], "usage": usage, "service_tier": ctx.service_tier}))
        self._write_event(b"[DONE]")
        self._end_stream()

    def _stream_fault(self, kind: str, opts: dict[str, Any], ctx: _Completion) -> bool:
        """Apply a mid-stream fault at its position; True if the stream is over."""
        srv = self.stand_in
        if kind == "midstream_error":
            error = opts.get("error") or {
                "message": opts.get("message", "Service Unavailable: the stream was interrupted"),
                "type": opts.get("type", "internal_server_error"),
                **({"code": opts["code"]} if "code" in opts else {}),
            }
            self._write_event(_go_json({"error": error}), event="error" if opts.get("as_event") else None)
            self._end_stream()
            return True
        if kind == "x_groq_error":
            self._write_event(
                _go_json(
                    {
                        **ctx.chunk_base(),
                        "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}],
                        "x_groq": {
                            "id": ctx.request_id,
                            "error": opts.get(
                                "message", "An internal error occurred while generating; the stream was stopped early."
                            ),
                        },
                    }
                )
            )
            if opts.get("done", True):
                self._write_event(b"[DONE]")
            self._end_stream()
            return True
        if kind == "drop":
            # Close without a finish chunk, [DONE] or (if chunked) the final 0-length chunk.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if kind == "hang" and opts.get("after") is not None:
            srv._sleep(float(opts.get("seconds", 3600)))
            return srv._stopping.is_set()
        return False

    def _end_stream(self) -> None:
        if self._chunked:
            try:
                self.wfile.write(b"0\r\n\r\n")
            except OSError as e:
                raise _ClientGone() from e


@dataclass
class _Completion:
    """Identifiers and timing shared by all chunks of one completion."""

    request_id: str
    completion_id: str
    created: int
    model: str
    fingerprint: str
    seed: int
    service_tier: str
    prompt_tokens: int
    received: float
    cached_tokens: int = 0

    def chunk_base(self) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": self.fingerprint,
        }

    def usage(self, plan: _Plan, started: float, ended: float) -> dict[str, Any]:
        completion_tokens = len(plan.reasoning) + len(plan.content)
        queue_time = max(0.0, started - self.received)
        prompt_time = self.prompt_tokens * 2e-5  # ~50k tokens/s prefill, like the live captures
        completion_time = max(0.0, ended - started)
        usage: dict[str, Any] = {
            "queue_time": round(queue_time, 9),
            "prompt_tokens": self.prompt_tokens,
            "prompt_time": round(prompt_time, 9),
            "completion_tokens": completion_tokens,
            "completion_time": round(completion_time, 9),
            "total_tokens": self.prompt_tokens + completion_tokens,
            "total_time": round(prompt_time + completion_time, 9),
        }
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.model.startswith((_GPT_OSS_PREFIX, _QWEN_REASONING_PREFIX)):
            usage["completion_tokens_details"] = {"reasoning_tokens": len(plan.reasoning)}
        return usage


# --------------------------------------------------------------------------- audio helpers

_LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "de": "German", "fr": "French", "es": "Spanish", "ja": "Japanese"}
_PHRASE_WORDS = (
    "hello",
    "there",
    "how",
    "are",
    "you",
    "today",
    "please",
    "tell",
    "me",
    "about",
    "the",
    "weather",
    "in",
    "paris",
    "and",
    "what",
    "time",
    "the",
    "next",
    "train",
    "leaves",
    "for",
    "london",
    "thank",
    "you",
    "very",
    "much",
)


def _phrase_for(data: bytes) -> str:
    """A deterministic sentence derived from the audio's bytes (the same bytes, the same words)."""
    digest = hashlib.sha256(data).digest()
    words = [_PHRASE_WORDS[b % len(_PHRASE_WORDS)] for b in digest[: 4 + digest[0] % 5]]
    return " ".join(words).capitalize() + "."


def _audio_format(data: bytes) -> str | None:
    """Which of Groq's formats the bytes are, by their magic bytes; None when none."""
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if data[4:8] == b"ftyp":
        return "mp4"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    if data[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    return None


def _audio_duration(data: bytes) -> float:
    """Seconds of audio: from a WAV's header, else an estimate (128 kbit/s)."""
    if _audio_format(data) == "wav":
        byte_rate, size, pos = 0, None, 12
        while pos + 8 <= len(data):
            chunk_id, chunk_size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
            if chunk_id == b"fmt " and chunk_size >= 16:
                byte_rate = int.from_bytes(data[pos + 16 : pos + 20], "little")
            elif chunk_id == b"data":
                size = min(chunk_size, len(data) - pos - 8)
                break
            pos += 8 + chunk_size + (chunk_size & 1)
        if byte_rate and size is not None:
            return round(size / byte_rate, 6)
    return round(len(data) / 16_000, 6)


# Text to speech (groq-api-more §5.2): Orpheus's voices per model, its input limit, its rates.
SPEECH_VOICES: dict[str, tuple[str, ...]] = {
    "canopylabs/orpheus-v1-english": ("autumn", "diana", "hannah", "austin", "daniel", "troy"),
    "canopylabs/orpheus-arabic-saudi": ("fahad", "sultan", "lulwa", "noura"),
}
SPEECH_MAX_INPUT = 200
SPEECH_SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
SPEECH_SECONDS_PER_CHAR = 0.06


def speech_frames(text: str, rate: int = 48_000) -> int:
    """How many frames the stand-in speaks ``text`` in: 60 ms a character."""
    return len(text) * rate * round(SPEECH_SECONDS_PER_CHAR * 1000) // 1000


_TONES: dict[int, bytes] = {}


def _tone_second(rate: int) -> bytes:
    """One second of a quiet 200 Hz tone (about -26 dBFS), 16-bit little-endian mono."""
    if rate not in _TONES:
        _TONES[rate] = b"".join(
            struct.pack("<h", int(1600 * math.sin(2 * math.pi * 200 * n / rate))) for n in range(rate)
        )
    return _TONES[rate]


def speech_wav(text: str, rate: int = 48_000) -> bytes:
    """The stand-in's speech for ``text``: a RIFF/WAVE, PCM 16-bit mono, ``speech_frames`` long."""
    frames = speech_frames(text, rate)
    second = _tone_second(rate)
    samples = (second * (frames // rate + 1))[: frames * 2]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples)
    return buffer.getvalue()


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """multipart/form-data as the SDK sends it (reference §8.7): (text fields, files by field name)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if not content_type.startswith("multipart/form-data") or match is None:
        return fields, files
    delimiter = b"--" + match.group(1).encode("latin-1")
    for part in raw.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, body = part.partition(b"\r\n\r\n")
        body = body[:-2] if body.endswith(b"\r\n") else body
        headers = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', headers)
        if name is None:
            continue
        filename = re.search(r'\bfilename="([^"]*)"', headers)
        if filename is not None:
            files[name.group(1)] = (filename.group(1), body)
        else:
            fields[name.group(1)] = body.decode("utf-8", "replace")
    return fields, files


# --------------------------------------------------------------------------- CLI


def _parse_args(argv: Iterable[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Loopback stand-in for the Groq API.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--api-key", default=None, help="accepted key (default: random gsk_test_...)")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--reply", default=None, help="exact reply text")
    text.add_argument("--reply-tokens", type=int, default=None, help="generate a deterministic reply of N tokens")
    p.add_argument("--reasoning", default=None, help="reasoning text streamed first for gpt-oss models")
    p.add_argument("--tokens-per-second", type=float, default=None, help="token rate (default: unthrottled)")
    p.add_argument("--chunk-tokens", type=int, default=1, help="tokens per SSE chunk")
    p.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first token")
    p.add_argument("--limit-requests", type=int, default=1000, help="RPD in x-ratelimit headers")
    p.add_argument("--limit-tokens", type=int, default=8000, help="TPM in x-ratelimit headers / 413 check")
    p.add_argument("--enforce-rate-limits", action="store_true", help="answer 429 when a bucket is empty")
    p.add_argument("--stream-framing", choices=("close", "chunked"), default="close")
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    return p.parse_args(list(argv) if argv is not None else None)


def main(argv: Iterable[str] | None = None) -> int:
    args = _parse_args(argv)
    reply = (
        args.reply
        if args.reply is not None
        else (make_reply(args.reply_tokens) if args.reply_tokens is not None else DEFAULT_REPLY)
    )
    server = StandInGroq(
        reply=reply,
        reasoning=args.reasoning,
        tokens_per_second=args.tokens_per_second,
        chunk_tokens=args.chunk_tokens,
        first_token_delay=args.first_token_delay,
        limit_requests=args.limit_requests,
        limit_tokens=args.limit_tokens,
        enforce_rate_limits=args.enforce_rate_limits,
        host=args.host,
        port=args.port,
        stream_framing=args.stream_framing,
        verbose=args.verbose,
        **({"api_key": args.api_key} if args.api_key else {}),
    )
    # SIGTERM should run the finally block below rather than kill us mid-write.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    parent = os.getppid()
    server.start()
    try:
        print(f"READY {server.base_url} {server.api_key}", flush=True)
        # Exit by ourselves once the parent is gone, so a crashed test run
        # never leaves a server holding a port.
        while os.getppid() == parent:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
