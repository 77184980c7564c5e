"""Which GGUF file the built-in provider runs: ``GROQ_CHAT_LOCAL_MODEL`` (the operator's), else
the file an admin chose in Settings (kept in the database as a server-wide setting), else the
shipped SmolLM2 demo. It is the model for everyone on this server, so only an admin changes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from chatbot import access
from chatbot.database import database_errors
from chatbot.endpoints import SERVER_OWNER
from chatbot.errors import InvalidInput
from chatbot.gguf import NotGguf, read_info
from chatbot.store import repo

ENV_VARIABLE = "GROQ_CHAT_LOCAL_MODEL"
MAX_PATH_CHARS = 1000
_STORED_KEY = "local_model"

Source = Literal["environment", "database", "default"]


@dataclass(frozen=True)
class Choice:
    path: Path | None  # None: the shipped SmolLM2 demo
    source: Source


def check_file(text: str) -> Path:
    """A path typed in Settings, as an absolute path to a readable GGUF file."""
    text = text.strip()
    if len(text) > MAX_PATH_CHARS:
        raise InvalidInput("local.path_too_long", limit=MAX_PATH_CHARS)
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise InvalidInput("local.path_not_absolute")
    if not path.is_file():
        raise InvalidInput("local.no_such_file", file=path.name[:200])
    try:
        read_info(path)
    except NotGguf:
        raise InvalidInput("local.not_gguf", file=path.name[:200]) from None
    return path


class LocalModelSetting:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @database_errors
    def choice(self) -> Choice:
        from_env = os.environ.get(ENV_VARIABLE, "").strip()
        if from_env:
            return Choice(Path(from_env).expanduser(), "environment")
        with self._sessions() as s:
            stored = repo.get_settings(s, SERVER_OWNER).get(_STORED_KEY)
        if isinstance(stored, str) and stored:
            return Choice(Path(stored), "database")
        return Choice(None, "default")

    @database_errors
    def save(self, who: access.Actor, text: str) -> Path | None:
        """Choose a GGUF file ("" = back to the SmolLM2 demo); admins only."""
        access.require_admin(who, "set_local_model")
        path = check_file(text) if text.strip() else None
        with self._sessions.begin() as s:
            repo.put_settings(s, SERVER_OWNER, {_STORED_KEY: str(path) if path else None})
        return path
