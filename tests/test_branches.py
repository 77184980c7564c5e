"""One way to walk a conversation's tree, whatever holds the messages: the rows the chat page
reads, the records an export writes, and what switching an alternative or opening a search hit
makes current. Regenerated answers and edited questions are branches; a current message that no
longer exists falls back to the newest message's branch."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.branches import alternatives, branch_path, newest_leaf
from chatbot.conversation import ConversationService
from chatbot.history import HistoryService
from chatbot.records import ConversationRecord, MessageRecord
from chatbot.store import repo

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# q1 -> a1 -> q2 -> {a2, a2 retry}; q1 -> a1 -> q2 edited -> a2 edited (oldest to newest)
TREE = [
    ("q1", None),
    ("a1", "q1"),
    ("q2", "a1"),
    ("a2", "q2"),
    ("a2 retry", "q2"),
    ("q2 edited", "a1"),
    ("a2 edited", "q2 edited"),
]


def record(current: str | None, order: list[int] | None = None) -> ConversationRecord:
    """The tree as an export record; ``order`` lists the messages in another order (an import)."""
    messages = [
        MessageRecord(
            id=mid,
            parent_id=parent,
            role="user" if mid.startswith("q") else "assistant",
            content=mid,
            created_at=T0 + timedelta(seconds=i),
            updated_at=T0 + timedelta(seconds=i),
        )
        for i, (mid, parent) in enumerate(TREE)
    ]
    if order is not None:
        messages = [messages[i] for i in order]
    return ConversationRecord(
        id="c",
        title="t",
        provider="groq",
        model="m",
        created_at=T0,
        updated_at=T0,
        current_message_id=current,
        messages=messages,
    )


def contents(path: list[MessageRecord]) -> list[str]:
    return [m.content for m in path]


@pytest.mark.parametrize(
    ("leaf", "expected"),
    [
        ("a2", ["q1", "a1", "q2", "a2"]),
        ("a2 retry", ["q1", "a1", "q2", "a2 retry"]),  # a regenerated answer
        ("q2 edited", ["q1", "a1", "q2 edited"]),  # an edited question, cut at itself
        ("a2 edited", ["q1", "a1", "q2 edited", "a2 edited"]),
        ("q1", ["q1"]),
        (None, ["q1", "a1", "q2 edited", "a2 edited"]),  # no current message: the newest one's branch
        ("gone", ["q1", "a1", "q2 edited", "a2 edited"]),  # a current id that no longer exists: the same
    ],
)
def test_the_path_to_a_message_is_the_same_for_records_and_rows(leaf: str | None, expected: list[str]) -> None:
    r = record(leaf)
    assert contents(branch_path(r.messages, leaf)) == expected
    assert contents(r.current_branch()) == expected


def test_a_record_in_any_order_falls_back_to_the_newest_message_by_time() -> None:
    shuffled = [6, 0, 3, 1, 5, 2, 4]  # an imported file lists messages as it likes
    assert contents(record("gone", shuffled).current_branch()) == ["q1", "a1", "q2 edited", "a2 edited"]
    assert contents(record("a2", shuffled).current_branch()) == ["q1", "a1", "q2", "a2"]
    assert record(None, []).current_branch() == [] and branch_path([], "a2") == []


def test_a_cycle_in_bad_data_ends_the_walk() -> None:
    r = record("q1")
    looped = [replace(m, parent_id="a1") if m.id == "q1" else m for m in r.messages]
    assert contents(branch_path(looped, "a1")) == ["q1", "a1"]
    assert newest_leaf(looped, "q1") in {m.id for m in looped}  # it returns: no endless walk


def test_newest_leaf_and_alternatives() -> None:
    messages = record(None).messages
    assert newest_leaf(messages, "q2") == "a2 retry"  # the newest answer to that question
    assert newest_leaf(messages, "a1") == "a2 edited"  # below the newest version of the question
    assert newest_leaf(messages, "a2") == "a2"
    siblings = alternatives(messages)
    assert siblings["q2"] == ("a2", "a2 retry") and siblings["a1"] == ("q2", "q2 edited")
    assert siblings[None] == ("q1",)


def test_switching_an_alternative_and_opening_a_hit_show_the_same_branch(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "m", title="Branches")
        ids: dict[str, str] = {}
        for i, (name, parent) in enumerate(TREE):
            ids[name] = repo.add_message(
                s,
                conv.id,
                role="user" if name.startswith("q") else "assistant",
                content=name,
                parent_id=ids[parent] if parent else None,
                created_at=T0 + timedelta(seconds=i),
            ).id
        conv.current_message_id = "no-such-message"  # e.g. a row removed by hand: the newest branch
        cid = conv.id
    conversations, history = ConversationService(sessions), HistoryService(sessions)

    def shown() -> list[str]:
        return [t.content for t in conversations.recent_messages(cid).turns]

    assert shown() == ["q1", "a1", "q2 edited", "a2 edited"]
    conversations.show_alternative(cid, ids["q2"])  # back to the first version of the question
    assert shown() == ["q1", "a1", "q2", "a2 retry"]
    conversations.show_alternative(cid, ids["a2"])
    assert shown() == ["q1", "a1", "q2", "a2"]
    assert history.open_at(cid, ids["a1"])  # on the shown branch already: stays as it is
    assert shown() == ["q1", "a1", "q2", "a2"]
    assert history.open_at(cid, ids["a2 edited"])  # a hit on another branch: that branch opens
    assert shown() == ["q1", "a1", "q2 edited", "a2 edited"]
    assert history.open_at(cid, ids["q2"])
    assert shown() == ["q1", "a1", "q2", "a2 retry"]  # whole, at its newest answer
    window = conversations.recent_messages(cid)
    assert [len(t.alternatives) for t in window.turns] == [1, 1, 2, 2]
