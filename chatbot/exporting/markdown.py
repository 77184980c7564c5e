"""Markdown for reading: the branch the user is looking at, with the model of each reply."""

from __future__ import annotations

from chatbot.records import ConversationRecord

MIME = "text/markdown"


def render(record: ConversationRecord) -> str:
    lines = [f"# {record.title or 'Conversation'}", "", f"*Model: {record.model}*"]
    if record.tags:
        lines.append(f"*Tags: {', '.join(record.tags)}*")
    lines.append("")
    if record.system_prompt:
        lines += ["## System", "", record.system_prompt, ""]
    branch = record.current_branch()
    for m in branch:
        heading = "User" if m.role == "user" else f"Assistant ({m.model or record.model})"
        if m.status != "complete":
            heading += f" — {m.status}"
        lines += [f"## {heading}", ""]
        if m.reasoning:
            lines += ["<details><summary>Reasoning</summary>", "", m.reasoning, "", "</details>", ""]
        lines += [m.content, ""]
    hidden = len(record.messages) - len(branch)
    if hidden:
        lines += ["---", "", f"*{hidden} more message(s) on other branches: see the JSON export.*", ""]
    return "\n".join(lines)
