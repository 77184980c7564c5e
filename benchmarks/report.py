"""Print a benchmark's table and keep its figures for RESULTS.md (benchmarks/results/*.json)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = [list(map(str, header)), *[list(map(str, r)) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def record(
    name: str,
    rows: Sequence[Sequence[object]],
    target: str,
    met: bool,
    header: Sequence[str] | None = None,
    note: str = "",
    command: str = "",
) -> None:
    """Keep a benchmark's figures: ``note`` says what to know when reading them (e.g. the
    machine's load, why a target is missed); ``command`` is how to measure them again."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {
                "name": name,
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {platform.python_version()}",
                "header": list(header or ["figure", "ours", "baseline", "ratio"]),
                "rows": [list(map(str, r)) for r in rows],
                "target": target,
                "met": met,
                "note": note,
                "command": command,
            },
            ensure_ascii=False,
            indent=2,
        )
    )


def machine_load() -> str:
    """How busy the machine was: other work moves every figure, so each result says it."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"
