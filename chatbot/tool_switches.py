"""A conversation's "Search the web" and "Run code" switches, kept in its params (per person)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session, sessionmaker

from chatbot.database import database_errors
from chatbot.store import repo
from chatbot.tools import PARAM, TOOLS, with_switches


class ToolSwitches:
    def __init__(self, sessions: sessionmaker[Session], owner: str = "") -> None:
        self._sessions = sessions
        self.owner = owner

    @database_errors
    def get(self, conversation_id: str) -> tuple[str, ...]:
        with self._sessions() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            wanted = (conv.params or {}).get(PARAM) or () if conv is not None else ()
        return tuple(t for t in TOOLS if t in wanted)

    @database_errors
    def set(self, conversation_id: str, tools: Iterable[str]) -> None:
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is not None:  # someone else's or deleted: nothing to switch
                repo.update_conversation(s, self.owner, conversation_id, params=with_switches(conv.params, tools))
