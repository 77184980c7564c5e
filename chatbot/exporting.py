"""Export a conversation: Markdown for reading, JSON (versioned, lossless) for re-import."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import datetime, timezone

from chatbot.service import ConversationInfo, Turn

SCHEMA_VERSION = 1


def file_name(conversation: ConversationInfo, extension: str) -> str:
    slug = re.sub(r"[^\w-]+", "-", conversation.title, flags=re.UNICODE).strip("-")[:60] or "conversation"
    return f"{slug}.{extension}"


def to_markdown(conversation: ConversationInfo, turns: list[Turn]) -> str:
    lines = [f"# {conversation.title or 'Conversation'}", "", f"*Model: {conversation.model}*", ""]
    if conversation.system_prompt:
        lines += ["## System", "", conversation.system_prompt, ""]
    for turn in turns:
        heading = "User" if turn.role == "user" else f"Assistant ({turn.model or conversation.model})"
        if turn.status != "complete":
            heading += f" — {turn.status}"
        lines += [f"## {heading}", "", turn.content, ""]
    return "\n".join(lines)


def to_json(conversation: ConversationInfo, turns: list[Turn]) -> str:
    document = {
        "schema": "groq-chat.conversation",
        "schema_version": SCHEMA_VERSION,
        "exported_at": datetime.now(timezone.utc).isoformat(),
        "conversation": {
            "id": conversation.id,
            "title": conversation.title,
            "provider": conversation.provider,
            "model": conversation.model,
            "system_prompt": conversation.system_prompt,
            "updated_at": conversation.updated_at.isoformat(),
        },
        "messages": [asdict(turn) for turn in turns],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
