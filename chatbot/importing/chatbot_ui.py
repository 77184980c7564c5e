"""chatbot-ui's export (the sidebar's "Export data"): ``{version, history[], folders[], prompts[]}``.

A conversation is ``{id, name, messages[{role, content}], model{id, name}, prompt,
temperature, folderId}``; its folder (``folders[{id, name, type}]``) becomes a tag, ``prompt``
its system prompt, ``model.id`` its model. Version 1 was the bare list of conversations: read too.

The export has no times and no branches: the messages are one thread, in order. They are given
times a moment apart, the conversations in the file's order, at the moment of the first import
(so the list shows them in that order); the ids come from the conversation's id and each
message's place, so importing the file again (or a later export with more messages) adds only
what is new.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    ident,
    model_of,
    temperature,
    text_of,
    title_of,
)

SOURCE = "chatbot-ui"
_OTHER_SOURCES_KEYS = ("mapping", "chat_messages", "chat", "conversationId")


def _is_conversation(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("messages"), list)
        and isinstance(value.get("name"), str)
        and not any(key in value for key in _OTHER_SOURCES_KEYS)
    )


def looks_like_chatbot_ui(value: Any) -> bool:
    if isinstance(value, dict):
        return isinstance(value.get("history"), list) and (
            isinstance(value.get("version"), int) or isinstance(value.get("folders"), list)
        )
    return isinstance(value, list) and bool(value) and all(_is_conversation(c) for c in value)


def _conversation(raw: Any, folders: dict[str, str], when: datetime, collector: Collector) -> None:
    if not isinstance(raw, dict):
        collector.skip("", UNREADABLE)
        return
    title = title_of(raw.get("name"))
    source_id = ident(raw.get("id"))
    messages = raw.get("messages")
    if source_id is None or not isinstance(messages, list):
        collector.skip(title, UNREADABLE)
        return
    model = as_dict(raw.get("model"))
    model_name = model_of(model.get("id"), model.get("name"), raw.get("model"))
    turns: list[Turn] = []
    previous: str | None = None
    for position, message in enumerate(messages):
        message_id = f"m{position}"
        created = when + timedelta(milliseconds=position)
        message = as_dict(message)
        role = message.get("role")
        text = text_of(message.get("content"))
        if role == "system":
            turns.append(Turn(message_id, previous, "user", None, "system", created))
        elif role not in ("user", "assistant"):
            turns.append(Turn(message_id, previous, "user", None, "other", created))
        else:
            turns.append(
                Turn(
                    message_id,
                    previous,
                    role,
                    text if text.strip() else None,
                    "empty",
                    created,
                    model=model_name if role == "assistant" else None,
                )
            )
        previous = message_id
    folder = folders.get(ident(raw.get("folderId")) or "")
    collector.add(
        Source(
            source_id,
            title,
            turns,
            created=when,
            updated=when + timedelta(milliseconds=max(len(messages) - 1, 0)),
            model=model_name or "",
            system_prompt=text_of(raw.get("prompt")) or None,
            params=temperature(raw.get("temperature")),
            tags=clean_tags([folder] if folder else []),
        )
    )


def parse(documents: list[Any]) -> SourceBatch:
    collector = Collector(SOURCE)
    now = datetime.now(UTC).replace(microsecond=0)
    for document in documents:
        if isinstance(document, dict):
            history = as_list(document.get("history"))
            folders = {
                ident(f.get("id")) or "": title_of(f.get("name"))
                for f in map(as_dict, as_list(document.get("folders")))
                if f.get("type") in (None, "chat")
            }
        else:
            history, folders = as_list(document), {}
        start = now - timedelta(seconds=len(history))
        for position, raw in enumerate(history):
            _conversation(raw, folders, start + timedelta(seconds=position), collector)
    return collector.batch
