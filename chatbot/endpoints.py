"""OpenAI-compatible servers (Ollama, vLLM, LM Studio, llama.cpp, OpenRouter ...) by name.

An endpoint is a name, a base URL, and the NAME of the variable that holds its key; the key
itself is looked up like the Groq key (environment > secrets.toml > ``.env``) each time and is
never stored with the endpoint, so it cannot reach the database, an export or a log.

Where endpoints come from, first found by name wins: ``[endpoints.<name>]`` in
``.streamlit/secrets.toml``, then ``GROQ_CHAT_ENDPOINTS`` (JSON, the same fields), then those an
admin added in Settings (kept in the database as server-wide settings). An endpoint makes the
server fetch a URL and send a key there, so only an admin may add, change or remove one
(:func:`chatbot.access.require_admin`); everyone else picks from them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from sqlalchemy.orm import Session, sessionmaker

from chatbot import access, config
from chatbot.database import database_errors
from chatbot.errors import InvalidInput
from chatbot.store import repo

PROVIDER_PREFIX = "endpoint."  # provider names: "endpoint.<name>" (the provider column holds 40 characters)
# Letters, digits, "-" and "_", 1 to 30 characters: fits the provider column with its prefix,
# and has no ":" (which separates provider and model in a model key).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,29}")
# Upper-case letters, digits and "_", ending in _KEY, _API_KEY or _TOKEN, at most 64 characters:
# an endpoint sends this variable's value to its URL, so it can only name a key, never e.g.
# DATABASE_URL or some other secret of the server's environment.
KEY_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]{0,58}_(?:KEY|TOKEN)")
MAX_URL_CHARS = 500
MAX_MODELS = 100  # model ids typed or configured per endpoint
MAX_MODEL_CHARS = 200  # the model column's size
MAX_ENDPOINTS = 20
ENV_VARIABLE = "GROQ_CHAT_ENDPOINTS"
# Server-wide settings live in the settings table under an owner no person can have: signed-in
# owners are "issuer|subject" (always a "|"), the single local user is "".
SERVER_OWNER = "#server"
_STORED_KEY = "endpoints"

Source = Literal["secrets", "environment", "database"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    base_url: str
    key_variable: str = ""  # "" = the server needs no key (a local Ollama, llama.cpp, LM Studio)
    models: tuple[str, ...] = ()  # typed ids, for servers without /models (or to add to it)
    source: Source = "database"

    @property
    def provider(self) -> str:
        return PROVIDER_PREFIX + self.name

    def stored(self) -> dict[str, Any]:
        """As kept in the database: the key's variable name, never a key."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "key_variable": self.key_variable,
            "models": list(self.models),
        }


def endpoint_name(provider: str) -> str | None:
    """The endpoint's name for a provider name, None for Groq or the local model."""
    return provider[len(PROVIDER_PREFIX) :] if provider.startswith(PROVIDER_PREFIX) else None


def validate(
    name: str, base_url: str, key_variable: str = "", models: Sequence[str] = (), source: Source = "database"
) -> Endpoint:
    """An endpoint from what was typed or configured; ``InvalidInput`` says what is wrong."""
    name = name.strip()
    if not NAME.fullmatch(name):
        raise InvalidInput("endpoint.invalid_name", name=name[:40])
    url = base_url.strip().rstrip("/")
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput("endpoint.url_too_long", limit=MAX_URL_CHARS)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("endpoint.invalid_url")
    if parts.username or parts.password:  # a key in the URL would be stored and shown with it
        raise InvalidInput("endpoint.url_has_credentials")
    variable = key_variable.strip()
    if variable and not KEY_VARIABLE.fullmatch(variable):
        raise InvalidInput("endpoint.invalid_key_variable", name=variable[:70])
    ids = tuple(dict.fromkeys(m.strip() for m in models if m and m.strip()))
    if len(ids) > MAX_MODELS:
        raise InvalidInput("endpoint.too_many_models", limit=MAX_MODELS)
    if any(len(m) > MAX_MODEL_CHARS for m in ids):
        raise InvalidInput("endpoint.model_too_long", limit=MAX_MODEL_CHARS)
    return Endpoint(name, url, variable, ids, source)


