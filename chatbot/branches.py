"""A conversation's messages form a tree (regenerated answers and edited questions are siblings);
these walk it. Pure functions over anything with an ``id`` and a ``parent_id``: ORM rows, the
store's plain rows, export records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class Node(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def parent_id(self) -> str | None: ...


N = TypeVar("N", bound=Node)


def branch_path(nodes: Sequence[N], leaf_id: str | None) -> list[N]:
    """The nodes from the root to ``leaf_id``; to the last node (``nodes`` oldest first: the
    newest message) when ``leaf_id`` is None or unknown. A cycle in bad data ends the walk."""
    if not nodes:
        return []
    by_id = {n.id: n for n in nodes}
    node: N | None = by_id.get(leaf_id) if leaf_id else None
    if node is None:
        node = nodes[-1]
    path: list[N] = []
    seen: set[str] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return path


def newest_leaf(nodes: Sequence[Node], start_id: str) -> str:
    """Follow the newest child (``nodes`` oldest first) from ``start_id`` down to a leaf: what
    the user saw last below that message."""
    children: dict[str, list[str]] = {}
    for n in nodes:
        if n.parent_id:
            children.setdefault(n.parent_id, []).append(n.id)
    node, seen = start_id, set()
    while node in children and node not in seen:
        seen.add(node)
        node = children[node][-1]
    return node


def alternatives(nodes: Sequence[Node]) -> dict[str | None, tuple[str, ...]]:
    """Parent id -> the ids of its children, oldest first: a message's alternatives are its
    siblings (the answers to one question, the versions of one question)."""
    siblings: dict[str | None, list[str]] = {}
    for n in nodes:
        siblings.setdefault(n.parent_id, []).append(n.id)
    return {parent: tuple(ids) for parent, ids in siblings.items()}
