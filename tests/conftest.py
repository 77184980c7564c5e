"""Fixtures: a temporary data directory and database, the stand-in Groq server, AppTest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.store.db import open_database
from tests.stand_in_groq import StandInGroq

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data dir and .env path, and no key unless it asks for one."""
    data = tmp_path / "data"
    monkeypatch.setenv("GROQ_CHAT_DATA_DIR", str(data))
    monkeypatch.setenv("GROQ_CHAT_ENV_FILE", str(tmp_path / ".env"))
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return data


@pytest.fixture
def db_url(isolated_env: Path) -> str:
    return f"sqlite:///{isolated_env / 'chat.db'}"


@pytest.fixture
def sessions(db_url: str) -> sessionmaker[Session]:
    return open_database(db_url)[1]


@pytest.fixture
def groq_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInGroq]:
    """The stand-in Groq API, with the environment pointing the app's SDK at it."""
    with StandInGroq(reply="Hello **there**! How can I help?") as server:
        monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
        monkeypatch.setenv("GROQ_API_KEY", server.api_key)
        yield server


@pytest.fixture(autouse=True)
def _navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest re-creates Streamlit's process-wide pages/ auto-discovery flag on every run.

    A real server clears it once, at its first run (pages/_common.py), and never again; AppTest
    would set it anew before each .run(). Keep it cleared, as in a server that has started.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def app() -> "AppTest":  # noqa: F821
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(APP, default_timeout=30)
