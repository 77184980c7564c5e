"""Exports: one conversation, a selection, or everything; one module per format.

- ``json_format``: lossless and versioned (re-importable, every branch and field)
- ``markdown``, ``text``, ``html_format``: the current branch, for reading, sharing, printing
- ``csv_format``: one row per message
- ``bundle``: ZIPs (a selection in a per-conversation format; everything at once)

``export(records, fmt)`` picks the right shape: JSON and CSV are one file for any number of
conversations; Markdown, text and HTML are one file for one conversation, a ZIP for several.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from chatbot.exporting import bundle, csv_format, html_format, json_format, markdown, text
from chatbot.exporting.naming import entry_name, slug
from chatbot.records import ConversationRecord, ConversationSummary

FORMATS = ("json", "md", "txt", "csv", "html")
SCHEMA_VERSION = json_format.SCHEMA_VERSION


@dataclass(frozen=True)
class ExportFile:
    name: str
    mime: str
    data: bytes


def planned_name(count: int, first_title: str, fmt: str) -> str:
    """The file name ``export`` will give (a download button needs it before the data)."""
    if count == 1:
        return f"{slug(first_title)}.{fmt}"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return f"groq-chat-{stamp}.{fmt}" if fmt in ("json", "csv") else f"groq-chat-{stamp}-{fmt}.zip"


def export(records: list[ConversationRecord], fmt: str) -> ExportFile:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    name = planned_name(len(records), records[0].title if records else "", fmt)
    if fmt == "json":
        return ExportFile(name, json_format.MIME, json_format.dumps(records).encode("utf-8"))
    if fmt == "csv":
        return ExportFile(name, csv_format.MIME, csv_format.render(records).encode("utf-8"))
    if len(records) == 1:
        render, mime = {
            "md": (markdown.render, markdown.MIME),
            "txt": (text.render, text.MIME),
            "html": (html_format.render, html_format.MIME),
        }[fmt]
        return ExportFile(name, mime, render(records[0]).encode("utf-8"))
    return ExportFile(name, "application/zip", bundle.per_conversation_zip(records, fmt))


def everything_name() -> str:
    return f"groq-chat-everything-{datetime.now(UTC):%Y%m%d-%H%M}.zip"


def export_everything(records: Iterable[ConversationRecord]) -> ExportFile:
    """All conversations in one ZIP; ``records`` may be a lazy iterator (read in batches)."""
    return ExportFile(everything_name(), "application/zip", bundle.everything_zip(records))


def file_name(conversation: ConversationSummary, extension: str) -> str:
    """The chat page's download name for one conversation."""
    return f"{slug(conversation.title)}.{extension}"


__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "ExportFile",
    "entry_name",
    "export",
    "everything_name",
    "export_everything",
    "planned_name",
    "file_name",
]
