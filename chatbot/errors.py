"""Errors the UI can explain: each carries a translation key, its values and the way forward.

Pages render ``t(err.key, **err.values)`` and offer ``err.actions``; no page builds an error
string itself, and no error carries raw provider JSON or a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["retry", "continue", "settings", "switch_model", "install_local"]


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
        super().__init__(key, {"limit": limit, "seconds": round(retry_after or 0)}, ("retry",))
        self.limit = limit
        self.retry_after = retry_after


class RequestTooLarge(ChatError):
    def __init__(self, limit: int | None = None, requested: int | None = None) -> None:
        super().__init__("error.too_large", {"limit": limit or "?", "requested": requested or "?"})


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


class StreamInterrupted(ChatError):
    def __init__(self, detail_key: str = "error.interrupted") -> None:
        super().__init__(detail_key, {}, ("retry", "continue"))


class LocalModelMissing(ChatError):
    def __init__(self, what: str) -> None:
        super().__init__("error.local_missing", {"what": what}, ("install_local",))


class InvalidInput(ChatError):
    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key, values)
