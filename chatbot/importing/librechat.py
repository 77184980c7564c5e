"""LibreChat's conversation export (a conversation's ⋯ → Export → JSON): one conversation.

``{conversationId, title, endpoint, exportAt, branches, recursive, options{model, promptPrefix,
temperature, ...}, messages}`` (``messagesTree`` in some versions). The messages are flat, each
linked by ``parentMessageId`` (the root's parent is the zero uuid), or, with ``recursive``, a
tree of ``children[]``. A message: ``{messageId, parentMessageId, isCreatedByUser, sender,
text, content[], model, createdAt, unfinished, error, files[]}``; ``sender`` is a display
label, so the role comes from ``isCreatedByUser``. Agents' answers keep their text in
``content`` parts (``text``; ``think`` is the reasoning; tool calls are left out, counted).

LibreChat keeps no pointer to the branch on screen: it shows each message's newest reply
(the last sibling), so that branch is made current. Many messages lack ``createdAt``: they
take their parent's time, a moment later.
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
    ident,
    iso,
    latest_leaf,
    model_of,
    temperature,
    text_of,
    title_of,
)

SOURCE = "librechat"
ROOT = "00000000-0000-0000-0000-000000000000"
MAX_NODES = 1_000_000  # a tree walk's bound, far beyond any real conversation


def _messages(document: dict[str, Any]) -> Any:
    messages = document.get("messages")
    return messages if messages is not None else document.get("messagesTree")


def looks_like_librechat(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("conversationId"), str)
        and isinstance(_messages(value), list)
        and "mapping" not in value
    )


def _flatten(nodes: list[Any]) -> list[tuple[Any, str | None]]:
    """(message, parent id from the tree) for a flat list or a tree of ``children``, in order."""
    out: list[tuple[Any, str | None]] = []
    stack: list[tuple[Any, str | None]] = [(n, None) for n in reversed(nodes)]
    while stack and len(out) < MAX_NODES:
        node, tree_parent = stack.pop()
        out.append((node, tree_parent))
        if isinstance(node, dict):
            own = ident(node.get("messageId"))
            stack.extend((child, own) for child in reversed(as_list(node.get("children"))))
    return out


def _content(message: dict[str, Any]) -> tuple[str, str | None, int, int]:
    """(text, reasoning, tool parts, other parts) of a message."""
    text = text_of(message.get("text"))
    parts = as_list(message.get("content"))
    texts: list[str] = []
    thoughts: list[str] = []
    tools = others = 0
    for part in map(as_dict, parts):
        kind = part.get("type")
        if kind == "text":
            value = part.get("text")
            texts.append(text_of(as_dict(value).get("value") if isinstance(value, dict) else value))
        elif kind == "think":
            value = part.get("think")
            thoughts.append(text_of(as_dict(value).get("value") if isinstance(value, dict) else value))
        elif kind in ("tool_call", "tool_calls"):
            tools += 1
        elif kind is not None:
            others += 1  # images, files and kinds added later
    if not text.strip():
        text = "\n\n".join(t for t in texts if t.strip())
    return text, "\n\n".join(t for t in thoughts if t.strip()) or None, tools, others


def _turns(document: dict[str, Any], collector: Collector) -> list[Turn]:
    turns: list[Turn] = []
    for position, (message, tree_parent) in enumerate(_flatten(_messages(document))):
        if not isinstance(message, dict):
            turns.append(Turn(f"#{position}", tree_parent, "user", None, "other"))
            continue
        message_id = ident(message.get("messageId")) or f"#{position}"
        parent = ident(message.get("parentMessageId")) or tree_parent
        parent = None if parent == ROOT else parent
        created = iso(message.get("createdAt"))
        role = "user" if message.get("isCreatedByUser") is True else "assistant"
        text, reasoning, tools, others = _content(message)
        files = len(as_list(message.get("files"))) + others
        if message.get("error") is True and role == "assistant":
            turns.append(Turn(message_id, parent, role, None, "error", created))
            continue
        if not text.strip():
            reason = "tool" if tools else "non_text" if files else "empty"
            turns.append(Turn(message_id, parent, role, None, reason, created))
            continue
        collector.left_out("tool", tools)
        collector.batch.parts_dropped += files
        turns.append(
            Turn(
                message_id,
                parent,
                role,
                text,
                created=created,
                updated=iso(message.get("updatedAt")),
                model=model_of(message.get("model")) if role == "assistant" else None,
                reasoning=reasoning if role == "assistant" else None,
                status="stopped" if message.get("unfinished") is True and role == "assistant" else "complete",
            )
        )
    return turns


def _conversation(document: dict[str, Any], collector: Collector) -> None:
    title = title_of(document.get("title"))
    source_id = ident(document.get("conversationId"))
    if source_id is None or not isinstance(_messages(document), list):
        collector.skip(title, UNREADABLE)
        return
    turns = _turns(document, collector)
    options = as_dict(document.get("options"))
    times = [t.created for t in turns if t.created is not None]
    collector.add(
        Source(
            source_id,
            title,
            turns,
            current=latest_leaf(turns),
            created=iso(document.get("createdAt")) or min(times, default=None) or iso(document.get("exportAt")),
            updated=iso(document.get("updatedAt")),
            model=model_of(options.get("model"), document.get("model")) or "",
            system_prompt=text_of(options.get("promptPrefix")) or None,
            params=temperature(options.get("temperature")),
            tags=clean_tags(as_list(document.get("tags"))),
        )
    )


def parse(documents: list[Any]) -> SourceBatch:
    collector = Collector(SOURCE)
    for document in documents:
        _conversation(document, collector)
    return collector.batch
