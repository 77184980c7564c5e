"""ConversationService.recent_messages and .turns (what the chat page draws) agree with the whole
shown branch (recent_messages with no limit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from chatbot.conversation import ConversationService
from chatbot.store import repo


def test_window_and_turns_match_the_full_branch(sessions: sessionmaker[Session]) -> None:
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-20b", title="Branches")
        q = repo.add_message(s, conv.id, role="user", content="q")
        repo.add_message(s, conv.id, role="assistant", content="a1", parent_id=q.id)
        a2 = repo.add_message(s, conv.id, role="assistant", content="a2", parent_id=q.id)
        q2 = repo.add_message(s, conv.id, role="user", content="q2", parent_id=a2.id)
        other = repo.add_message(s, conv.id, role="user", content="another first question")
        cut = repo.add_message(
            s,
            conv.id,
            role="assistant",
            content="cut",
            parent_id=q2.id,
            status="streaming",
            created_at=long_ago,
            updated_at=long_ago,
        )
        conv.current_message_id = cut.id
        cid, other_id = conv.id, other.id
    service = ConversationService(sessions)
    window = service.recent_messages(cid, 2)  # reading marks the dead stream interrupted
    full = service.recent_messages(cid).turns
    assert [t.content for t in full] == ["q", "a2", "q2", "cut"]
    assert full[-1].status == "interrupted" and window.turns[-1].status == "interrupted"
    assert window.turns == full[-2:] and window.total == 4
    assert service.recent_messages(cid, 40).turns == full
    assert service.turns(cid, [t.id for t in full]) == full
    assert len(full[1].alternatives) == 2
    # A search hit older than the window: the window grows back to it, and no further.
    assert service.recent_messages(cid, 2, include=full[1].id).turns == full[1:]
    assert service.recent_messages(cid, 2, include=full[3].id).turns == full[-2:]
    assert service.recent_messages(cid, 2, include=other_id).turns == full[-2:]  # not on this branch
    assert service.recent_messages("no-such-id", 40).turns == []


def test_a_long_conversation_opens_on_its_newest_text(sessions: sessionmaker[Session]) -> None:
    sizes = [300, 5000, 300, 5000, 300, 5000, 300, 5000]  # question, long answer, ...
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-20b", title="Long")
        parent = None
        for i, size in enumerate(sizes):
            parent = repo.add_message(
                s,
                conv.id,
                role="user" if i % 2 == 0 else "assistant",
                content=str(i) * size,
                parent_id=parent.id if parent else None,
            )
        conv.current_message_id = parent.id if parent else None
        cid = conv.id
    service = ConversationService(sessions)
    full = service.recent_messages(cid).turns
    assert service.recent_messages(cid, 40, max_chars=11_000).turns == full[-4:]  # 10,600 characters
    assert service.recent_messages(cid, 40, max_chars=10_400).turns == full[-3:]  # 10,300
    assert service.recent_messages(cid, 40, max_chars=100).turns == full[-2:]  # the last exchange at least
    assert service.recent_messages(cid, 3, max_chars=100_000).turns == full[-3:]  # the count still bounds it
    assert service.recent_messages(cid, 40, include=full[1].id, max_chars=100).turns == full[1:]
    assert service.recent_messages(cid, 40, max_chars=100).total == 8
