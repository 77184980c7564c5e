"""ChatGPT's data export (``conversations.json``, or ``conversations-000.json`` ... when split).

Each conversation is a tree: ``mapping`` holds nodes ``{id, message, parent, children}`` and
``current_node`` is the leaf the user last saw. Every branch is kept (an edited prompt or a
regenerated answer is a sibling), with the current one selected. Nodes that are not text a
person wrote or read (system and tool messages, hidden context, code runs, browsing, images)
are left out and counted; a kept node's parent becomes its nearest kept ancestor.

Ids become ours deterministically (uuid5 of the ChatGPT ids), so importing the same export
again finds the same conversations and changes nothing. A conversation id that appears twice
(a split export repeats some conversations across its files) is taken once when both copies
hold the same messages; when they differ, the later copy is imported beside the first, under
an id derived from its position, and reported: nothing is dropped without a word.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chatbot.citations import cite_sources
from chatbot.importing.tree import cut_loops, node_depth, safe_text, same_conversation
from chatbot.records import ConversationRecord, MessageRecord

PROVIDER = "chatgpt"
_NAMESPACE = uuid.UUID("8d3f6a52-5e0b-4a53-9a0c-6f1d2b7c4e10")
_NAMESPACE_BYTES = _NAMESPACE.bytes
TEXT_TYPES = {"text", "multimodal_text"}
MAX_TITLE = 300


@dataclass
class Skipped:
    title: str
    reason: str  # translation key
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChatGPTBatch:
    records: list[ConversationRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # Left-out messages by reason ("system", "tool", "hidden", "non_text", "empty", ...).
    left_out: Counter[str] = field(default_factory=Counter)
    # Images, files and other non-text parts dropped from messages that were kept.
    parts_dropped: int = 0
    duplicates: int = 0  # copies of a conversation already read, identical to it: taken once
    same_id: list[str] = field(default_factory=list)  # our ids of differing copies, imported beside


def looks_like_chatgpt(value: Any) -> bool:
    if isinstance(value, dict):
        return isinstance(value.get("mapping"), dict)
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(c, dict) for c in value)
        and any(isinstance(c.get("mapping"), dict) for c in value)
    )


def our_id(*parts: str) -> str:
    """``uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex``, without building UUID objects (a large
    export makes hundreds of thousands)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    """A field that should be an object; anything else (a hostile file) reads as empty."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _message_text(message: dict[str, Any], batch: ChatGPTBatch) -> tuple[str | None, str | None]:
    """(text, None) for a message to keep, (None, reason) for one to leave out."""
    role = _dict(message.get("author")).get("role")
    metadata = _dict(message.get("metadata"))
    if role == "system":
        return None, "system"
    if role == "tool":
        return None, "tool"
    if role not in ("user", "assistant"):
        return None, "other"
    if metadata.get("is_visually_hidden_from_conversation") or message.get("weight") == 0:
        return None, "hidden"
    if message.get("recipient") not in (None, "all"):
        return None, "tool"  # the assistant calling a tool (browser, python, ...)
    content = _dict(message.get("content"))
    if content.get("content_type") == "code" and role == "assistant":
        # Code shown to the user (recipient "all"; a tool call was left out above).
        code = content.get("text")
        if not isinstance(code, str) or not code.strip():
            return None, "empty"
        return safe_text(fenced(code, content.get("language"))), None
    if content.get("content_type") not in TEXT_TYPES:
        return None, "non_text"
    parts = _list(content.get("parts"))
    texts = [p for p in parts if isinstance(p, str)]
    text = "\n\n".join(t for t in texts if t.strip())
    if role == "assistant":
        text = cite_sources(text, metadata)
    if not text.strip():
        return None, "non_text" if len(texts) < len(parts) else "empty"
    batch.parts_dropped += len(parts) - len(texts)  # images or files beside the kept text
    return safe_text(text), None


def fenced(code: str, language: Any = None) -> str:
    """A fenced code block longer than any run of backticks inside, in its language."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    info = language if isinstance(language, str) and re.fullmatch(r"[\w+#.-]{1,40}", language) else ""
    if info.lower() == "unknown":
        info = ""
    return f"{fence}{info}\n{code.rstrip(chr(10))}\n{fence}"


def _conversation(raw: dict[str, Any], index: int, batch: ChatGPTBatch, copy: int = 0) -> None:
    raw_title = raw.get("title")
    title = safe_text(raw_title)[:MAX_TITLE] if isinstance(raw_title, str) else ""
    source_id = raw.get("conversation_id") or raw.get("id")
    mapping = raw.get("mapping")
    if not isinstance(source_id, str) or not source_id or not isinstance(mapping, dict):
        batch.skipped.append(Skipped(title or f"#{index + 1}", "import.skip.unreadable"))
        return
    if copy:  # a differing copy of an id already read: its own ids, the same on every import
        source_id = f"{source_id}\x1fcopy {copy}"
    conversation_id = our_id("chatgpt", source_id)
    created = _time(raw.get("create_time"))
    updated = _time(raw.get("update_time"))

    parents: dict[str, str | None] = {}
    kept: dict[str, tuple[dict[str, Any], str]] = {}
    for node_id, node in mapping.items():
        if not isinstance(node, dict):
            continue
        parent = node.get("parent")
        parents[node_id] = parent if isinstance(parent, str) else None
        message = node.get("message")
        if not isinstance(message, dict):
            continue  # the tree's empty root, or a node whose message was removed
        text, reason = _message_text(message, batch)
        if text is None:
            batch.left_out[reason or "other"] += 1
        else:
            kept[node_id] = (message, text)
    if not kept:
        batch.skipped.append(Skipped(title or f"#{index + 1}", "import.skip.no_text"))
        return

    def kept_ancestor(node_id: str | None) -> str | None:
        seen: set[str] = set()
        while node_id is not None and node_id not in seen:
            seen.add(node_id)
            if node_id in kept:
                return node_id
            node_id = parents.get(node_id)
        return None  # the root, or a loop in a damaged file: a new root

    known_times = [t for t in (_time(m.get("create_time")) for m, _ in kept.values()) if t is not None]
    first = created or min(known_times, default=None) or datetime.now(UTC)
    messages: list[MessageRecord] = []
    times: dict[str, datetime] = {}
    # Parents before children, so a message without a time can take its parent's.
    depths: dict[str, int] = {}
    order = sorted(kept, key=lambda n: node_depth(n, parents, depths))
    for node_id in order:
        message, text = kept[node_id]
        parent = kept_ancestor(parents.get(node_id))
        when = _time(message.get("create_time")) or (times.get(parent) if parent else None) or first
        times[node_id] = when
        metadata = _dict(message.get("metadata"))
        role = _dict(message.get("author"))["role"]
        model = metadata.get("model_slug") if isinstance(metadata.get("model_slug"), str) else None
        status = message.get("status")
        messages.append(
            MessageRecord(
                id=our_id("chatgpt", source_id, node_id),
                parent_id=our_id("chatgpt", source_id, parent) if parent else None,
                role=role,
                content=text,
                created_at=when,
                updated_at=_time(message.get("update_time")) or when,
                status="complete" if status in (None, "finished_successfully") else "stopped",
                provider=PROVIDER if role == "assistant" else None,
                model=model[:200] if role == "assistant" and model else None,
            )
        )
    cut_loops(messages)
    messages.sort(key=lambda m: (m.created_at, m.id))
    current_node = raw.get("current_node")
    current = kept_ancestor(current_node) if isinstance(current_node, str) else None
    # No usable pointer: the newest message's branch.
    current_id = messages[-1].id if current is None else our_id("chatgpt", source_id, current)
    slug = raw.get("default_model_slug")
    model = slug if isinstance(slug, str) else next((m.model for m in reversed(messages) if m.model), "") or ""
    batch.records.append(
        ConversationRecord(
            id=conversation_id,
            title=title,
            provider=PROVIDER,
            model=model[:200],
            created_at=first,
            updated_at=updated or max(m.created_at for m in messages),
            title_source="model",
            current_message_id=current_id,
            messages=messages,
        )
    )


def _duplicate(raw: dict[str, Any], index: int, first: ConversationRecord | None, batch: ChatGPTBatch) -> None:
    """A conversation id read before: taken once if the copies match, imported beside if not."""
    scratch = ChatGPTBatch()
    _conversation(raw, index, scratch, copy=index + 1)
    if (first is None and not scratch.records) or (
        first and scratch.records and same_conversation(first, scratch.records[0])
    ):
        batch.duplicates += 1
        return
    batch.records.extend(scratch.records)
    batch.skipped.extend(scratch.skipped)
    batch.left_out.update(scratch.left_out)
    batch.parts_dropped += scratch.parts_dropped
    batch.same_id.extend(r.id for r in scratch.records)


def parse(documents: list[Any]) -> ChatGPTBatch:
    """Conversations from one or more ChatGPT files (a split export is several files).

    Each conversation's raw JSON is released as soon as it has been read, so the parsed file
    and its records are not both held whole (a large export's peak memory).
    """
    batch = ChatGPTBatch()
    first: dict[str, ConversationRecord | None] = {}  # source id -> its record (None: nothing kept)
    index = 0
    for document in documents:
        items = [document] if isinstance(document, dict) else document
        for position, raw in enumerate(items):
            if isinstance(items, list):
                items[position] = None
            if not isinstance(raw, dict):
                batch.skipped.append(Skipped(f"#{index + 1}", "import.skip.unreadable"))
                index += 1
                continue
            source_id = raw.get("conversation_id") or raw.get("id")
            if isinstance(source_id, str) and source_id in first:
                _duplicate(raw, index, first[source_id], batch)
            else:
                kept = len(batch.records)
                _conversation(raw, index, batch)
                if isinstance(source_id, str):
                    first[source_id] = batch.records[kept] if len(batch.records) > kept else None
            index += 1
    return batch
