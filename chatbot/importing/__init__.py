"""Import conversations: our JSON export, ChatGPT's export (single file, split, or ZIP), and the
exports of Claude, Open WebUI, LibreChat, LobeChat and chatbot-ui, each recognised from the file.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatbot.errors import ImportFailed
from chatbot.importing import chatbot_ui, chatgpt, claude, librechat, lobechat, open_webui, ours
from chatbot.importing.sources import Document, Limits, Upload, read_documents
from chatbot.importing.writer import Planned
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.records import ConversationRecord

Note = tuple[str, dict[str, Any]]  # a translation key and its values

# The other apps' exports, in the order they are tried (after ours and ChatGPT's): each test
# looks for its source's own structure, which no other export has.
OTHER_SOURCES: list[tuple[str, Callable[[Any], bool], Callable[[list[Any]], chatgpt.ChatGPTBatch]]] = [
    (claude.SOURCE, claude.looks_like_claude, claude.parse),
    (open_webui.SOURCE, open_webui.looks_like_open_webui, open_webui.parse),
    (librechat.SOURCE, librechat.looks_like_librechat, librechat.parse),
    (lobechat.SOURCE, lobechat.looks_like_lobechat, lobechat.parse),
    (chatbot_ui.SOURCE, chatbot_ui.looks_like_chatbot_ui, chatbot_ui.parse),
]
FORMAT_KEYS = {
    "groq-chat": "import.format_groq_chat",
    "chatgpt": "import.format_chatgpt",
    "claude": "import.format_claude",
    "open-webui": "import.format_open_webui",
    "librechat": "import.format_librechat",
    "lobechat": "import.format_lobechat",
    "chatbot-ui": "import.format_chatbot_ui",
}
LEFT_OUT_KEYS = {
    "system": "import.left_system",
    "tool": "import.left_tool",
    "hidden": "import.left_hidden",
    "non_text": "import.left_non_text",
    "empty": "import.left_empty",
    "error": "import.left_error",
    "other": "import.left_other",
}


def detect(value: Any) -> str | None:
    """The format of one parsed document ("groq-chat", "chatgpt", "claude", ...), or None."""
    if ours.is_ours(value):
        return "groq-chat"
    if chatgpt.looks_like_chatgpt(value):
        return "chatgpt"
    return next((name for name, looks_like, _ in OTHER_SOURCES if looks_like(value)), None)


@dataclass
class ImportBatch:
    formats: list[str]  # "groq-chat", "chatgpt", "claude", ... (FORMAT_KEYS)
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
    others: dict[str, list[Any]] = {}
    for document in documents:
        found = detect(document.value)
        if found == "groq-chat":
            mine.append(document)
        elif found == "chatgpt":
            theirs.append(document)
        elif found is not None:
            others.setdefault(found, []).append(document.value)
        else:
            raise ImportFailed("import.unknown_format")
    batch = ImportBatch([], [])
    if mine:
        batch.formats.append("groq-chat")
        for document in mine:
            batch.records.extend(ours.parse(document.value))
    if theirs:
        batch.formats.append("chatgpt")
        _merge(batch, chatgpt.parse([d.value for d in theirs]))
    for name, _, parse in OTHER_SOURCES:
        if name in others:
            batch.formats.append(name)
            _merge(batch, parse(others.pop(name)))
    if not batch.records and not batch.skipped:
        raise ImportFailed("import.empty")
    _cap_lengths(batch)
    return batch


def _merge(batch: ImportBatch, parsed: chatgpt.ChatGPTBatch) -> None:
    batch.records.extend(parsed.records)
    batch.skipped.extend(parsed.skipped)
    batch.left_out.update(parsed.left_out)
    batch.parts_dropped += parsed.parts_dropped
    batch.duplicates += parsed.duplicates
    for record_id in parsed.same_id:
        batch.notes.setdefault(record_id, []).append(("import.note.same_id", {}))


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


__all__ = [
    "FORMAT_KEYS",
    "LEFT_OUT_KEYS",
    "ImportBatch",
    "ImportFailed",
    "ImportReport",
    "Limits",
    "ReportItem",
    "Upload",
    "detect",
    "read",
    "report",
]
