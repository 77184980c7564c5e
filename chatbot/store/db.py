"""Engine creation and schema upgrades.

Every database (SQLite file, PostgreSQL) is created and upgraded by the Alembic migrations,
run in-process at start-up so a new user never runs a migration command by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

from chatbot import config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # The busy timeout makes concurrent writers wait instead of failing with "database is
    # locked"; set first, so that switching to WAL below waits for a lock as well.
    cursor.execute(f"PRAGMA busy_timeout={int(config.database_busy_timeout() * 1000)}")
    # WAL lets readers (other tabs, other sessions) run while a reply is being written.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_nul(v) for v in value)
    return value


def _postgres_text(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    """PostgreSQL's text cannot hold U+0000 (SQLite's can): it is stored as U+FFFD, as a lone
    surrogate is, instead of failing the whole write (a pasted NUL, an imported file)."""
    return statement, _without_nul(parameters)


def _new_sqlite_file(url: URL) -> Path | None:
    """The file SQLite may create for this URL (its folder is made first), or None: in memory,
    or opened with mode=ro/rw, where SQLite refuses a missing file rather than create it."""
    name = url.database or ""
    if str(url.query.get("uri", "")).lower() in ("true", "1", "yes", "on"):
        # A SQLite URI (sqlite:///file:<path>?mode=ro&uri=true): "file:" is not part of the
        # path, and the options are in the URL's query.
        if url.query.get("mode") in ("ro", "rw", "memory"):
            return None
        name = unquote(urlsplit(name).path) if name.startswith("file:") else name
    if not name or name == ":memory:":
        return None
    return Path(name)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if (file := _new_sqlite_file(parsed)) is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": config.database_busy_timeout()}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Several app servers share the database: a dropped connection is replaced, not an error.
    # Timestamps come back in UTC whatever the server's time zone (code compares them with
    # SQLite's naive UTC values).
    if parsed.get_backend_name() != "postgresql":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
    event.listen(engine, "before_cursor_execute", _postgres_text, retval=True)
    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION = re.compile(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


def head_revision() -> str | None:
    """The newest migration, read from the files themselves; None when unsure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"""["']([^"']+)["']""", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_revision(engine: Engine, revision: str) -> bool:
    try:
        with engine.connect() as connection:
            stamped = {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:  # a new database: no version table yet
        return False
    return stamped == {revision}


def upgrade(engine: Engine, revision: str = "head") -> None:
    # Importing Alembic costs ~0.35 s (every dialect's DDL module), on the first page of every
    # app start: a database already at the newest migration is recognised without it.
    if revision == "head" and (head := head_revision()) is not None and _at_revision(engine, head):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """Engine + session factory for ``url``, schema upgraded to the newest migration."""
    engine = make_engine(url)
    upgrade(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
