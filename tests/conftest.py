"""Fixtures: a temporary data directory and database, the stand-in Groq server, AppTest."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.i18n import set_language
from chatbot.store.db import open_database
from tests.pages import APP as APP  # page tests import it from here
from tests.pages import new_app
from tests.postgres import PostgresServer, unavailable_reason
from tests.stand_in_groq import StandInGroq

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data dir and .env path, and no key unless it asks for one."""
    data = tmp_path / "data"
    monkeypatch.setenv("GROQ_CHAT_DATA_DIR", str(data))
    monkeypatch.setenv("GROQ_CHAT_ENV_FILE", str(tmp_path / ".env"))
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # Titles by the model are on by default; here off, so every test that counts the requests
    # Groq received counts only the ones it is about. Tests of titles turn them on (=1).
    monkeypatch.setenv("GROQ_CHAT_AUTO_TITLE", "0")
    return data


DATABASES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using ``db_url`` (``sessions`` uses it) runs on SQLite and on PostgreSQL.

    Except tests marked ``sqlite_only`` (WAL, FTS5 tables, the file itself) and AppTest page
    tests (they use ``app``): those stay on SQLite, unparametrized.
    """
    if "db_url" not in metafunc.fixturenames:
        return
    if "app" in metafunc.fixturenames or metafunc.definition.get_closest_marker("sqlite_only"):
        return
    metafunc.parametrize("db_url", DATABASES, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run; each test gets its own database."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


class FreshDatabases:
    """Empty databases on the test server, each used once, created a few ahead of need.

    CREATE DATABASE costs the server about half a second; a background thread makes the next
    ones while tests run, so that time overlaps the tests instead of adding to them.
    """

    AHEAD = 3

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self._ready: queue.Queue[tuple[str, str] | BaseException] = queue.Queue(maxsize=self.AHEAD)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="fresh-postgres-databases", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        while not self._closed.is_set():
            name = f"t_{uuid.uuid4().hex[:16]}"
            try:
                item: tuple[str, str] | BaseException = (name, self.server.create_database(name))
            except BaseException as exc:  # noqa: BLE001 - handed to the test that takes it
                item = exc
            while not self._closed.is_set():
                try:
                    self._ready.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def take(self) -> tuple[str, str]:
        """(name, URL) of a new, empty database."""
        item = self._ready.get(timeout=120)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=30)


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: PostgresServer) -> Iterator[FreshDatabases]:
    databases = FreshDatabases(postgres_server)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def new_database(request: pytest.FixtureRequest, isolated_env: Path) -> Iterator[Callable[[str], str]]:
    """Makes more empty databases of this test's kind: ``new_database("target")`` -> URL.

    SQLite: a file ``<name>.db`` in the test's data dir; PostgreSQL: a fresh database with a
    unique name on the session's server, dropped after the test.
    """
    kind = _kind(request)
    taken: list[str] = []

    def make(name: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{isolated_env / (name + '.db')}"
        database, url = request.getfixturevalue("postgres_databases").take()
        taken.append(database)
        return url

    yield make
    if taken:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        for database in taken:
            server.drop_database(database)


def _kind(request: pytest.FixtureRequest) -> str:
    """sqlite or postgresql: the ``db_url`` parameter of this test (sqlite when it has none)."""
    callspec = getattr(request.node, "callspec", None)
    return callspec.params.get("db_url", "sqlite") if callspec else "sqlite"


@pytest.fixture
def db_url(
    request: pytest.FixtureRequest,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    new_database: Callable[[str], str],
) -> str:
    """The test's database: a SQLite file in its data dir, or a fresh PostgreSQL database.

    DATABASE_URL points at it too, so everything in the test process uses the same one.
    """
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{isolated_env / 'chat.db'}"
    url = new_database("chat")
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine, maker = open_database(db_url)
    yield maker
    engine.dispose()


@pytest.fixture
def groq_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInGroq]:
    """The stand-in Groq API, with the environment pointing the app's SDK at it."""
    with StandInGroq(reply="Hello **there**! How can I help?") as server:
        monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
        monkeypatch.setenv("GROQ_API_KEY", server.api_key)
        yield server


@pytest.fixture
def english() -> Iterator[None]:
    """t() speaks English in this test and in the ones after it, whatever language a test set
    (use with ``pytestmark = pytest.mark.usefixtures("english")``)."""
    set_language("en")
    yield
    set_language("en")


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
def app() -> AppTest:  # noqa: F821
    return new_app()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:  # noqa: F821
    """Headless Debian Chromium, one for the whole run.

    Playwright's sync API runs an event loop for as long as it is open, so a second
    sync_playwright() in the same process fails: every test that drives a browser takes this.
    """
    from tests.browser.harness import CHROMIUM, launched_chromium

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (Playwright's download is not used)")
    with launched_chromium() as chromium:
        yield chromium
