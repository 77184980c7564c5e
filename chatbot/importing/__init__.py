"""Import conversations: our JSON export and ChatGPT's export (single file, split, or ZIP).

Three steps, one module each:

1. ``sources.read_documents``: uploaded bytes -> JSON documents (size, ZIP, encoding checks)
2. ``ours.parse`` / ``chatgpt.parse``: documents -> ``ConversationRecord``s (+ what was left out)
3. ``writer.plan`` / ``writer.write``: records -> what is new, what exists -> rows

``read`` does 1-2 and raises ``ImportFailed`` for a file that imports nothing; it also cuts
messages longer than a typed message may be (``MAX_MESSAGE_CHARS``: one 50 MB message froze
the browser tab that showed it) and notes it. ``report`` tells what a plan would do (the
preview) or did (the result). ``cache.parsed`` reads a file once however often the page
reruns; ``writer.write`` writes in short transactions so other users' saves go on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chatbot.errors import ImportFailed
from chatbot.importing import chatgpt, ours
from chatbot.importing.sources import Document, Limits, Upload, read_documents
from chatbot.importing.writer import Planned
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.records import ConversationRecord

Note = tuple[str, dict[str, Any]]  # a translation key and its values


@dataclass
class ImportBatch:
    formats: list[str]  # "groq-chat", "chatgpt"
    records: list[ConversationRecord]
    skipped: list[chatgpt.Skipped] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)
    parts_dropped: int = 0
    duplicates: int = 0  # identical copies of a conversation in the upload, taken once
    cut: int = 0  # messages cut to MAX_MESSAGE_CHARS
    notes: dict[str, list[Note]] = field(default_factory=dict)  # by record id, as parsed


@dataclass(frozen=True)
class ReportItem:
    conversation_id: str
    title: str
    action: str  # "new" | "update" | "skip"
    messages: int  # messages added (or to add)
    reason: str | None = None  # translation key, for a skip
    reason_values: dict[str, Any] = field(default_factory=dict)
    notes: tuple[Note, ...] = ()  # what else happened to it (messages cut, a repeated id)


@dataclass
class ImportReport:
    formats: list[str]
    items: list[ReportItem]
    left_out: dict[str, int]  # messages not imported, by reason
    parts_dropped: int
    duplicates: int = 0
    cut: int = 0

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
        batch.duplicates += parsed.duplicates
        for record_id in parsed.same_id:
            batch.notes.setdefault(record_id, []).append(("import.note.same_id", {}))
    if not batch.records and not batch.skipped:
        raise ImportFailed("import.empty")
    _cap_lengths(batch)
    return batch


def _cap_lengths(batch: ImportBatch) -> None:
    """Cut text longer than a typed message may be, as typing does not allow it either."""
    for record in batch.records:
        cut = 0
        for message in record.messages:
            long_reasoning = message.reasoning is not None and len(message.reasoning) > MAX_MESSAGE_CHARS
            if len(message.content) > MAX_MESSAGE_CHARS or long_reasoning:
                message.content = message.content[:MAX_MESSAGE_CHARS]
                if message.reasoning is not None:
                    message.reasoning = message.reasoning[:MAX_MESSAGE_CHARS]
                cut += 1
        if cut:
            batch.cut += cut
            batch.notes.setdefault(record.id, []).append(
                ("import.note.cut", {"count": cut, "limit": MAX_MESSAGE_CHARS})
            )


def report(batch: ImportBatch, planned: list[Planned]) -> ImportReport:
    # ``plan`` gives one item per record, in order: notes follow a record whose id it remapped.
    items = [
        ReportItem(
            p.record.id,
            p.record.title,
            p.action,
            len(p.new_messages) if p.action != "skip" else 0,
            p.reason,
            notes=tuple(batch.notes.get(record.id, ())),
        )
        for record, p in zip(batch.records, planned, strict=True)
    ]
    items += [ReportItem("", s.title, "skip", 0, s.reason, s.values) for s in batch.skipped]
    return ImportReport(
        list(batch.formats), items, dict(batch.left_out), batch.parts_dropped, batch.duplicates, batch.cut
    )


__all__ = ["ImportBatch", "ImportFailed", "ImportReport", "Limits", "ReportItem", "Upload", "read", "report"]
