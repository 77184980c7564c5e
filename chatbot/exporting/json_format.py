"""The lossless format: every conversation, every branch, every field; versioned.

``schema_version`` changes only when an older reader could misread a newer file. Importers
accept every version up to ``SCHEMA_VERSION`` (chatbot/importing/ours.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from chatbot.records import CONVERSATION_FIELDS, MESSAGE_FIELDS, ConversationRecord, ImageRecord, MessageRecord

SCHEMA = "groq-chat.export"
SCHEMA_VERSION = 1
MIME = "application/json"


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def image_dict(image: ImageRecord) -> dict[str, Any]:
    """An image as base64 of its stored bytes (its thumbnail is made again on import)."""
    return {
        "name": image.name,
        "mime": image.mime,
        "width": image.width,
        "height": image.height,
        "sha256": image.sha256,
        "data": base64.b64encode(image.data).decode("ascii"),
    }


def message_dict(m: MessageRecord) -> dict[str, Any]:
    out = {name: _value(getattr(m, name)) for name in MESSAGE_FIELDS}
    if m.images:  # only where there are any: files without images stay as they were
        out["images"] = [image_dict(i) for i in m.images]
    return out


def conversation_dict(record: ConversationRecord) -> dict[str, Any]:
    out = {name: _value(getattr(record, name)) for name in CONVERSATION_FIELDS}
    out["tags"] = list(record.tags)
    out["messages"] = [message_dict(m) for m in record.messages]
    if record.votes:  # only conversations with comparisons: every other export stays as it was
        out["votes"] = [
            {"id": v.id, "verdict": v.verdict, "ranking": v.ranking, "created_at": _value(v.created_at)}
            for v in record.votes
        ]
    return out


def header(exported_at: datetime | None = None) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "exported_at": (exported_at or datetime.now(UTC)).isoformat(),
    }


def dumps(records: Iterable[ConversationRecord], exported_at: datetime | None = None) -> str:
    document = header(exported_at)
    document["conversations"] = [conversation_dict(r) for r in records]
    return json.dumps(document, ensure_ascii=False, indent=1, allow_nan=False)


def write(out: IO[str], records: Iterable[ConversationRecord], exported_at: datetime | None = None) -> int:
    """The same document written one conversation at a time (for everything-at-once)."""
    head = json.dumps(header(exported_at), ensure_ascii=False, indent=1)
    out.write(head[:-2] + ',\n "conversations": [\n')  # reopen the header object
    count = 0
    for record in records:
        if count:
            out.write(",\n")
        out.write(json.dumps(conversation_dict(record), ensure_ascii=False, allow_nan=False))
        count += 1
    out.write("\n ]\n}\n")
    return count
