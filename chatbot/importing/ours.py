"""Our own JSON export (chatbot/exporting/json_format.py) back into records, validated.

A file that does not follow the schema is rejected whole, naming the first bad field: it
was written by us, so a bad field means damage, and half of a damaged file is not wanted.
Fields added by a newer minor writer are ignored; a newer ``schema_version`` is refused.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime
from typing import Any

from chatbot import images
from chatbot.errors import ImportFailed, InvalidInput
from chatbot.exporting.json_format import SCHEMA, SCHEMA_VERSION
from chatbot.records import ConversationRecord, ImageRecord, MessageRecord, VoteRecord
from chatbot.votes import MAX_RANKED, VERDICTS

LEGACY_SCHEMA = "groq-chat.conversation"  # the first app's single-conversation export
_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
ROLES = {"user", "assistant", "system"}
STATUSES = {"complete", "streaming", "stopped", "interrupted", "error"}
TITLE_SOURCES = {"words", "model", "user"}
MAX_PARAMS_DEPTH = 8
MAX_INT = 2**63 - 1
MAX_IMAGE_BASE64 = images.base64_size(images.MAX_FILE_BYTES)  # one image's "data"
_MISSING = object()


def is_ours(value: Any) -> bool:
    return isinstance(value, dict) and value.get("schema") in (SCHEMA, LEGACY_SCHEMA)


class _Reader:
    """Typed getters that name the field they reject (``conversations[2].messages[5].role``)."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ImportFailed("import.damaged", where=where)
        self.data = data
        self.where = where

    def bad(self, name: str) -> ImportFailed:
        return ImportFailed("import.damaged", where=f"{self.where}.{name}")

    def get(self, name: str, default: Any = _MISSING) -> Any:
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            raise self.bad(name)
        return default

    def text(self, name: str, default: Any = _MISSING, max_len: int | None = None, nullable: bool = False) -> Any:
        value = self.get(name, default)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or (max_len is not None and len(value) > max_len):
            raise self.bad(name)
        try:
            value.encode("utf-8")  # a lone surrogate from a \\ud800 escape cannot be stored
        except UnicodeEncodeError:
            raise ImportFailed("import.encoding") from None
        return value

    def ident(self, name: str) -> str:
        value = self.get(name, _MISSING)
        if not isinstance(value, str) or not _ID.match(value):
            raise self.bad(name)
        return value

    def optional_ident(self, name: str) -> str | None:
        return None if self.get(name, None) is None else self.ident(name)

    def choice(self, name: str, options: set[str], default: Any = _MISSING) -> str:
        value = self.get(name, default)
        if value not in options:
            raise self.bad(name)
        return str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.get(name, default)
        if not isinstance(value, bool):
            raise self.bad(name)
        return value

    def integer(self, name: str) -> int | None:
        value = self.get(name, None)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            raise self.bad(name)
        return value

    def thumbs(self, name: str) -> int | None:
        """A feedback value: 1 (up), -1 (down) or none."""
        value = self.get(name, None)
        if value is not None and (isinstance(value, bool) or value not in (1, -1)):
            raise self.bad(name)
        return value if value is None else int(value)

    def number(self, name: str) -> float | None:
        value = self.get(name, None)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.bad(name)
        return float(value)

    def when(self, name: str, default: Any = _MISSING) -> datetime:
        value = self.get(name, default)
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise self.bad(name) from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def mapping(self, name: str, nullable: bool) -> dict[str, Any] | None:
        value = self.get(name, None if nullable else {})
        if value is None and nullable:
            return None
        if not isinstance(value, dict) or _depth(value) > MAX_PARAMS_DEPTH:
            raise self.bad(name)
        return value

    def items(self, name: str, default: Any = _MISSING) -> list[Any]:
        value = self.get(name, default)
        if not isinstance(value, list):
            raise self.bad(name)
        return value


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_PARAMS_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _images(r: _Reader) -> list[ImageRecord]:
    """A message's images (base64), each checked as a picture like an attached one."""
    items = r.items("images", [])
    if len(items) > images.MAX_IMAGES:
        raise r.bad("images")
    out = []
    for i, item in enumerate(items):
        ir = _Reader(item, f"{r.where}.images[{i}]")
        name = ir.text("name", "", max_len=255)
        try:
            data = base64.b64decode(ir.text("data", max_len=MAX_IMAGE_BASE64), validate=True)
            image = images.restored(name, data)
        except (ValueError, InvalidInput):
            raise ir.bad("data") from None
        out.append(ImageRecord(image.mime, name, image.width, image.height, image.data, image.thumbnail))
    return out


def _message(data: Any, where: str, fallback_time: datetime | None = None) -> MessageRecord:
    r = _Reader(data, where)
    created = r.when("created_at", fallback_time) if fallback_time else r.when("created_at")
    return MessageRecord(
        id=r.ident("id"),
        parent_id=r.optional_ident("parent_id"),
        role=r.choice("role", ROLES),
        content=r.text("content"),
        created_at=created,
        updated_at=r.when("updated_at", created),
        reasoning=r.text("reasoning", None, nullable=True),
        status=r.choice("status", STATUSES, "complete"),
        provider=r.text("provider", None, max_len=40, nullable=True),
        model=r.text("model", None, max_len=200, nullable=True),
        params=r.mapping("params", nullable=True),
        finish_reason=r.text("finish_reason", None, max_len=40, nullable=True),
        error_code=r.text("error_code", None, max_len=80, nullable=True),
        prompt_tokens=r.integer("prompt_tokens"),
        completion_tokens=r.integer("completion_tokens"),
        time_to_first_token=r.number("time_to_first_token"),
        total_time=r.number("total_time"),
        queue_time=r.number("queue_time"),
        tokens_per_second=r.number("tokens_per_second"),
        # Files written before these fields existed hold reported counts only.
        tokens_estimated=r.flag("tokens_estimated", False),
        thinking_time=r.number("thinking_time"),
        feedback=r.thumbs("feedback"),
        images=_images(r),
    )


