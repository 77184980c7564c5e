"""Storage stays flat as history grows: save, open and list at 1k … 1M stored messages.

    python -m benchmarks.storage_scaling [--max 1000000]

One SQLite file grows in steps (1k, 10k, 100k, 1M messages; 20 per conversation, so 50,000
conversations at the end). At each step the same operations are timed through the app's own
service; the figure is the median at that size divided by the median at 1k (the baseline,
measured in the same run). Flat means a ratio near 1.
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
from benchmarks.report import print_table, record
from chatbot.service import ChatService
from chatbot.store import repo
from chatbot.store.db import open_database
from chatbot.store.models import Conversation, Message, new_id, utcnow

PER_CONVERSATION = 20
SAMPLES = 40


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
                {"id": cid, "owner": "", "title": paragraph(rng, 40), "provider": "groq",
                 "model": "openai/gpt-oss-20b", "params": {}, "created_at": when, "updated_at": when}
            )
            parent = None
            for i in range(PER_CONVERSATION):
                mid = new_id()
                messages.append(
                    {"id": mid, "conversation_id": cid, "parent_id": parent, "role": "user" if i % 2 == 0 else "assistant",
                     "content": paragraph(rng, 120 if i % 2 == 0 else 400), "status": "complete",
                     "created_at": when + timedelta(seconds=i), "updated_at": when + timedelta(seconds=i)}
                )
                parent = mid
        with sessions.begin() as s:
            s.execute(insert(Conversation), conversations)
            s.execute(insert(Message), messages)
        have += batch * PER_CONVERSATION
    return have


def median_ms(operation: Callable[[], object]) -> float:
    timings = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        operation()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max", type=int, default=1_000_000)
    args = parser.parse_args()
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000) if n <= args.max]
    rng = random.Random(1)
    figures: dict[str, dict[int, float]] = {"save a message": {}, "open a conversation": {}, "list a page": {}, "list the next page": {}}
    with tempfile.TemporaryDirectory() as tmp:
        sessions = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")[1]
        service = ChatService(sessions, lambda _name: None)  # type: ignore[arg-type, return-value]
        stored = 0
        for size in sizes:
            stored = grow(sessions, size, stored, rng)
            page = service.recent_conversations(limit=30)
            target = page[len(page) // 2].id
            cursor = repo.PageCursor(page[-1].updated_at, page[-1].id)

            def save() -> None:
                with sessions.begin() as s:
                    repo.add_message(s, target, role="user", content="one more question", status="complete")
                    repo.touch_conversation(s, target)

            figures["save a message"][size] = median_ms(save)
            figures["open a conversation"][size] = median_ms(lambda: service.messages(target))
            figures["list a page"][size] = median_ms(lambda: service.recent_conversations(limit=30))
            figures["list the next page"][size] = median_ms(lambda: service.recent_conversations(limit=30, after=cursor))
            print(f"{size:>9,} messages stored", flush=True)
    rows = []
    worst = 0.0
    for name, by_size in figures.items():
        base = by_size[sizes[0]]
        for size in sizes[1:]:
            ratio = by_size[size] / base
            worst = max(worst, ratio)
            rows.append((f"{name} @ {size:,}", f"{by_size[size]:.2f} ms", f"{base:.2f} ms @ 1,000", f"{ratio:.2f}"))
    header = ["figure", "ours", "baseline", "ratio"]
    print_table(header, rows)
    record("storage_scaling", rows, target="ratio ≤ 2 from 1k to 1M (flat)", met=worst <= 2.0, header=header)


if __name__ == "__main__":
    main()
