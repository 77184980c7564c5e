"""The stand-in Groq server in its own process, reporting when each streamed reply was sent.

    python -m benchmarks.timed_stand_in --reply-tokens 8000 --tokens-per-second 2000

Prints ``READY <base_url> <api_key>``, then one JSON line per finished stream, with wall-clock
times (``time.time()``, comparable with the browser's ``performance.timeOrigin + now()``):
``request`` (the request reached the server), ``first_token`` and ``last_token`` (written to the
socket), ``done``. A process of its own so that its pacing never waits for the benchmark's
Python (Playwright) or the apps' (two ``streamlit run`` processes).

Each transcription (or translation) answered is a JSON line too, with ``"kind": "transcription"``:
``request`` (its upload was read), ``answered`` (the response written to the socket), ``status``
and ``text``. ``--transcript`` fixes the words every transcription carries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from tests import stand_in_groq
from tests.stand_in_groq import StandInGroq, make_reply

_print_lock = threading.Lock()


def _instrument() -> None:
    handler = stand_in_groq._Handler
    original_stream = handler._stream
    original_write = handler._write_event

    def _stream(self, body, plan, ctx, fault):  # type: ignore[no-untyped-def]
        self._bench = {"request": time.time(), "first_token": None, "last_token": None, "events": 0}
        try:
            original_stream(self, body, plan, ctx, fault)
        finally:
            self._bench = None

    def _write_event(self, data: bytes, event: str | None = None) -> None:
        original_write(self, data, event)
        now = time.time()
        bench = getattr(self, "_bench", None)
        if bench is None:
            return
        bench["events"] += 1
        if b'"content":"' in data and b'"content":""' not in data:
            if bench["first_token"] is None:
                bench["first_token"] = now
            bench["last_token"] = now
        if data == b"[DONE]":
            bench["done"] = now
            with _print_lock:
                print(json.dumps(bench), flush=True)

    handler._stream = _stream
    handler._write_event = _write_event


def _instrument_transcriptions() -> None:
    """When each transcription's answer left: kept apart from the streams' timing, which it
    shares nothing with (an audio answer is one JSON body, written by ``_send_json``)."""
    handler = stand_in_groq._Handler
    original_audio = handler._audio
    original_send = handler._send_json

    def _answered(self, now: float, status: int, text: object) -> None:  # type: ignore[no-untyped-def]
        bench, self._bench_audio = self._bench_audio, None
        bench.update(answered=now, status=status, text=text)
        with _print_lock:
            print(json.dumps(bench), flush=True)

    def _audio(self, path: str, raw: bytes, request_id: str) -> None:  # type: ignore[no-untyped-def]
        self._bench_audio = {"kind": "transcription", "path": path, "request": time.time()}
        original_audio(self, path, raw, request_id)
        if self._bench_audio is not None:  # the "text" format writes its answer itself
            _answered(self, time.time(), 200, None)

    # A refusal raised in _audio is sent by _dispatch through _send_json: timed here too.
    def _send_json(self, status, body, request_id, extra=None):  # type: ignore[no-untyped-def]
        original_send(self, status, body, request_id, extra)
        now = time.time()
        if getattr(self, "_bench_audio", None) is not None:
            _answered(self, now, status, body.get("text") if isinstance(body, dict) else None)

    handler._audio = _audio  # type: ignore[method-assign]
    handler._send_json = _send_json  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reply-tokens", type=int, default=200)
    parser.add_argument("--tokens-per-second", type=float, default=None)
    parser.add_argument("--chunk-tokens", type=int, default=1)
    parser.add_argument(
        "--limit-tokens",
        type=int,
        default=10_000_000,
        help="TPM in the headers and the 413 check (default: never in the way)",
    )
    parser.add_argument("--transcript", default=None, help="the words of every transcription")
    args = parser.parse_args()
    _instrument()
    _instrument_transcriptions()
    server = StandInGroq(
        reply=make_reply(args.reply_tokens),
        tokens_per_second=args.tokens_per_second,
        chunk_tokens=args.chunk_tokens,
        limit_tokens=args.limit_tokens,
    )
    # The benchmarks measure rendering, not limits: a 1,000-message history (~130k tokens,
    # sent whole by the baseline) must not be refused as longer than the context window.
    for model in server.models:
        model["context_window"] = max(int(model.get("context_window") or 0), 10_000_000)
    server.transcript = args.transcript
    server.start()
    parent = os.getppid()
    print(f"READY {server.base_url} {server.api_key}", flush=True)
    try:
        while os.getppid() == parent:  # gone with the benchmark, even if it was killed
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
