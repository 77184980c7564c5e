"""File names for exports: readable (the title), safe on every OS, unique inside a ZIP."""

from __future__ import annotations

import re

from chatbot.records import ConversationRecord

_UNSAFE = re.compile(r"[^\w-]+", flags=re.UNICODE)


def slug(title: str) -> str:
    return _UNSAFE.sub("-", title).strip("-_")[:60] or "conversation"


def entry_name(record: ConversationRecord, extension: str) -> str:
    return f"{slug(record.title)}-{record.id[:8]}.{extension}"
