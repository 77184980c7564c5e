"""A batch's results as files: CSV for spreadsheets, JSONL for programs.

One row per prompt and model, in input order. The CSV neutralises cells a spreadsheet could run
as a formula exactly as the conversation export does (chatbot.exporting.csv_format); errors are
written as their key (for programs) and their sentence in the reader's language.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from chatbot.batch import RowResult
from chatbot.exporting.csv_format import _cell as neutralised  # the project's one formula rule
from chatbot.i18n import t

CSV_MIME = "text/csv"
JSONL_MIME = "application/jsonl"
COLUMNS = (
    "id",
    "model",
    "prompt",
    "system_prompt",
    "status",
    "reply",
    "finish_reason",
    "error_code",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "seconds",
)


def record(r: RowResult) -> dict[str, Any]:
    return {
        "id": r.item_id,
        "model": r.model,
        "prompt": r.prompt,
        "system_prompt": r.system_prompt,
        "status": r.status,
        "reply": r.content,
        "finish_reason": r.finish_reason,
        "error_code": r.error.key if r.error else None,
        "error": t(r.error.key, **r.error.values) if r.error else None,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "seconds": r.seconds,
    }


def to_csv(rows: Iterable[RowResult]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        fields = record(r)
        writer.writerow([neutralised(fields[c]) for c in COLUMNS])
    # A byte-order mark makes Excel read UTF-8 (Chinese text) correctly.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_jsonl(rows: Iterable[RowResult]) -> bytes:
    return "".join(json.dumps(record(r), ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
