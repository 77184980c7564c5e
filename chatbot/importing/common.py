"""What the other apps' importers share: a conversation as its source gives it -> a record.

Each source module (claude, open_webui, librechat, lobechat, chatbot_ui) reads its own shape
into ``Source`` conversations of ``Turn``s (a message with the id of its parent, or the reason it
is left out) and hands them to a ``Collector``, which does the rest the same way for all:

- ids: ``our_id(source, conversation id[, message id])``, so importing the same file again finds
  the same conversations and messages (and a conversation continued since gets only the new);
- branches: a kept message's parent is its nearest kept ancestor; a loop is cut;
- times: a message without one takes its parent's (a moment later), else the conversation's;
- a conversation read twice is taken once when both copies match, else imported beside it;
- what is left out is counted by reason, what is skipped says why.

Lenient with unknown fields (ignored), strict with structure: a conversation whose messages are
not where they must be is skipped as unreadable, never half-guessed.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chatbot.importing.chatgpt import (
    MAX_TITLE,
    ChatGPTBatch,
    Skipped,
    our_id,
)
from chatbot.importing.tree import cut_loops, node_depth, safe_text, same_conversation
from chatbot.records import ConversationRecord, MessageRecord

SourceBatch = ChatGPTBatch  # records, skipped, left_out, parts_dropped, duplicates, same_id
MAX_MODEL = 200
MAX_TAG = 50
MAX_TAGS = 20
_LATER = timedelta(milliseconds=1)

# Skip reasons (translation keys) and left-out reasons every source may give.
UNREADABLE = "import.skip.unreadable"  # not an object, no id, messages not where they must be
NO_MESSAGES = "import.skip.no_messages"  # a conversation without any message
NO_TEXT = "import.skip.no_text"  # messages, but none with text to show


@dataclass
class Turn:
    """One message as the source has it. ``text`` None: left out, for ``reason``."""

    id: str
    parent: str | None
    role: str
    text: str | None
    reason: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    model: str | None = None
    reasoning: str | None = None
    status: str = "complete"


@dataclass
class Source:
    source_id: str
    title: str
    turns: list[Turn]
    current: str | None = None  # the source's current leaf; None: the newest message's branch
    created: datetime | None = None
    updated: datetime | None = None
    model: str = ""
    system_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    pinned: bool = False
    archived: bool = False


def as_dict(value: Any) -> dict[str, Any]:
    """A field that should be an object; anything else (a hostile file) reads as empty."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text_of(value: Any) -> str:
    return safe_text(value) if isinstance(value, str) else ""


