"""What every importer does with a source's messages once parsed: clean their text, order a
tree's nodes root first, break the parent loops a damaged file can hold, and tell whether two
copies of a conversation are the same."""

from __future__ import annotations

from datetime import datetime

from chatbot.records import ConversationRecord, MessageRecord


def safe_text(value: str) -> str:
    # A lone surrogate (from a "\ud83d" escape) cannot be stored as UTF-8: drop just it.
    return value.encode("utf-8", "replace").decode("utf-8") if not value.isascii() else value


def cut_loops(messages: list[MessageRecord]) -> None:
    """A damaged file can link parents in a circle: make the message that closes it a root."""
    by_id = {m.id: m for m in messages}
    settled: set[str] = set()
    for start in messages:
        trail: list[str] = []
        node: MessageRecord | None = start
        while node is not None and node.id not in settled:
            if node.id in trail:
                node.parent_id = None
                break
            trail.append(node.id)
            node = by_id.get(node.parent_id) if node.parent_id else None
        settled.update(trail)


def node_depth(node_id: str, parents: dict[str, str | None], memo: dict[str, int]) -> int:
    """Distance from the root, memoised (long conversations are deep trees); loop-safe."""
    trail: list[str] = []
    seen: set[str] = set()
    node: str | None = node_id
    while node is not None and node not in memo and node not in seen:
        seen.add(node)
        trail.append(node)
        node = parents.get(node)
    depth = memo.get(node, 0) if node is not None else 0
    for item in reversed(trail):
        depth += 1
        memo[item] = depth
    return memo[node_id]


def same_conversation(a: ConversationRecord, b: ConversationRecord) -> bool:
    def content(r: ConversationRecord) -> list[tuple[str, str, datetime]]:
        return sorted((m.role, m.content, m.created_at) for m in r.messages)

    return a.title == b.title and content(a) == content(b)
