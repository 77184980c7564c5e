"""Large import files made on the spot (never committed): our JSON export and ChatGPT's.

Deterministic: the same arguments give the same bytes, so importing them twice must change
nothing. Used by tests/test_import_scale.py and benchmarks/import_concurrency.py.
"""

from __future__ import annotations

import json
from typing import Any

T0 = 1_735_689_600  # 2025-01-01, epoch seconds
WORDS = ("index", "query", "数据库", "latency", "Lisbon", "kernel", "résumé", "token", "cache", "branch")


def text(seed: int, length: int) -> str:
    words: list[str] = []
    size = 0
    i = seed
    while size < length:
        word = WORDS[i % len(WORDS)]
        words.append(word)
        size += len(word) + 1
        i = i * 7 + 3
    return " ".join(words)[:length]


def ours(conversations: int, messages: int, chars: int = 200, prefix: str = "c") -> bytes:
    """Our export: ``conversations`` linear chats of ``messages`` messages of ``chars`` characters."""
    items: list[dict[str, Any]] = []
    for c in range(conversations):
        msgs = []
        for m in range(messages):
            msgs.append(
                {
                    "id": f"{prefix}{c}m{m}",
                    "parent_id": f"{prefix}{c}m{m - 1}" if m else None,
                    "role": "user" if m % 2 == 0 else "assistant",
                    "content": f"{c}/{m} " + text(c * 1000 + m, chars),
                    "created_at": f"2025-01-01T{(m // 3600) % 24:02d}:{(m // 60) % 60:02d}:{m % 60:02d}+00:00",
                }
            )
        items.append(
            {
                "id": f"{prefix}{c}",
                "title": f"Conversation {c}",
                "provider": "groq",
                "model": "llama-3.3-70b-versatile",
                "created_at": "2025-01-01T00:00:00+00:00",
                "current_message_id": msgs[-1]["id"] if msgs else None,
                "messages": msgs,
            }
        )
    return json.dumps({"schema": "groq-chat.export", "schema_version": 1, "conversations": items}).encode()


def chatgpt_conversation(source_id: str, title: str, contents: list[str]) -> dict[str, Any]:
    """One ChatGPT conversation: a root node, then user/assistant turns in a line."""
    mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
    parent = "root"
    for i, content in enumerate(contents):
        node = f"n{i}"
        mapping[node] = {
            "id": node,
            "parent": parent,
            "children": [],
            "message": {
                "id": node,
                "author": {"role": "user" if i % 2 == 0 else "assistant"},
                "create_time": T0 + i,
                "content": {"content_type": "text", "parts": [content]},
                "status": "finished_successfully",
                "metadata": {"model_slug": "gpt-4o"} if i % 2 else {},
            },
        }
        mapping[parent]["children"].append(node)
        parent = node
    return {
        "id": source_id,
        "conversation_id": source_id,
        "title": title,
        "create_time": T0,
        "update_time": T0 + len(contents),
        "mapping": mapping,
        "current_node": parent,
    }


def chatgpt(target_bytes: int, messages_each: int = 40, chars: int = 120) -> bytes:
    """A ChatGPT export of about ``target_bytes``: many conversations of short messages."""
    out = bytearray(b"[")
    c = 0
    while len(out) < target_bytes:
        contents = [text(c * 1000 + i, chars) for i in range(messages_each)]
        if c:
            out += b","
        out += json.dumps(chatgpt_conversation(f"conv-{c:07d}", f"Chat {c}", contents)).encode()
        c += 1
    out += b"]"
    return bytes(out)
