"""Import conversations: our JSON export and ChatGPT's export (single file, split, or ZIP).

Three steps, one module each:

1. ``sources.read_documents``: uploaded bytes -> JSON documents (size, ZIP, encoding checks)
2. ``ours.parse`` / ``chatgpt.parse``: documents -> ``ConversationRecord``s (+ what was left out)
3. ``writer.plan`` / ``writer.write``: records -> what is new, what exists -> rows

``read`` does 1-2 and raises ``ImportFailed`` for a file that imports nothing; ``report``
tells what a plan would do (the preview) or did (the result). The caller (chatbot/history.py)
runs ``plan`` + ``write`` in one transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chatbot.errors import ImportFailed
from chatbot.importing import chatgpt, ours
from chatbot.importing.sources import Document, Limits, Upload, read_documents
from chatbot.importing.writer import Planned
from chatbot.records import ConversationRecord


@dataclass
class ImportBatch:
    formats: list[str]  # "groq-chat", "chatgpt"
    records: list[ConversationRecord]
    skipped: list[chatgpt.Skipped] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)
    parts_dropped: int = 0


@dataclass(frozen=True)
class ReportItem:
    conversation_id: str
    title: str
    action: str  # "new" | "update" | "skip"
    messages: int  # messages added (or to add)
    reason: str | None = None  # translation key, for a skip
    reason_values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    formats: list[str]
    items: list[ReportItem]
    left_out: dict[str, int]  # messages not imported, by reason
    parts_dropped: int

    @property
    def new(self) -> list[ReportItem]:
        return [i for i in self.items if i.action == "new"]

    @property
    def updated(self) -> list[ReportItem]:
        return [i for i in self.items if i.action == "update"]

    @property
    def skipped(self) -> list[ReportItem]:
        return [i for i in self.items if i.action == "skip"]

    @property
    def message_count(self) -> int:
        return sum(i.messages for i in self.items)


def read(uploads: list[Upload], limits: Limits | None = None) -> ImportBatch:
    documents = read_documents(uploads, limits or Limits())
    mine: list[Document] = []
    theirs: list[Document] = []
    for document in documents:
        if ours.is_ours(document.value):
            mine.append(document)
        elif chatgpt.looks_like_chatgpt(document.value):
            theirs.append(document)
        else:
            raise ImportFailed("import.unknown_format")
    batch = ImportBatch([], [])
    if mine:
        batch.formats.append("groq-chat")
        for document in mine:
            batch.records.extend(ours.parse(document.value))
    if theirs:
        batch.formats.append("chatgpt")
        parsed = chatgpt.parse([d.value for d in theirs])
        batch.records.extend(parsed.records)
        batch.skipped.extend(parsed.skipped)
        batch.left_out.update(parsed.left_out)
        batch.parts_dropped += parsed.parts_dropped
    if not batch.records and not batch.skipped:
        raise ImportFailed("import.empty")
    return batch


def report(batch: ImportBatch, planned: list[Planned]) -> ImportReport:
    items = [
        ReportItem(
            p.record.id,
            p.record.title,
            p.action,
            len(p.new_messages) if p.action != "skip" else 0,
            p.reason,
        )
        for p in planned
    ]
    items += [ReportItem("", s.title, "skip", 0, s.reason, s.values) for s in batch.skipped]
    return ImportReport(list(batch.formats), items, dict(batch.left_out), batch.parts_dropped)


__all__ = ["ImportBatch", "ImportFailed", "ImportReport", "Limits", "ReportItem", "Upload", "read", "report"]
