"""Plain text: the current branch, one block per message, nothing to interpret."""

from __future__ import annotations

from chatbot.records import ConversationRecord

MIME = "text/plain"


def render(record: ConversationRecord) -> str:
    lines = [record.title or "Conversation", "=" * max(3, min(len(record.title or "Conversation"), 80))]
    lines += [f"Model: {record.model}", f"Created: {record.created_at:%Y-%m-%d %H:%M} UTC", ""]
    if record.system_prompt:
        lines += ["[System]", record.system_prompt, ""]
    for m in record.current_branch():
        label = "User" if m.role == "user" else f"Assistant ({m.model or record.model})"
        stamp = f"{m.created_at:%Y-%m-%d %H:%M}"
        status = "" if m.status == "complete" else f" [{m.status}]"
        lines += [f"[{label} · {stamp}]{status}", m.content]
        lines += [f"[image: {i.name or 'image'}, {i.width}×{i.height}]" for i in m.images]
        lines.append("")
    return "\n".join(lines)
