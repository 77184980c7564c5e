"""Claude's data export (claude.ai: Settings → Privacy → Export data): ``conversations.json``.

An array of conversations ``{uuid, name, created_at, updated_at, chat_messages[]}``; also
accepted: one conversation object (a single-conversation dump) and ``{"conversations": [...]}``.
A message is ``{uuid, sender: human|assistant, text, content[], created_at, attachments[],
files[]}``. Its text comes from the ``content`` blocks when there are any (``text`` repeats
them, and is empty in newer answers), else from ``text``:

- ``text`` blocks are the message; ``thinking`` blocks its reasoning;
- an ``artifacts`` tool call that creates or rewrites an artifact is kept as a fenced block
  under its title (the code or document the user saw); other tool calls and results are left
  out and counted as tool calls;
- attachments' extracted text follows the message like a file attached in our chat input;
  ``files`` (images, binaries: the export holds no content for them) are counted as dropped.

The official export is the current path only, in order; API dumps add ``parent_message_uuid``
(branches) and ``current_leaf_message_uuid``, and ``model``: all are read when present.
"""

from __future__ import annotations

from typing import Any

from chatbot.importing.chatgpt import fenced
from chatbot.importing.common import (
    UNREADABLE,
    Collector,
    Source,
    SourceBatch,
    Turn,
    as_dict,
    as_list,
    file_block,
    ident,
    iso,
    model_of,
    text_of,
    title_of,
)

SOURCE = "claude"
ROOT = "00000000-0000-4000-8000-000000000000"  # the API's parent of a conversation's first message
ROLES = {"human": "user", "assistant": "assistant"}


def _is_conversation(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("chat_messages"), list) and "mapping" not in value


def looks_like_claude(value: Any) -> bool:
    if isinstance(value, dict):
        if _is_conversation(value):
            return True
        value = value.get("conversations")
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(c, dict) or c is None for c in value)
        and any(_is_conversation(c) for c in value)
        and not any(isinstance(c, dict) and ("mapping" in c or isinstance(c.get("chat"), dict)) for c in value)
    )


def _blocks(message: dict[str, Any], collector: Collector) -> tuple[str, str | None, int]:
    """(text, reasoning, tool blocks left out) of one message."""
    content = message.get("content")
    if not isinstance(content, list) or not content:
        return text_of(message.get("text")), None, 0
    texts: list[str] = []
    thoughts: list[str] = []
    tools = 0
    for block in content:
        block = as_dict(block)
        kind = block.get("type")
        if kind == "text":
            texts.append(text_of(block.get("text")))
        elif kind == "thinking":
            thoughts.append(text_of(block.get("thinking")))
        elif kind == "tool_use" and block.get("name") == "artifacts":
            artifact = as_dict(block.get("input"))
            body = artifact.get("content")
            if artifact.get("command") in ("create", "rewrite", None) and isinstance(body, str) and body.strip():
                title = title_of(artifact.get("title"))
                code = fenced(text_of(body), artifact.get("language") or _language(artifact.get("type")))
                texts.append(f"**{title}**\n\n{code}" if title else code)
            else:
                tools += 1  # an edit to an artifact (old_str/new_str): not readable alone
        elif kind in ("tool_use", "tool_result"):
            tools += 1
        else:
            collector.batch.parts_dropped += 1  # voice notes, token budgets, images, unknown kinds
    text = "\n\n".join(t for t in texts if t.strip())
    if not text.strip() and not tools:
        text = text_of(message.get("text"))  # older exports: blocks without text, the text beside
    return text, "\n\n".join(t for t in thoughts if t.strip()) or None, tools


def _language(kind: Any) -> str | None:
    """An artifact's MIME-like type as a fence language ("application/vnd.ant.code" has its own)."""
    return {
        "text/markdown": "markdown",
        "text/html": "html",
        "image/svg+xml": "svg",
        "application/vnd.ant.react": "jsx",
    }.get(kind if isinstance(kind, str) else "")


def _turns(raw_messages: list[Any], collector: Collector, model: str | None) -> list[Turn]:
    turns: list[Turn] = []
    previous: str | None = None
    branched = any(isinstance(m, dict) and "parent_message_uuid" in m for m in raw_messages)
    for position, message in enumerate(raw_messages):
        if not isinstance(message, dict):
            turns.append(Turn(f"#{position}", previous, "user", None, "other"))  # a null in the list
            continue
        message_id = ident(message.get("uuid")) or f"#{position}"
        if branched:
            parent = ident(message.get("parent_message_uuid"))
            parent = None if parent == ROOT else parent
        else:
            parent = previous  # the official export: the current path, in order
        previous = message_id
        role = ROLES.get(str(message.get("sender")))
        if role is None:
            turns.append(Turn(message_id, parent, "user", None, "other"))
            continue
        text, reasoning, tools = _blocks(message, collector)
        attached = [
            file_block(title_of(a.get("file_name")) or "file", text_of(a.get("extracted_content")))
            for a in map(as_dict, as_list(message.get("attachments")))
            if text_of(a.get("extracted_content")).strip()
        ]
        # Images and binaries (``files_v2`` repeats ``files`` in API dumps), and attachments
        # without extracted text: the export holds no content for them.
        dropped = len(as_list(message.get("files")) or as_list(message.get("files_v2")))
        dropped += len(as_list(message.get("attachments"))) - len(attached)
        full = "\n\n".join(p for p in [text.strip(), *attached] if p)
        if full:
            collector.left_out("tool", tools)
            collector.batch.parts_dropped += dropped
            reason = None
        else:
            reason = "tool" if tools else "non_text" if dropped else "empty"
        created = iso(message.get("created_at"))
        turns.append(
            Turn(
                message_id,
                parent,
                role,
                full or None,
                reason,
                created,
                iso(message.get("updated_at")),
                model=model if role == "assistant" else None,
                reasoning=reasoning if role == "assistant" else None,
                status="stopped" if message.get("truncated") is True else "complete",
            )
        )
    return turns


def _conversation(raw: Any, collector: Collector) -> None:
    if not isinstance(raw, dict):
        collector.skip("", UNREADABLE)
        return
    title = title_of(raw.get("name"))
    source_id = ident(raw.get("uuid"))
    messages = raw.get("chat_messages")
    if source_id is None or not isinstance(messages, (list, type(None))):
        collector.skip(title, UNREADABLE)
        return
    model = model_of(raw.get("model"))
    turns = _turns(messages or [], collector, model)
    current = ident(raw.get("current_leaf_message_uuid"))
    collector.add(
        Source(
            source_id,
            title,
            turns,
            current=current,
            created=iso(raw.get("created_at")),
            updated=iso(raw.get("updated_at")),
            model=model or "",
            pinned=raw.get("is_starred") is True,
        )
    )


def parse(documents: list[Any]) -> SourceBatch:
    collector = Collector(SOURCE)
    for document in documents:
        if isinstance(document, dict):
            items = document.get("conversations") if not _is_conversation(document) else [document]
        else:
            items = document
        for raw in as_list(items):
            _conversation(raw, collector)
    return collector.batch
