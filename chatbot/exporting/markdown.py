"""Markdown for reading: the branch the user is looking at, with the model of each reply."""

from __future__ import annotations

from urllib.parse import quote

from chatbot.records import ConversationRecord, MessageRecord
from chatbot.safe_markdown import escape_markdown
from chatbot.tools import STORED, numbered_sources, restored

MIME = "text/markdown"
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"  # "<", ">" and spaces are encoded: the link stays one link


def render(record: ConversationRecord) -> str:
    lines = [f"# {record.title or 'Conversation'}", "", f"*Model: {record.model}*"]
    if record.tags:
        lines.append(f"*Tags: {', '.join(record.tags)}*")
    lines.append("")
    branch = record.current_branch()
    for prompt, messages in record.system_prompts():
        if prompt:  # each reply's own prompt, where it changed
            lines += ["## System", "", prompt, ""]
        lines += _messages(record, messages)
    hidden = len(record.messages) - len(branch)
    if hidden:
        lines += ["---", "", f"*{hidden} more message(s) on other branches: see the JSON export.*", ""]
    return "\n".join(lines)


def _messages(record: ConversationRecord, messages: list[MessageRecord]) -> list[str]:
    lines: list[str] = []
    for m in messages:
        heading = "User" if m.role == "user" else f"Assistant ({m.model or record.model})"
        if m.status != "complete":
            heading += f" — {m.status}"
        lines += [f"## {heading}", ""]
        if m.reasoning:
            lines += ["<details><summary>Reasoning</summary>", "", m.reasoning, "", "</details>", ""]
        lines += [m.content, ""]
        if m.images:  # named where they were (the JSON, the ZIP's images/ and the HTML carry them)
            lines += [f"*[image: {escape_markdown(i.name or 'image')}, {i.width}×{i.height}]*" for i in m.images]
            lines.append("")
        sources = numbered_sources(restored((m.params or {}).get(STORED)))
        if sources:  # what Groq's web search found, as plain links (titles escaped)
            lines += ["**Sources**", ""]
            lines += [
                f"{n}. [{escape_markdown(s.title)}](<{quote(s.url, safe=_URL_SAFE)}>)" for n, s in enumerate(sources, 1)
            ]
            lines.append("")
    return lines
