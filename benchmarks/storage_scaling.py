"""Storage stays flat as history grows: save, open and list at 1k … 1M stored messages.

    python -m benchmarks.storage_scaling [--max 1000000]

One SQLite file grows in steps (10k, 100k, 1M messages; 20 per conversation, so 50,000
conversations at the end). At each step the same operations are timed through the app's own
service, alternating with the same operations on a second file of 1k messages (the baseline,
measured at the same moment, so the machine's load moves both alike); the figure is the median
on the grown file divided by the median on the small one. Flat means a ratio near 1.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from benchmarks.fixtures import paragraph
from benchmarks.report import machine_load, print_table, record
from chatbot.conversation import ConversationService
from chatbot.history import ConversationFilter, HistoryService
from chatbot.store import repo
from chatbot.store.db import open_database
from chatbot.store.models import Conversation, Message, new_id, utcnow

PER_CONVERSATION = 20
SAMPLES = 60
BASELINE_SIZE = 1_000
FLAT = 2.0  # a ratio at most this: what "flat" allows for caches that no longer hold everything


def grow(sessions, total_messages: int, have: int, rng: random.Random) -> int:  # type: ignore[no-untyped-def]
    """Add conversations until ``total_messages`` are stored (bulk inserts, as an import would)."""
    now = utcnow()
    while have < total_messages:
        batch = min(500, (total_messages - have) // PER_CONVERSATION)
        conversations, messages = [], []
        for _ in range(batch):
            cid = new_id()
            when = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
            conversations.append(
                {
                    "id": cid,
                    "owner": "",
                    "title": paragraph(rng, 40),
                    "provider": "groq",
                    "model": "openai/gpt-oss-20b",
                    "params": {},
                    "created_at": when,
                    "updated_at": when,
                }
            )
            parent = None
            for i in range(PER_CONVERSATION):
                mid = new_id()
                messages.append(
                    {
                        "id": mid,
                        "conversation_id": cid,
                        "parent_id": parent,
                        "role": "user" if i % 2 == 0 else "assistant",
                        "content": paragraph(rng, 120 if i % 2 == 0 else 400),
                        "status": "complete",
                        "created_at": when + timedelta(seconds=i),
                        "updated_at": when + timedelta(seconds=i),
                    }
                )
                parent = mid
        with sessions.begin() as s:
            s.execute(insert(Conversation), conversations)
            s.execute(insert(Message), messages)
        have += batch * PER_CONVERSATION
    return have


class Store:
    """One SQLite file of history and the operations timed on it."""

    def __init__(self, path: Path) -> None:
        self.sessions = open_database(f"sqlite:///{path}")[1]
        self.conversations = ConversationService(self.sessions)
        self.history = HistoryService(self.sessions)
        self.stored = 0

    def grow(self, size: int, rng: random.Random) -> None:
        self.stored = grow(self.sessions, size, self.stored, rng)

    def operations(self) -> dict[str, Callable[[], object]]:
        listed = ConversationFilter(pinned=None)
        first = self.history.page(listed, limit=30)
        page = first.items
        target = page[len(page) // 2].id
        cursor = first.next_cursor

        def save() -> None:
            with self.sessions.begin() as s:
                repo.add_message(s, target, role="user", content="one more question", status="complete")
                repo.touch_conversation(s, target)

        return {
            "save a message": save,
            "open a conversation": lambda: self.conversations.recent_messages(target),
            "list a page": lambda: self.history.page(listed, limit=30),
            "list the next page": lambda: self.history.page(listed, cursor, limit=30),
        }


def paired_medians(big: Callable[[], object], small: Callable[[], object]) -> tuple[float, float]:
    """Median ms of each, their samples alternating, so a busy moment slows both alike."""
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(SAMPLES):
        for operation, kept in ((big, timings[0]), (small, timings[1])):
            started = time.perf_counter()
            operation()
            kept.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[0]), statistics.median(timings[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max", type=int, default=1_000_000)
    args = parser.parse_args()
    sizes = [n for n in (10_000, 100_000, 1_000_000) if n <= args.max]
    rows = []
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Store(Path(tmp) / "baseline.db")
        baseline.grow(BASELINE_SIZE, random.Random(2))
        store = Store(Path(tmp) / "bench.db")
        rng = random.Random(1)
        for size in sizes:
            started = time.perf_counter()
            store.grow(size, rng)
            print(f"{size:>9,} messages stored ({time.perf_counter() - started:.0f} s)", flush=True)
            small = baseline.operations()
            for name, operation in store.operations().items():
                ours, base = paired_medians(operation, small[name])
                ratio = ours / base
                worst = max(worst, ratio)
                rows.append((f"{name} @ {size:,}", f"{ours:.2f} ms", f"{base:.2f} ms", f"{ratio:.2f}"))
                print(f"  {rows[-1][0]:32} {rows[-1][1]:>10} {rows[-1][2]:>10} {rows[-1][3]:>6}", flush=True)
    header = ["figure", "ours", f"same at {BASELINE_SIZE:,} messages", "ratio"]
    print_table(header, rows)
    record(
        "storage_scaling",
        rows,
        target=f"ratio ≤ {FLAT} from {BASELINE_SIZE:,} to {sizes[-1]:,} messages (flat)",
        met=worst <= FLAT,
        header=header,
        note=f"Each row: median of {SAMPLES} runs on the grown file, alternating with {SAMPLES} on a "
        f"{BASELINE_SIZE:,}-message file measured at the same moment; {machine_load()} at the end.",
    )


if __name__ == "__main__":
    main()
