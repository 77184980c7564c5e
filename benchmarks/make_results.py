"""Gather benchmarks/results/*.json into benchmarks/RESULTS.md and a bar chart of the ratios.

python -m benchmarks.make_results
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
ORDER = [
    "long_reply",
    "compare_streams",
    "first_token",
    "transcription_to_input",
    "open_conversation",
    "sidebar",
    "app_start",
    "storage_scaling",
    "search_100k",
    "search_1000k",
    "local_model_speed",
]


def main() -> None:
    results = {p.stem: json.loads(p.read_text()) for p in sorted((HERE / "results").glob("*.json"))}
    names = sorted(results, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    lines = [
        "# Benchmark results",
        "",
        "Each figure is measured by its script in `benchmarks/`, side by side with its baseline in the",
        "same run, on this project's 2-core machine. Regenerate with the command under each table, then",
        "`python -m benchmarks.make_results`.",
        "",
        "![ratios](results.png)",
        "",
    ]
    labels, ratios, colours = [], [], []
    for name in names:
        r = results[name]
        command = r.get("command") or (
            "python -m benchmarks.search_benchmark" if name.startswith("search") else f"python -m benchmarks.{name}"
        )
        lines += [
            f"## {name.replace('_', ' ')}",
            "",
            f"Target: {r['target']} — **{'met' if r['met'] else 'missed'}** ({r['when']}, {r['machine']}).",
            "",
            f"`{command}`",
            "",
        ]
        if r.get("note"):
            lines += [r["note"], ""]
        lines.append("| " + " | ".join(r["header"]) + " |")
        lines.append("|" + "---|" * len(r["header"]))
        for row in r["rows"]:
            lines.append("| " + " | ".join(row) + " |")
            try:
                ratios.append(float(row[-1]))
            except ValueError:
                continue
            labels.append(row[0][:48])
            colours.append("#2a9d8f" if r["met"] else "#e76f51")
        lines.append("")
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    if ratios:
        fig, ax = plt.subplots(figsize=(9, 0.35 * len(ratios) + 1.2))
        ax.barh(labels[::-1], ratios[::-1], color=colours[::-1])
        ax.axvline(1.0, color="#555", linewidth=0.8)
        ax.set_xlabel("ratio (ours / baseline, or as the table says)")
        ax.set_xscale("log")
        fig.tight_layout()
        fig.savefig(HERE / "results.png", dpi=110)
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
