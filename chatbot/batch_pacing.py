"""How fast a batch may send: the limits Groq reports, kept as buckets that refill.

Groq says what is left in every response (``x-ratelimit-*``: tokens per minute, requests per
day) and, when a limit is hit, how long to wait (429 with ``retry-after``). Requests per minute
appear only in a 429's message, so that limit is learned: the requests admitted in the minute
before the 429 are what the limit allows. Every worker of a run asks :meth:`RateGate.reserve`
before sending and tells :meth:`RateGate.observe` what the answer's headers said.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from chatbot.providers.base import RateLimits

MINUTE = 60.0
DAY = 86_400.0


class RateGate:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._token_limit: int | None = None
        self._tokens = 0.0
        self._tokens_at = 0.0
        self._requests_limit: int | None = None
        self._requests_left: int | None = None
        # Sent but not yet answered: the headers of an answer do not count them yet.
        self._in_flight_tokens = 0
        self._in_flight = 0
        self._rpm: int | None = None
        self._sent: deque[float] = deque()
        self._admitted: deque[float] = deque()

    def reserve(self, tokens: int) -> float:
        """0.0 when a request of about ``tokens`` may go now (it is counted as sent); else the
        seconds to wait before asking again."""
        with self._lock:
            now = self._clock()
            waits = [self._paused_until - now, self._tokens_wait(now, tokens), self._rpm_wait(now)]
            if self._requests_left is not None and self._requests_left <= 0:
                waits.append(DAY / max(1, self._requests_limit or 1))  # one request's refill
            wait = max(waits)
            if wait > 0:
                return wait
            if self._token_limit is not None:
                self._tokens -= tokens
            if self._requests_left is not None:
                self._requests_left -= 1
            self._in_flight_tokens += tokens
            self._in_flight += 1
            self._sent.append(now)
            self._trim(self._sent, now)
            return 0.0

    def done(self, tokens: int, limits: RateLimits | None) -> None:
        """A reserved request was answered (or failed); ``limits``: its headers, if it had any."""
        with self._lock:
            now = self._clock()
            self._in_flight_tokens = max(0, self._in_flight_tokens - tokens)
            self._in_flight = max(0, self._in_flight - 1)
            if limits is None:
                return
            self._admitted.append(now)
            self._trim(self._admitted, now)
            # Answers can be read out of order: one read late reports an older, fuller bucket
            # than an answer already counted. So headers may lower what is thought left, and
            # only the passing of time raises it.
            if limits.limit_tokens and limits.remaining_tokens is not None:
                reported = float(limits.remaining_tokens - self._in_flight_tokens)
                if self._token_limit is not None:
                    self._tokens_wait(now, 0)  # brings the estimate up to now
                    reported = min(reported, self._tokens)
                self._token_limit = limits.limit_tokens
                self._tokens, self._tokens_at = reported, now
            if limits.limit_requests and limits.remaining_requests is not None:
                reported_requests = limits.remaining_requests - self._in_flight
                if self._requests_left is not None:
                    reported_requests = min(reported_requests, self._requests_left)
                self._requests_limit = limits.limit_requests
                self._requests_left = reported_requests

    def limited(self, window: str, seconds: float) -> None:
        """A 429: nobody sends for ``seconds``; a per-minute request limit is learned."""
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + seconds)
            if window == "RPM":
                self._trim(self._admitted, now)
                # Nothing admitted in the last minute: the limit was spent by others on this key
                # (or is unknown); pausing is all there is to do.
                if self._admitted:
                    self._rpm = len(self._admitted)
            elif window in ("TPM", "tokens") and self._token_limit is not None:
                self._tokens, self._tokens_at = 0.0, now

    def paused_for(self) -> float:
        """Seconds left of the wait a 429 asked for (0 when none)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    def _tokens_wait(self, now: float, tokens: int) -> float:
        limit = self._token_limit
        if limit is None:
            return 0.0
        rate = limit / MINUTE
        self._tokens = min(float(limit), self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        # A request larger than the whole bucket goes once the bucket is full (Groq answers 413
        # if it can never fit), rather than waiting for ever.
        needed = min(float(tokens), float(limit))
        return 0.0 if self._tokens >= needed else (needed - self._tokens) / rate

    def _rpm_wait(self, now: float) -> float:
        if self._rpm is None:
            return 0.0
        self._trim(self._sent, now)
        if len(self._sent) < self._rpm:
            return 0.0
        return self._sent[len(self._sent) - self._rpm] + MINUTE - now

    @staticmethod
    def _trim(times: deque[float], now: float) -> None:
        while times and times[0] <= now - MINUTE:
            times.popleft()
