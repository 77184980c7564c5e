"""Where configuration comes from, in one order.

API key (:func:`resolve_api_key`): the key pasted in this browser session, for that session
only; then the operator's, first found of environment ``GROQ_API_KEY`` > ``.streamlit/secrets.toml``
(passed in by the app; this module never imports Streamlit) > ``.env``. Only an admin may write
``.env`` (:func:`save_api_key_to_env`), and it never overrides the operator's environment or
secrets.toml. Everything else the user changes lives in the database (``chatbot.settings``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values

from chatbot import access

PROJECT_DIR = Path(__file__).resolve().parent.parent


def env_file() -> Path:
    return Path(os.environ.get("GROQ_CHAT_ENV_FILE", Path.cwd() / ".env"))


def data_dir() -> Path:
    return Path(os.environ.get("GROQ_CHAT_DATA_DIR", PROJECT_DIR / "data"))


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir() / 'chat.db'}"


def groq_base_url() -> str | None:
    """None lets the SDK use GROQ_BASE_URL itself, then api.groq.com."""
    return os.environ.get("GROQ_BASE_URL") or None


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def groq_timeout() -> float:
    """Seconds the SDK waits for Groq (each read of a stream, too); GROQ_CHAT_TIMEOUT overrides."""
    return _seconds("GROQ_CHAT_TIMEOUT", 60.0)


def database_busy_timeout() -> float:
    """Seconds a write waits for another writer's lock; GROQ_CHAT_DB_BUSY_TIMEOUT overrides."""
    return _seconds("GROQ_CHAT_DB_BUSY_TIMEOUT", 10.0)


def auto_titles() -> bool:
    """Whether this server may name a new Groq chat with a short extra request after its
    first reply (each user can still switch it off in Settings).

    On unless GROQ_CHAT_AUTO_TITLE=0: an operator on a tight free-tier quota can spare the
    extra request for everyone; the first words of the first message then stay the title.
    """
    return os.environ.get("GROQ_CHAT_AUTO_TITLE", "").strip().lower() not in ("0", "false", "no", "off")


KeySource = Literal["session", "environment", "secrets", "env_file"]


@dataclass(frozen=True)
class ApiKey:
    """The key a session uses and where it came from ("session": pasted by this person, used by
    no one else; any other source: the server's key, shared by everyone on it)."""

    value: str
    source: KeySource

    @property
    def shared(self) -> bool:
        return self.source != "session"

    @property
    def masked(self) -> str:
        return mask_key(self.value)


def api_key(session_key: str | None = None, secrets: Mapping[str, object] | None = None) -> ApiKey | None:
    """The key for one browser session, or None (the built-in model answers then).

    A key pasted in this session comes first: it reaches this session only, so it overrides the
    server's key for nobody else, and it lets a person use their own Groq account (and its
    limits). Then the operator's places, in the order an operator sets them deliberately:
    the environment, secrets.toml, and last the ``.env`` file (the only one the app itself can
    write, so a key saved there never overrides what the operator configured).
    """
    if session_key and session_key.strip():
        return ApiKey(session_key.strip(), "session")
    if os.environ.get("GROQ_API_KEY", "").strip():
        return ApiKey(os.environ["GROQ_API_KEY"].strip(), "environment")
    if secrets is not None:
        value = secrets.get("GROQ_API_KEY")
        if isinstance(value, str) and value.strip():
            return ApiKey(value.strip(), "secrets")
    path = env_file()
    if path.is_file():
        found = dotenv_values(path).get("GROQ_API_KEY")
        if found and found.strip():
            return ApiKey(found.strip(), "env_file")
    return None


def resolve_api_key(session_key: str | None = None, secrets: Mapping[str, object] | None = None) -> str | None:
    """The key's value alone (see :func:`api_key` for the order)."""
    found = api_key(session_key, secrets)
    return found.value if found else None


def save_api_key_to_env(key: str, actor: access.Actor) -> Path:
    """Write or replace GROQ_API_KEY in .env, readable by the owner only (mode 600).

    The key in .env is the server's key for everyone without one of their own, so only an
    admin may write it: anyone else gets :class:`chatbot.errors.AdminOnly`, and nothing is written.
    """
    access.require_admin(actor, "save_env_key")
    return _write_env("GROQ_API_KEY", key)


def save_to_env(variable: str, key: str, actor: access.Actor) -> Path:
    """Write another key (an OpenAI-compatible endpoint's) to .env under ``variable``: admins only,
    as for the Groq key, since every session of this server uses it."""
    access.require_admin(actor, "save_endpoint_key")
    return _write_env(variable, key)


def _write_env(variable: str, key: str) -> Path:
    if not key.strip() or any(ch.isspace() or not ch.isprintable() for ch in key.strip()):
        # A line break would write a second variable into .env; keys have no spaces either.
        from chatbot.errors import InvalidInput

        raise InvalidInput("endpoint.invalid_key")
    path = env_file()
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    lines = [line for line in lines if not re.match(rf"\s*(export\s+)?{re.escape(variable)}\s*=", line)]
    lines.append(f"{variable}={key.strip()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to an existing file
    return path


def mask_key(key: str | None) -> str:
    """At most the key's last four characters: enough to tell two keys apart, never to use one."""
    if not key:
        return ""
    return f"…{key[-4:]}" if len(key) > 12 else "…"
