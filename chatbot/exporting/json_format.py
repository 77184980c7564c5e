"""The lossless format: every conversation, every branch, every field; versioned.

``schema_version`` changes only when an older reader could misread a newer file. Importers
accept every version up to ``SCHEMA_VERSION`` (chatbot/importing/ours.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from chatbot.records import CONVERSATION_FIELDS, MESSAGE_FIELDS, ConversationRecord, MessageRecord

SCHEMA = "groq-chat.export"
SCHEMA_VERSION = 1
MIME = "application/json"


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def message_dict(m: MessageRecord) -> dict[str, Any]:
    return {name: _value(getattr(m, name)) for name in MESSAGE_FIELDS}


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
