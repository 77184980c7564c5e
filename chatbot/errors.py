"""Errors the UI can explain: each carries a translation key, its values and the way forward.

Pages render ``t(err.key, **err.values)`` and offer ``err.actions``; no page builds an error
string itself, and no error carries raw provider JSON or a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chatbot.i18n import catalogue, current_language, t

Action = Literal["retry", "continue", "settings", "switch_model", "install_local"]


class LimitName(str):
    """A rate-limit window ("TPD", "RPM", ...) that reads as words in the user's language.

    A ``str`` so error values stay JSON (stored with the failed reply); only formatting into a
    message translates it, so the language is the one of the page that shows it.
    """

    def __format__(self, spec: str) -> str:
        raw = str.__str__(self)
        key = f"limit.{raw}"
        text = t(key) if key in catalogue(current_language()) or key in catalogue("en") else raw
        return format(text, spec)


class Wait(int):
    """Seconds until a limit resets, shown as seconds, or minutes (and hours) for long waits."""

    def __format__(self, spec: str) -> str:
        seconds = int(self)
        if seconds < 120:
            text = t("duration.seconds", seconds=seconds)
        elif seconds < 3600:
            text = t("duration.minutes", minutes=round(seconds / 60), seconds=seconds)
        else:
            text = t("duration.hours", hours=seconds // 3600, minutes=round(seconds % 3600 / 60), seconds=seconds)
        return format(text, spec)


@dataclass
class ChatError(Exception):
    key: str = "error.unknown"
    values: dict[str, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()

    def __str__(self) -> str:  # for logs: the key and values, never a body or a key
        return f"{self.key} {self.values}" if self.values else self.key


class AuthenticationFailed(ChatError):
    def __init__(self) -> None:
        super().__init__("error.auth", {}, ("settings",))


class RateLimited(ChatError):
    def __init__(self, limit: str, retry_after: float | None) -> None:
        key = "error.rate_limit_wait" if retry_after else "error.rate_limit"
        seconds = max(1, round(retry_after)) if retry_after else 0
        values = {"limit": LimitName(limit or "unknown"), "seconds": seconds, "wait": Wait(seconds)}
        super().__init__(key, values, ("retry",))
        self.limit = limit
        self.retry_after = retry_after
        # The x-ratelimit-* headers that came with the 429 (chatbot.providers.base.RateLimits).
        self.rate_limits: Any = None


class RequestTooLarge(ChatError):
    """413: over the tokens-per-minute limit. ``single``: the newest message alone is too big,
    so leaving earlier messages out cannot help."""

    def __init__(self, limit: int | None = None, requested: int | None = None, single: bool = False) -> None:
        key = "error.too_large_single" if single else "error.too_large"
        super().__init__(key, {"limit": limit or "?", "requested": requested or "?"})
        self.limit = limit
        self.single = single


class ContextTooLong(ChatError):
    def __init__(self) -> None:
        super().__init__("error.context_length", {}, ("retry",))


class ModelUnavailable(ChatError):
    def __init__(self, model: str, decommissioned: bool) -> None:
        key = "error.model_decommissioned" if decommissioned else "error.model_not_found"
        super().__init__(key, {"model": model}, ("switch_model",))
        self.model = model


class ProviderUnavailable(ChatError):
    def __init__(self, kind: Literal["server", "connection", "timeout"]) -> None:
        super().__init__(f"error.{kind}", {}, ("retry",))


class FlexCapacity(ChatError):
    """498: Groq's flex tier had no capacity for this request; on_demand may answer it now."""

    def __init__(self, model: str) -> None:
        super().__init__("error.flex_capacity", {"model": model}, ("retry",))


class StreamInterrupted(ChatError):
    def __init__(self, detail_key: str = "error.interrupted") -> None:
        super().__init__(detail_key, {}, ("retry", "continue"))


class LocalModelMissing(ChatError):
    def __init__(self, what: str) -> None:
        super().__init__("error.local_missing", {"what": what}, ("install_local",))


class InvalidInput(ChatError):
    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key, values)


class VoiceNeedsKey(ChatError):
    """Voice input asked for without a Groq key: transcription is Groq's Whisper, the built-in
    model cannot listen. The way forward is Settings, where a key is pasted."""

    def __init__(self) -> None:
        super().__init__("voice.needs_key", {}, ("settings",))


class SpeechNeedsKey(ChatError):
    """A reply asked to be read aloud without a Groq key: the voice is Groq's text-to-speech
    (Orpheus), the built-in model cannot speak. The way forward is Settings."""

    def __init__(self) -> None:
        super().__init__("speech.needs_key", {}, ("settings",))


class DatabaseUnavailable(ChatError):
    """The database file cannot be used: locked, read-only, corrupt, or missing its folder."""

    def __init__(self, kind: Literal["locked", "readonly", "corrupt", "unavailable"]) -> None:
        super().__init__(f"error.db_{kind}", {})