def _from_mapping(name: str, value: object, source: Source) -> Endpoint | None:
    if not isinstance(value, Mapping):
        return None
    models = value.get("models", ())
    try:
        return validate(
            name,
            str(value.get("base_url", "")),
            str(value.get("api_key_env", value.get("key_variable", "")) or ""),
            [str(m) for m in models] if isinstance(models, (list, tuple)) else [],
            source,
        )
    except InvalidInput:
        return None  # a bad entry is left out; the rest still work (the README says the rules)


def _configured(secrets: Mapping[str, object]) -> list[Endpoint]:
    found: list[Endpoint] = []
    section = secrets.get("endpoints")
    if isinstance(section, Mapping):
        found += [e for name, v in section.items() if (e := _from_mapping(str(name), v, "secrets"))]
    try:
        from_env = json.loads(os.environ.get(ENV_VARIABLE, "") or "{}")
    except ValueError:
        from_env = {}
    if isinstance(from_env, dict):
        found += [e for name, v in from_env.items() if (e := _from_mapping(str(name), v, "environment"))]
    return found


def resolve_key(variable: str, secrets: Mapping[str, object]) -> str | None:
    """The key in ``variable``: environment, then secrets.toml, then ``.env`` (as the Groq key)."""
    if not variable:
        return None
    value = os.environ.get(variable, "").strip()
    if value:
        return value
    stored = secrets.get(variable)
    if isinstance(stored, str) and stored.strip():
        return stored.strip()
    path = config.env_file()
    if path.is_file():
        found = dotenv_values(path).get(variable)
        if found and found.strip():
            return found.strip()
    return None


@dataclass(frozen=True)
class Reachable:
    """An endpoint with the key it is used with (held in memory for the page run only)."""

    endpoint: Endpoint
    api_key: str | None


class Endpoints:
    """The endpoints of this server: configured ones and those admins added."""

    def __init__(self, sessions: sessionmaker[Session], secrets: Mapping[str, object]) -> None:
        self._sessions = sessions
        self._secrets = secrets

    @database_errors
    def _stored(self) -> list[Endpoint]:
        with self._sessions() as s:
            value = repo.get_settings(s, SERVER_OWNER).get(_STORED_KEY)
        if not isinstance(value, list):
            return []
        return [
            e
            for item in value
            if isinstance(item, dict) and (e := _from_mapping(str(item.get("name", "")), item, "database"))
        ]

    def all(self) -> list[Endpoint]:
        seen: dict[str, Endpoint] = {}
        for endpoint in [*_configured(self._secrets), *self._stored()]:
            seen.setdefault(endpoint.name, endpoint)
        return list(seen.values())[:MAX_ENDPOINTS]

    def reachable(self) -> list[Reachable]:
        return [Reachable(e, resolve_key(e.key_variable, self._secrets)) for e in self.all()]

    def has_key(self, endpoint: Endpoint) -> bool:
        return resolve_key(endpoint.key_variable, self._secrets) is not None

    @database_errors
    def save(self, who: access.Actor, endpoint: Endpoint) -> None:
        """Add or change an endpoint kept in the database (admins only)."""
        access.require_admin(who, "change_endpoints")
        configured = {e.name for e in _configured(self._secrets)}
        if endpoint.name in configured:  # the operator's file decides that one
            raise InvalidInput("endpoint.configured_elsewhere", name=endpoint.name)
        kept = [e for e in self._stored() if e.name != endpoint.name]
        if len(kept) + len(configured) >= MAX_ENDPOINTS:
            raise InvalidInput("endpoint.too_many", limit=MAX_ENDPOINTS)
        with self._sessions.begin() as s:
            repo.put_settings(s, SERVER_OWNER, {_STORED_KEY: [e.stored() for e in [*kept, endpoint]]})

    @database_errors
    def remove(self, who: access.Actor, name: str) -> None:
        access.require_admin(who, "change_endpoints")
        kept = [e.stored() for e in self._stored() if e.name != name]
        with self._sessions.begin() as s:
            repo.put_settings(s, SERVER_OWNER, {_STORED_KEY: kept})

    def save_key(self, who: access.Actor, endpoint: Endpoint, key: str) -> None:
        """Write the endpoint's key to ``.env`` under its variable's name (admins only)."""
        access.require_admin(who, "save_endpoint_key")
        if not endpoint.key_variable:
            raise InvalidInput("endpoint.no_key_variable", name=endpoint.name)
        config.save_to_env(endpoint.key_variable, key, who)