def _check_tree(record: ConversationRecord, where: str) -> None:
    ids = [m.id for m in record.messages]
    if len(set(ids)) != len(ids):
        raise ImportFailed("import.damaged", where=f"{where}.messages")
    known = set(ids)
    parents = {m.id: m.parent_id for m in record.messages}
    for i, m in enumerate(record.messages):
        if m.parent_id is not None and m.parent_id not in known:
            raise ImportFailed("import.damaged", where=f"{where}.messages[{i}].parent_id")
    # Parent links must end at a root: a cycle would make the branch walk loop.
    settled: set[str] = set()
    for start in ids:
        trail: set[str] = set()
        node: str | None = start
        while node is not None and node not in settled:
            if node in trail:
                raise ImportFailed("import.damaged", where=f"{where}.messages")
            trail.add(node)
            node = parents[node]
        settled |= trail
    if record.current_message_id is not None and record.current_message_id not in known:
        raise ImportFailed("import.damaged", where=f"{where}.current_message_id")


def _conversation(data: Any, where: str) -> ConversationRecord:
    r = _Reader(data, where)
    messages = [_message(m, f"{where}.messages[{i}]") for i, m in enumerate(r.items("messages"))]
    tags = r.items("tags", [])
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not 0 < len(tag) <= 50:
            raise ImportFailed("import.damaged", where=f"{where}.tags[{i}]")
    created = r.when("created_at")
    record = ConversationRecord(
        id=r.ident("id"),
        title=r.text("title", "", max_len=300),
        provider=r.text("provider", "", max_len=40),
        model=r.text("model", "", max_len=200),
        created_at=created,
        updated_at=r.when("updated_at", created),
        title_source=r.choice("title_source", TITLE_SOURCES, "words"),
        system_prompt=r.text("system_prompt", None, nullable=True),
        params=r.mapping("params", nullable=False) or {},
        pinned=r.flag("pinned"),
        archived=r.flag("archived"),
        current_message_id=r.optional_ident("current_message_id"),
        tags=list(dict.fromkeys(tags)),
        messages=messages,
    )
    _check_tree(record, where)
    replies = {m.id for m in messages if m.role == "assistant"}
    record.votes = [_vote(v, f"{where}.votes[{i}]", replies) for i, v in enumerate(r.items("votes", []))]
    return record


def _vote(data: Any, where: str, replies: set[str]) -> VoteRecord:
    """A vote on 2 to 4 replies of this conversation, each with its model and rank."""
    r = _Reader(data, where)
    entries = r.items("ranking")
    if not 2 <= len(entries) <= MAX_RANKED:
        raise r.bad("ranking")
    ranking: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        e = _Reader(entry, f"{where}.ranking[{i}]")
        message_id = e.ident("message_id")
        rank = e.integer("rank")
        if message_id not in replies:
            raise e.bad("message_id")
        if rank is None or not 1 <= rank <= len(entries):
            raise e.bad("rank")
        ranking.append({"message_id": message_id, "model": e.text("model", max_len=241), "rank": rank})
    if len({e["message_id"] for e in ranking}) != len(ranking):
        raise r.bad("ranking")
    return VoteRecord(
        id=r.ident("id"),
        verdict=r.choice("verdict", set(VERDICTS)),
        ranking=ranking,
        created_at=r.when("created_at"),
    )


def _legacy(document: dict[str, Any]) -> list[ConversationRecord]:
    """The first app's export: one conversation, its current branch as a list of turns."""
    conv = _Reader(document.get("conversation"), "conversation")
    updated = conv.when("updated_at")
    messages: list[MessageRecord] = []
    parent: str | None = None
    for i, item in enumerate(_Reader(document, "$").items("messages")):
        if isinstance(item, dict):
            item = {"parent_id": parent, **item}
        message = _message(item, f"messages[{i}]", fallback_time=updated)
        messages.append(message)
        parent = message.id
    record = ConversationRecord(
        id=conv.ident("id"),
        title=conv.text("title", "", max_len=300),
        provider=conv.text("provider", "", max_len=40),
        model=conv.text("model", "", max_len=200),
        created_at=updated,
        updated_at=updated,
        system_prompt=conv.text("system_prompt", None, nullable=True),
        current_message_id=parent,
        messages=messages,
    )
    _check_tree(record, "conversation")
    return [record]


def parse(document: Any) -> list[ConversationRecord]:
    if not is_ours(document):
        raise ImportFailed("import.unknown_format")
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ImportFailed("import.damaged", where="schema_version")
    if document["schema"] == LEGACY_SCHEMA:
        if version != 1:
            raise ImportFailed("import.newer_version", version=version)
        return _legacy(document)
    if version > SCHEMA_VERSION:
        raise ImportFailed("import.newer_version", version=version)
    items = _Reader(document, "$").items("conversations")
    return [_conversation(c, f"conversations[{i}]") for i, c in enumerate(items)]
