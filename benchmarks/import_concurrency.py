"""Chat saves while a large import writes: how long does another user's save wait?

    python -m benchmarks.import_concurrency [--mb 50] [--one-transaction]

One SQLite file (WAL, the app's own engine settings). A ChatGPT export of about ``--mb`` MB
(made here: ~180,000 short messages at 50 MB) is previewed twice (the second is the History
page's rerun: it must not parse again) and imported by one user, while a writer thread saves a
message as another user every 20 ms through the real ``Turns.start_turn`` (a save
commits the user's message before any provider call). The same saves, paced the same, are
first timed with no import running: the baseline of the same run. Figures: each save's wall
time (its wait for the lock included), max / p95 / median, and ratios against the baseline.
``--one-transaction`` also runs the import the old way (one transaction for all of it) into a
second file, for comparison.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.report import machine_load, print_table, record
from chatbot.errors import ChatError
from chatbot.history import HistoryService
from chatbot.importing import Upload, writer
from chatbot.providers.base import ModelInfo
from chatbot.settings import AppSettings
from chatbot.store.db import open_database
from chatbot.turns import Turns
from tests import big_exports

MB = 1024 * 1024
TARGET = 0.5  # seconds: the worst wait of a save during the import
PACE = 0.02  # seconds between two saves
PER_CONVERSATION = 20  # saves per conversation, then a new one (the history read stays alike)
MODEL = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=65536)


class Saver:
    """Saves a message every PACE seconds until stopped; keeps each save's duration."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.chat = Turns(sessions, lambda name: None, owner="someone-else")  # type: ignore[arg-type,return-value]
        self.waits: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="saver")

    def _run(self) -> None:
        conversation: str | None = None
        n = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                pending = self.chat.start_turn(conversation, f"message {n}", MODEL, AppSettings())
            except (OperationalError, ChatError) as error:  # "database is locked", as the app words it
                self.failures.append(str(error))
                conversation = None
            else:
                conversation = pending.conversation_id if (n + 1) % PER_CONVERSATION else None
            self.waits.append(time.perf_counter() - started)
            n += 1
            self.stop.wait(PACE)

    def run_while(self, work: Callable[[], None]) -> None:
        self.thread.start()
        try:
            work()
        finally:
            self.stop.set()
            self.thread.join()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--baseline-seconds", type=float, default=8.0)
    parser.add_argument("--one-transaction", action="store_true")
    args = parser.parse_args()

    data = big_exports.chatgpt(int(args.mb * MB), messages_each=40, chars=60)
    uploads = [Upload("conversations.json", data)]
    with tempfile.TemporaryDirectory() as tmp:
        engine, sessions = open_database(f"sqlite:///{Path(tmp) / 'chat.db'}")
        history = HistoryService(sessions, owner="importer")

        rss_start = rss_mb()
        started = time.perf_counter()
        preview = history.preview_import(uploads)
        first_preview = time.perf_counter() - started
        started = time.perf_counter()
        history.preview_import(uploads)
        second_preview = time.perf_counter() - started
        rss_preview = rss_mb()

        baseline = Saver(sessions)
        baseline.run_while(lambda: time.sleep(args.baseline_seconds))

        during = Saver(sessions)
        timing: dict[str, float] = {}

        def run_import() -> None:
            began = time.perf_counter()
            report = history.import_uploads(uploads)
            timing["import"] = time.perf_counter() - began
            timing["messages"] = report.message_count

        during.run_while(run_import)
        rss_import = rss_mb()
        engine.dispose()

        old: Saver | None = None
        if args.one_transaction:
            engine, sessions = open_database(f"sqlite:///{Path(tmp) / 'old.db'}")
            old_history = HistoryService(sessions, owner="importer")
            old = Saver(sessions)
            original = writer.Budget

            def one_transaction() -> writer.Budget:  # as before the fix: all of it at once
                budget = original(10**9, 10**12)
                budget.adapt = lambda rows, chars, held: None  # type: ignore[method-assign]
                return budget

            writer.Budget = one_transaction  # type: ignore[assignment,misc]
            began = time.perf_counter()
            try:
                old.run_while(lambda: old_history.import_uploads(uploads))
                timing["old import"] = time.perf_counter() - began
            finally:
                writer.Budget = original  # type: ignore[misc]
            engine.dispose()

    def cell(values: list[float], f: Callable[[list[float]], float]) -> str:
        return f"{f(values):.3f} s" if values else "-"

    rows: list[list[object]] = []
    for name, f in (("max", max), ("p95", p95), ("median", statistics.median)):
        ours, base = f(during.waits), f(baseline.waits)
        row: list[object] = [f"chat save wait, {name}", f"{ours:.3f} s", f"{base:.3f} s", f"{ours / base:.2f}"]
        if old is not None:
            row.insert(3, cell(old.waits, f))
        rows.append(row)
    failures: list[object] = [
        "saves that failed (database is locked)",
        f"{len(during.failures)} of {len(during.waits)}",
        f"{len(baseline.failures)} of {len(baseline.waits)}",
        "-",
    ]
    if old is not None:
        failures.insert(3, f"{len(old.failures)} of {len(old.waits)}")
    rows.append(failures)
    blank = ["-"] * (2 if old is None else 3)
    rows += [
        [
            f"import of {len(data) / MB:.0f} MB, {int(timing['messages']):,} messages",
            f"{timing['import']:.1f} s",
            *blank[:1],
            *([f"{timing['old import']:.1f} s"] if old is not None else []),
            f"{timing['import'] / timing['old import']:.2f}" if old is not None else "-",
        ],
        ["preview, first (parses the file)", f"{first_preview:.1f} s", *blank],
        ["preview, again (page rerun: parsed batch reused)", f"{second_preview:.2f} s", *blank],
        [
            "peak RSS growth: preview / import",
            f"{rss_preview - rss_start:.0f} / {rss_import - rss_start:.0f} MB",
            *blank,
        ],
    ]
    header = ["figure", "during the import", "no import (baseline)"]
    if old is not None:
        header.append("during a one-transaction import")
    header.append("ratio")
    print_table(header, rows)
    worst = max(during.waits)
    met = worst < TARGET and not during.failures
    record(
        "import_concurrency",
        rows,
        f"worst wait of another user's chat save during a {args.mb:.0f} MB import under {TARGET} s, none failing",
        met,
        header=header,
        note=(
            f"{len(during.waits)} saves during the import and {len(baseline.waits)} without, one every "
            f"{PACE * 1000:.0f} ms; {len(preview.items):,} conversations; {machine_load()} at the end."
        ),
        command="python -m benchmarks.import_concurrency" + (" --one-transaction" if old is not None else ""),
    )


if __name__ == "__main__":
    main()
