"""Walking the app's pages in AppTest: what a page shows, what it sends to the browser, one turn.

Shared by the page tests (test_chat_page.py, test_failures.py, test_secrets.py, ...), so each
asks the same questions of a page in the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first needed: conftest.py imports this module for every test
    from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
# Seconds one script run may take: a deadline, not a duration (runs end in well under a
# second on a quiet machine), generous because the suite must pass on a loaded one.
RUN_TIMEOUT = 60

# Sign-in configured, with a dummy OIDC provider: AppTest never follows st.login, a test sets
# ``at.user`` to the claims of whoever it plays (``sign_in``).
ISSUER = "https://idp.example"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret-that-is-long-enough",
    "client_id": "groq-chat-test",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration",
}


def sign_in(at: AppTest, user: dict[str, Any]) -> AppTest:
    """``at`` with sign-in configured and ``user`` (claims, or ``{"is_logged_in": False}``) as st.user."""
    at.secrets["auth"] = AUTH
    at.user = user
    return at


def new_app(**query: str) -> AppTest:
    """A fresh AppTest of app.py (a new session), opened with these query parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def nodes(at: AppTest) -> Iterator[Any]:
    """Every element and block of the page: main area, sidebar and the bottom (chat input)."""

    def walk(node: Any) -> Iterator[Any]:
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    # AppTest has no public root: .main and .sidebar leave out the bottom container.
    yield from walk(at._tree)


def texts(at: AppTest) -> list[str]:
    """Every string the page shows: element values, labels, captions, alerts."""
    out: list[str] = []
    for node in nodes(at):
        for attr in ("value", "label", "body"):
            try:
                value = getattr(node, attr, None)
            except Exception:  # some widgets have no value outside a run
                continue
            if isinstance(value, str) and value:
                out.append(value)
    return out


def wire(at: AppTest) -> str:
    """Every element's protobuf: what would go over the wire to the browser."""
    return "\n".join(str(node.proto) for node in nodes(at) if getattr(node, "proto", None) is not None)


def send(at: AppTest, text: str) -> AppTest:
    """Type text into the chat input and send it; the run raised nothing."""
    at.chat_input[0].set_value(text).run()
    assert not at.exception, [e.value for e in at.exception]
    return at
