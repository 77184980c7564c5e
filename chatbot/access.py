"""Who may change what: admins (listed in secrets.toml) change the server for everyone.

With sign-in configured (``[auth]`` in ``.streamlit/secrets.toml``), only the people listed in
``[admins]`` may write server-wide state (the ``.env`` key, and anything else that changes the
app for everyone); everyone else changes only their own data and their own browser session.
Without sign-in the app is single-user and the local user is the admin.

Pages ask :func:`actor` who is acting and pass the answer to the core; the core refuses with
:func:`require_admin`, so hiding a button is never the only guard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from chatbot.errors import AdminOnly

# Things only an admin may do, named so the refusal can say which one (``admin.action.*`` keys).
AdminAction = Literal[
    "set_prices", "set_budgets", "save_env_key", "save_endpoint_key", "change_endpoints", "set_local_model"
]


@dataclass(frozen=True)
class Actor:
    """The person acting in this browser session.

    ``owner``: whose data they reach ("" = the single local user, else "issuer|subject").
    ``admin``: may change the server for everyone. ``signed_in``: sign-in is configured and done.
    """

    owner: str
    admin: bool
    signed_in: bool = False


LOCAL = Actor(owner="", admin=True, signed_in=False)


def sign_in_configured(secrets: Mapping[str, object]) -> bool:
    return isinstance(secrets.get("auth"), Mapping)


def actor(secrets: Mapping[str, object], claims: Mapping[str, object] | None) -> Actor | None:
    """Who is acting, from the secrets and the identity provider's claims (``st.user``).

    None when sign-in is configured but nobody is signed in (no data, no rights).
    """
    if not sign_in_configured(secrets):
        return LOCAL
    if not claims or not claims.get("is_logged_in") or not claims.get("sub"):
        return None
    owner = f"{claims.get('iss', '')}|{claims.get('sub')}"
    return Actor(owner=owner, admin=is_admin(secrets, claims), signed_in=True)


def is_admin(secrets: Mapping[str, object], claims: Mapping[str, object]) -> bool:
    """Listed in ``[admins]`` by ``ids`` ("issuer|subject", exact) or ``emails``.

    An email counts only when the provider does not say it is unverified: with an
    ``email_verified`` claim it must be true (True or "true"); a provider that sends no such
    claim is trusted on its email (use ``ids`` for providers whose email a user can set freely,
    e.g. a multi-tenant Microsoft Entra ID app). Emails compare without regard to case.
    """
    section = secrets.get("admins")
    if not isinstance(section, Mapping):
        return False
    owner = f"{claims.get('iss', '')}|{claims.get('sub', '')}"
    if claims.get("sub") and owner in _strings(section.get("ids")):
        return True
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip() or not _verified(claims):
        return False
    wanted = email.strip().casefold()
    return any(wanted == listed.strip().casefold() for listed in _strings(section.get("emails")))


def _verified(claims: Mapping[str, object]) -> bool:
    if "email_verified" not in claims:
        return True
    value = claims["email_verified"]
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _strings(value: object) -> list[str]:
    """A list of strings from secrets.toml; a single string is a list of one."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [item for item in value if isinstance(item, str)]
    return []


def require_admin(who: Actor, action: AdminAction) -> None:
    """Raise :class:`AdminOnly` unless ``who`` may change the server for everyone."""
    if not who.admin:
        raise AdminOnly(action)