def database_error(exc: BaseException) -> DatabaseUnavailable:
    """Classify a SQLAlchemy/sqlite3 error; its text (SQL, parameters) is never shown."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if "locked" in text or "busy" in text:
        return DatabaseUnavailable("locked")
    if "readonly" in text or "read-only" in text or "read only" in text:
        return DatabaseUnavailable("readonly")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return DatabaseUnavailable("corrupt")
    return DatabaseUnavailable("unavailable")


# chatbot.budgets.BudgetReached, and as a batch run says it (chatbot.batch_worker)
BUDGET_KEYS = ("error.budget_day", "error.budget_month", "batch.budget_day", "batch.budget_month")

# The way forward of each error key, for failures read back from the database.
_ACTIONS: dict[str, tuple[Action, ...]] = {
    "error.auth": ("settings",),
    "error.rate_limit": ("retry",),
    "error.rate_limit_wait": ("retry",),
    "error.context_length": ("retry",),
    "error.model_decommissioned": ("switch_model",),
    "error.model_not_found": ("switch_model",),
    "error.server": ("retry",),
    "error.connection": ("retry",),
    "error.timeout": ("retry",),
    "error.interrupted": ("retry", "continue"),
    "error.local_missing": ("install_local",),
    "error.flex_capacity": ("retry",),
    "error.budget_day": ("settings", "switch_model"),
    "error.budget_month": ("settings", "switch_model"),
    "error.endpoint_auth": ("settings",),
    "error.endpoint_connection": ("retry",),
    "error.endpoint_timeout": ("retry",),
    "error.endpoint_server": ("retry",),
    "error.endpoint_http": ("retry",),
    "error.endpoint_no_stream": ("retry",),
    "error.local_file": ("switch_model",),
    "error.quota_requests_minute": ("retry", "settings"),
    "error.quota_requests_day": ("retry", "settings"),
    "error.quota_tokens_minute": ("retry", "settings"),
    "error.quota_tokens_day": ("retry", "settings"),
}


def stored_values(error: ChatError) -> dict[str, Any]:
    """The error's values as plain JSON types, to keep with the failed reply."""
    return {k: v if isinstance(v, (int, float, str)) or v is None else str(v) for k, v in error.values.items()}


def restore(key: str, values: dict[str, Any] | None = None) -> ChatError:
    """The error a failed reply was saved with, able to show its full message again."""
    values = dict(values or {})
    if "limit" in values and key.startswith("error.rate_limit"):
        values["limit"] = LimitName(values["limit"])
    waits = key == "error.rate_limit_wait" or key in QUOTA_KEYS.values() or key in BUDGET_KEYS
    if "seconds" in values and waits:
        values["wait"] = Wait(int(values["seconds"]))
    error = ChatError(key, values, _ACTIONS.get(key, ()))
    if not _formats(error):  # saved by an older version: no values; say it without them
        error = ChatError(_GENERIC.get(key, "error.unknown"), {}, error.actions)
    return error


# Keys whose text needs values, and what to say when a stored reply has none.
_GENERIC = {
    "error.rate_limit": "error.rate_limit_generic",
    "error.rate_limit_wait": "error.rate_limit_generic",
    "error.too_large": "error.too_large_generic",
    "error.too_large_single": "error.too_large_generic",
    "error.model_decommissioned": "error.model_gone_generic",
    "error.model_not_found": "error.model_gone_generic",
    "error.local_missing": "error.local_missing_generic",
    "error.bad_request": "error.bad_request_generic",
    "error.http": "error.server",
}


def _formats(error: ChatError) -> bool:
    try:
        t(error.key, **error.values) if error.values else t(error.key).format()
    except (KeyError, IndexError, ValueError):
        return False
    return True


class ImportFailed(ChatError):
    """A file that imports nothing: unreadable, too large, hostile or not an export.

    One translated sentence says why (``import.*`` keys); the database is left unchanged.
    """

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key, values)


class AdminOnly(ChatError):
    """Something that would change the server for everyone, asked by someone not listed in
    ``[admins]`` of secrets.toml (see ``chatbot.access``)."""

    _KEYS = {
        "save_env_key": "error.admin_only_env_key",
        "set_prices": "error.admin_only_prices",
        "set_budgets": "error.admin_only_budgets",
        "save_endpoint_key": "error.admin_only_env_key",
        "change_endpoints": "error.admin_only_endpoints",
        "set_local_model": "error.admin_only_local_model",
    }

    def __init__(self, action: str) -> None:
        super().__init__(self._KEYS.get(action, "error.admin_only"), {})
        self.action = action


# Which per-person budget (secrets.toml [limits]) is used up: (what is counted, its window).
QUOTA_KEYS = {
    ("requests", "minute"): "error.quota_requests_minute",
    ("requests", "day"): "error.quota_requests_day",
    ("tokens", "minute"): "error.quota_tokens_minute",
    ("tokens", "day"): "error.quota_tokens_day",
}


class QuotaExceeded(RateLimited):
    """This server's per-person budget is used up; nothing was sent to the provider.

    A RateLimited, so a short wait (a per-minute budget) is counted down and retried like one
    of Groq's own per-minute limits, and a long one (a day's) is explained with when it frees up.
    """

    def __init__(
        self, counted: Literal["requests", "tokens"], window: Literal["minute", "day"], limit: int, retry_after: float
    ) -> None:
        super().__init__(f"{counted}_per_{window}", retry_after)
        seconds = max(1, round(retry_after))
        self.key = QUOTA_KEYS[(counted, window)]
        self.values = {"limit": limit, "seconds": seconds, "wait": Wait(seconds)}
        self.actions = ("retry", "settings")
        self.counted, self.window, self.budget = counted, window, limit
