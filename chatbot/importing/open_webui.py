"""Open WebUI's chat export (Settings → Chats → Export chats, or a chat's ⋯ → Download →
Export chat (.json)): a JSON array of chats.

A chat is ``{id, title, chat{title, models[], history{currentId, messages{<id>: message}}},
created_at, updated_at (epoch seconds), pinned, archived, meta{tags}}``; a message is ``{id,
parentId, childrenIds[], role, content, timestamp, model, done, error, files[]}``. The history
is a tree: an edited question or a regenerated answer is a sibling, several models answering
one question are sibling answers, and ``currentId`` is the leaf the user last saw.

An answer's ``content`` can begin with ``<details type="reasoning">`` (kept as the answer's
reasoning) and ``<details type="tool_calls">`` blocks (left out, counted as tool calls): never
kept as markup. Very old exports without ``history`` hold ``chat.messages`` as a list: read in
order.
"""

from __future__ import annotations

from typing import Any

from chatbot.importing.common import (
    UNREADABLE,
    Collector,
    Source,
    SourceBatch,
    Turn,
    as_dict,
    as_list,
    clean_tags,
    epoch,
    ident,
    model_of,
    split_details,
    temperature,
    text_of,
    title_of,
)

SOURCE = "open-webui"


def _is_chat(value: Any) -> bool:
    chat = as_dict(as_dict(value).get("chat"))
    return isinstance(as_dict(chat.get("history")).get("messages"), dict) or (
        "history" not in chat and isinstance(chat.get("messages"), list) and "id" in as_dict(value)
    )


def looks_like_open_webui(value: Any) -> bool:
    if isinstance(value, dict):
        return _is_chat(value) and "mapping" not in value
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(c, dict) or c is None for c in value)
        and any(
            isinstance(c, dict) and isinstance(as_dict(as_dict(c.get("chat")).get("history")).get("messages"), dict)
            for c in value
        )
        and not any(isinstance(c, dict) and ("mapping" in c or "chat_messages" in c) for c in value)
    )


def _turn(message_id: str, message: dict[str, Any], parent: str | None, collector: Collector) -> Turn:
    role = message.get("role")
    created = epoch(message.get("timestamp"))
    if role == "system":
        return Turn(message_id, parent, "user", None, "system", created)
    if role not in ("user", "assistant"):
        return Turn(message_id, parent, "user", None, "tool" if role == "tool" else "other", created)
    text, reasoning, tools = split_details(text_of(message.get("content")))
    files = len(as_list(message.get("files")))
    failed = bool(message.get("error")) and role == "assistant"
    if not text.strip():
        reason = "error" if failed else "tool" if tools else "non_text" if files else "empty"
        return Turn(message_id, parent, role, None, reason, created)
    collector.left_out("tool", tools)
    collector.batch.parts_dropped += files  # images and documents attached to the message
    return Turn(
        message_id,
        parent,
        role,
        text,
        created=created,
        model=model_of(message.get("model"), message.get("modelName")) if role == "assistant" else None,
        reasoning=reasoning if role == "assistant" else None,
        status="stopped" if role == "assistant" and (message.get("done") is False or failed) else "complete",
    )


def _conversation(raw: Any, collector: Collector) -> None:
    if not isinstance(raw, dict):
        collector.skip("", UNREADABLE)
        return
    chat = as_dict(raw.get("chat"))
    title = title_of(raw.get("title"), chat.get("title"))
    source_id = ident(raw.get("id")) or ident(chat.get("id"))
    history = chat.get("history")
    # A tree under ``history``; only exports without ``history`` hold a list.
    messages: Any = as_dict(history).get("messages") if history is not None else chat.get("messages")
    if source_id is None or not isinstance(messages, dict if history is not None else list):
        collector.skip(title, UNREADABLE)
        return
    turns: list[Turn] = []
    if isinstance(messages, dict):
        for key, message in messages.items():
            if not isinstance(message, dict):
                turns.append(Turn(key, None, "user", None, "other"))
                continue
            parent = ident(message.get("parentId"))
            turns.append(_turn(key, message, parent, collector))
        current = ident(as_dict(history).get("currentId"))
    else:  # the oldest exports: a list, in order
        previous: str | None = None
        for position, message in enumerate(messages):
            message_id = ident(as_dict(message).get("id")) or f"#{position}"
            if not isinstance(message, dict):
                turns.append(Turn(message_id, previous, "user", None, "other"))
            else:
                turns.append(_turn(message_id, message, previous, collector))
            previous = message_id
        current = previous
    models = [m for m in as_list(chat.get("models")) if isinstance(m, str) and m.strip()]
    meta = as_dict(raw.get("meta"))
    params = as_dict(chat.get("params"))
    collector.add(
        Source(
            source_id,
            title,
            turns,
            current=current,
            created=epoch(raw.get("created_at")) or epoch(chat.get("timestamp")),
            updated=epoch(raw.get("updated_at")),
            model=model_of(*models) or "",
            system_prompt=text_of(chat.get("system") or params.get("system")) or None,
            params=temperature(params.get("temperature")),
            tags=clean_tags([*as_list(meta.get("tags")), *as_list(chat.get("tags"))]),
            pinned=raw.get("pinned") is True,
            archived=raw.get("archived") is True,
        )
    )


def parse(documents: list[Any]) -> SourceBatch:
    collector = Collector(SOURCE)
    for document in documents:
        for raw in [document] if isinstance(document, dict) else as_list(document):
            _conversation(raw, collector)
    return collector.batch
