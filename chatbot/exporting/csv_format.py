"""CSV, one row per message (every branch), for spreadsheets.

Cells that a spreadsheet could run as a formula get a leading apostrophe (OWASP's advice):
those starting with a tab or CR, and those whose first character after any whitespace is
= + - @ or a full-width form of one (＝ ＋ － ＠: some spreadsheets fold them to ASCII).
Spreadsheets skip leading spaces and line breaks before a formula, so " =1+1" counts too.
Opening an export must never execute anything. CSV is for reading; the
JSON export is the lossless one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import IO, Any

from chatbot.records import ConversationRecord

MIME = "text/csv"
COLUMNS = (
    "conversation_id",
    "conversation_title",
    "conversation_model",
    "tags",
    "message_id",
    "parent_id",
    "on_current_branch",
    "role",
    "status",
    "model",
    "created_at",
    "content",
    "reasoning",
    "prompt_tokens",
    "completion_tokens",
    "time_to_first_token",
    "tokens_per_second",
    "total_time",
    "queue_time",
    "finish_reason",
    "error_code",
    "feedback",
)
_CONTROL_START = ("\t", "\r")
_FORMULA_CHARS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value:
        first = value.lstrip()[:1]
        if value.startswith(_CONTROL_START) or first in _FORMULA_CHARS:
            return "'" + value
    return value


def write(out: IO[str], records: Iterable[ConversationRecord], header: bool = True) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    for r in records:
        current = {m.id for m in r.current_branch()}
        for m in r.messages:
            row = (
                r.id,
                r.title,
                r.model,
                ", ".join(r.tags),
                m.id,
                m.parent_id,
                m.id in current,
                m.role,
                m.status,
                m.model,
                m.created_at.isoformat(),
                m.content,
                m.reasoning,
                m.prompt_tokens,
                m.completion_tokens,
                m.time_to_first_token,
                m.tokens_per_second,
                m.total_time,
                m.queue_time,
                m.finish_reason,
                m.error_code,
                m.feedback,
            )
            writer.writerow([_cell(v) for v in row])


def render(records: Iterable[ConversationRecord]) -> str:
    out = io.StringIO()
    write(out, records)
    # A byte-order mark makes Excel read UTF-8 (Chinese text) correctly.
    return "\ufeff" + out.getvalue()