def ident(value: Any) -> str | None:
    """An id as text: a non-empty string, or an integer (some exports number their items)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 500:
        return value
    return None


def title_of(*values: Any) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return " ".join(safe_text(value).split())[:MAX_TITLE]
    return ""


def model_of(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_MODEL]
    return None


def epoch(value: Any) -> datetime | None:
    """Epoch seconds, or milliseconds when the number is too large to be seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    if value > 1e11:  # seconds would be after the year 5138: milliseconds
        value = value / 1000
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso(value: Any) -> datetime | None:
    """An ISO-8601 time ("2024-07-30T16:06:23.747046Z", "+00:00", no zone = UTC); or epoch."""
    if isinstance(value, (int, float)):
        return epoch(value)
    if not isinstance(value, str) or not 8 <= len(value) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def temperature(value: Any) -> dict[str, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 2:
        return {"temperature": float(value)}
    return {}


def clean_tags(values: Iterable[Any]) -> list[str]:
    """Tags as the app keeps them: one line, at most 50 characters, at most 20, no repeats."""
    out: dict[str, str] = {}
    for value in values:
        if isinstance(value, dict):
            value = value.get("name") or value.get("title")
        if not isinstance(value, str):
            continue
        tag = " ".join(safe_text(value).split())[:MAX_TAG].strip()
        if tag:
            out.setdefault(tag.casefold(), tag)
    return list(out.values())[:MAX_TAGS]


def file_block(name: str, text: str) -> str:
    """An attached file's text as the chat input puts it: its name, then a fenced block."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{name}\n\n{fence}\n{text}\n{fence}"


_DETAILS = re.compile(r"<details\b([^>]*)>(.*?)</details>\s*", re.S | re.I)
_SUMMARY = re.compile(r"<summary\b[^>]*>.*?</summary>", re.S | re.I)
_TYPE = re.compile(r"""\btype\s*=\s*["']?([\w-]+)""", re.I)


def split_details(content: str) -> tuple[str, str | None, int]:
    """Open WebUI (and others) put reasoning and tool calls into ``<details type=…>`` blocks
    before the answer: (answer, reasoning, tool blocks removed). Never shown as markup."""
    reasoning: list[str] = []
    tools = 0

    def take(match: re.Match[str]) -> str:
        nonlocal tools
        found = _TYPE.search(match.group(1))
        kind = found.group(1).lower() if found else ""
        body = _SUMMARY.sub("", match.group(2))
        if kind == "reasoning":
            lines = [re.sub(r"^\s*>\s?", "", line) for line in body.strip("\n").split("\n")]
            reasoning.append(html.unescape("\n".join(lines).strip()))
            return ""
        if kind in ("tool_calls", "code_interpreter", "tool_call"):
            tools += 1
            return ""
        return match.group(0)  # a <details> the answer itself holds (written by the model)

    if "<details" not in content:
        return content, None, 0
    answer = _DETAILS.sub(take, content)
    return answer.strip(), "\n\n".join(r for r in reasoning if r) or None, tools


class Collector:
    """Records from one source's conversations, with the batch's counts."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.batch = SourceBatch()
        self.index = 0  # conversations seen, for "#3" titles and copies' ids
        self._first: dict[str, ConversationRecord | None] = {}

    def skip(self, title: str, reason: str, **values: Any) -> None:
        self.batch.skipped.append(Skipped(title or f"#{self.index + 1}", reason, values))
        self.index += 1

    def left_out(self, reason: str, count: int = 1) -> None:
        if count:
            self.batch.left_out[reason] += count

    def add(self, conversation: Source) -> None:
        """Build the record, or take a repeated conversation once (or beside, if it differs)."""
        if conversation.source_id in self._first:
            scratch = SourceBatch()
            copy = self._build(conversation, scratch, copy=self.index + 1)
            first = self._first[conversation.source_id]
            if (first is None and copy is None) or (first and copy and same_conversation(first, copy)):
                self.batch.duplicates += 1
            else:
                self.batch.records.extend(scratch.records)
                self.batch.skipped.extend(scratch.skipped)
                self.batch.left_out.update(scratch.left_out)
                self.batch.same_id.extend(r.id for r in scratch.records)
        else:
            self._first[conversation.source_id] = self._build(conversation, self.batch)
        self.index += 1

    def _build(self, c: Source, batch: SourceBatch, copy: int = 0) -> ConversationRecord | None:
        source_id = f"{c.source_id}\x1fcopy {copy}" if copy else c.source_id
        if not c.turns:
            batch.skipped.append(Skipped(c.title or f"#{self.index + 1}", NO_MESSAGES))
            return None
        parents: dict[str, str | None] = {}
        kept: dict[str, Turn] = {}
        for turn in c.turns:
            if turn.id in parents:  # the same message id twice in one conversation: damaged
                batch.left_out["other"] += 1
                continue
            parents[turn.id] = turn.parent if turn.parent != turn.id else None
            if turn.text is None or not turn.text.strip():
                batch.left_out[turn.reason or "empty"] += 1
            else:
                kept[turn.id] = turn
        if not kept:
            batch.skipped.append(Skipped(c.title or f"#{self.index + 1}", NO_TEXT))
            return None

        def kept_ancestor(node: str | None) -> str | None:
            seen: set[str] = set()
            while node is not None and node not in seen:
                seen.add(node)
                if node in kept:
                    return node
                node = parents.get(node)
            return None

        def mid(node: str) -> str:
            return our_id(self.source, source_id, node)

        known = [t.created for t in kept.values() if t.created is not None]
        first = c.created or min(known, default=None) or datetime.now(UTC)
        times: dict[str, datetime] = {}
        messages: list[MessageRecord] = []
        depths: dict[str, int] = {}
        # Parents before children (the source's order among equals), so a message without a
        # time can take its parent's.
        for node in sorted(kept, key=lambda n: node_depth(n, parents, depths)):
            turn = kept[node]
            parent = kept_ancestor(parents.get(node))
            when = turn.created or (times[parent] + _LATER if parent in times else None) or first
            times[node] = when
            assistant = turn.role == "assistant"
            messages.append(
                MessageRecord(
                    id=mid(node),
                    parent_id=mid(parent) if parent else None,
                    role=turn.role,
                    content=safe_text(turn.text or ""),
                    created_at=when,
                    updated_at=turn.updated or when,
                    reasoning=safe_text(turn.reasoning) if turn.reasoning else None,
                    status=turn.status,
                    provider=self.source if assistant else None,
                    model=(turn.model or c.model or None) if assistant else None,
                )
            )
        cut_loops(messages)
        messages.sort(key=lambda m: (m.created_at, m.id))
        current = kept_ancestor(c.current) if c.current is not None else None
        current_id = mid(current) if current else messages[-1].id
        model = c.model or next((m.model for m in reversed(messages) if m.model), None) or ""
        record = ConversationRecord(
            id=our_id(self.source, source_id),
            title=c.title,
            provider=self.source,
            model=model[:MAX_MODEL],
            created_at=first,
            updated_at=max(c.updated or first, max(m.created_at for m in messages)),
            title_source="model" if c.title else "words",
            system_prompt=c.system_prompt or None,
            params=dict(c.params),
            pinned=c.pinned,
            archived=c.archived,
            current_message_id=current_id,
            tags=clean_tags(c.tags),
            messages=messages,
        )
        batch.records.append(record)
        return record


def latest_leaf(turns: list[Turn]) -> str | None:
    """The branch an app shows by default when it keeps no pointer: from the root, each
    time the last answer given (the newest sibling; the later one in the file on a tie)."""
    children: dict[str | None, list[tuple[int, Turn]]] = {}
    ids = {t.id for t in turns}
    for position, turn in enumerate(turns):
        parent = turn.parent if turn.parent in ids and turn.parent != turn.id else None
        children.setdefault(parent, []).append((position, turn))
    never = datetime.min.replace(tzinfo=UTC)
    node: str | None = None
    seen: set[str] = set()
    while children.get(node):
        _, last = max(children[node], key=lambda item: (item[1].created or never, item[0]))
        if last.id in seen:
            break
        seen.add(last.id)
        node = last.id
    return node
