"""A batch against a requests-per-minute limit: how busy does it keep the rate Groq allows?

    python -m benchmarks.batch_rate [--prompts 1000] [--rpm 250] [--concurrency 16]

The stand-in allows ``--rpm`` requests in any 60 s (a sliding window, as Groq's RPM) and answers
429 with retry-after beyond it; the limit is said only in the 429 (never in the x-ratelimit
headers), so the batch must find it. ``--prompts`` short prompts go through the real
``BatchService`` (real groq SDK, SQLite, a row saved per reply) with ``--concurrency`` requests
at a time.

The baseline is the limit itself, in the same run: each admitted request's slot frees 60 s after
it, and a client that kept the limit fully busy would use every freed slot at once. Busy =
60 s ÷ (60 s + the mean delay between a slot freeing and the next admission that reuses it),
over every slot reused. Also: rows failed (must be 0), 429s answered (requests refused, not
rows), and the run's length against the shortest the window permits.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import machine_load, print_table, record
from chatbot.batch import BatchService
from chatbot.batch_input import BatchPrompt
from chatbot.providers import Providers
from chatbot.store.db import open_database
from tests.stand_in_groq import StandInGroq

TARGET = 0.9
WINDOW = 60.0


class CountingStandIn(StandInGroq):
    """The stand-in, keeping the moment of each request it admitted (not those it refused)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.admitted: list[float] = []

    def _admit(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        refused: dict[str, Any] | None = super()._admit(*args, **kwargs)
        if refused is None:
            with self._lock:
                self.admitted.append(time.monotonic())
        return refused


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--rpm", type=int, default=250)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, CountingStandIn(reply="Fine.", limit_requests_per_minute=args.rpm) as s:
        engine, sessions = open_database(f"sqlite:///{Path(tmp) / 'chat.db'}")
        batches = BatchService(sessions, "", Providers(s.api_key, s.base_url))
        prompts = [BatchPrompt(str(n), f"Question {n}?") for n in range(1, args.prompts + 1)]
        run_id = batches.create("benchmark", prompts, ["groq:llama-3.1-8b-instant"], concurrency=args.concurrency)
        started = time.monotonic()
        batches.start(run_id)
        batches.wait(run_id)
        length = time.monotonic() - started
        progress = batches.progress(run_id)
        engine.dispose()
        admitted = sorted(s.admitted)
        refused = s.answered_429

    # Admission i's slot frees at admitted[i] + 60 s; admission i + rpm is the one that reuses it.
    lags = [max(0.0, admitted[i + args.rpm] - (admitted[i] + WINDOW)) for i in range(len(admitted) - args.rpm)]
    mean_lag = statistics.fmean(lags) if lags else 0.0
    busy = WINDOW / (WINDOW + mean_lag)
    # The shortest run the window permits, given how fast the first burst went out.
    shortest = (admitted[-1 - args.rpm] + WINDOW - admitted[0]) if len(admitted) > args.rpm else 0.0
    rows = [
        ("busy share of the allowed rate", f"{busy:.1%}", "100%", f"{busy:.2f}"),
        ("mean delay reusing a freed slot", f"{mean_lag:.2f} s", "0 s", "-"),
        ("run length", f"{length:.1f} s", f"{shortest:.1f} s", f"{shortest / length:.2f}" if length else "-"),
        ("rows done / failed / pending", f"{progress.done} / {progress.failed} / {progress.pending}", "-", "-"),
        ("requests refused with 429", str(refused), "0", "-"),
    ]
    header = ["figure", "ours", "the limit", "ratio"]
    print_table(header, rows)
    met = busy >= TARGET and progress.failed == 0 and progress.done == args.prompts
    record(
        "batch_rate",
        rows,
        f"a batch of {args.prompts:,} short prompts keeps a {args.rpm}-requests-a-minute limit at least "
        f"{TARGET:.0%} busy, no row failing",
        met,
        header=header,
        note=(
            f"{len(lags)} slots reused; concurrency {args.concurrency}; the limit said only in 429s (RPM), "
            f"so it is learned; {machine_load()} at the end."
        ),
        command="python -m benchmarks.batch_rate",
    )


if __name__ == "__main__":
    main()
