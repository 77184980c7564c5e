"""With sign-in on, only the admins listed in secrets.toml change the server for everyone.

Through AppTest with sign-in configured and ``at.user``: an ordinary person sees no "save to
.env" option, is told their key is for this session only, and a direct call of the core write
is refused (translated); an admin, listed by email or by issuer|subject, saves the key to .env and
other people's new sessions use it. A stray .env never overrides the key in secrets.toml or the
environment: the stand-in answers only its own key, so a reply proves which key was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from chatbot import access, config
from chatbot.errors import AdminOnly
from chatbot.i18n import set_language, t
from tests.pages import AUTH, ISSUER, new_app, sign_in
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")

ADMINS = {"emails": ["Ops@Example.com"], "ids": [f"{ISSUER}|root-0001"]}
STRAY = "gsk_stray_key_someone_left_in_dot_env_0123456789"


@pytest.fixture
def keyless_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInGroq]:
    """The stand-in, reachable by the app, with no key anywhere yet."""
    with StandInGroq(reply="Answered with the right key.") as server:
        monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
        yield server


def claims(sub: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"is_logged_in": True, "sub": sub, "iss": ISSUER, **extra}
    if email is not None:
        found["email"] = email
    return found


def signed_in(user: dict[str, Any], **secrets: Any) -> AppTest:
    at = sign_in(new_app(), user)
    at.secrets["admins"] = ADMINS
    for name, value in secrets.items():
        at.secrets[name] = value
    return at


def settings_page(at: AppTest) -> AppTest:
    at.run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == t("settings.title")
    return at


def key_form(at: AppTest) -> Any:
    return next(f for f in at.form if f.proto.form.form_id == "api_key_form")


def env_checkboxes(at: AppTest) -> list[Any]:
    return [c for c in at.checkbox if c.label == t("settings.save_env")]


def enter_key(at: AppTest, key: str, save: bool) -> AppTest:
    form = key_form(at)
    next(w for w in form.text_input if w.label == t("settings.api_key_input")).set_value(key)
    if save:
        next(c for c in form.checkbox if c.label == t("settings.save_env")).check()
    form.form_submit_button[0].click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


# --------------------------------------------------------------------------- ordinary people


def test_an_ordinary_user_sees_no_env_option_and_keeps_the_key_to_this_session(keyless_server: StandInGroq) -> None:
    key = keyless_server.api_key
    bob = settings_page(signed_in(claims("bob-0002", "bob@example.com", email_verified=True)))
    assert env_checkboxes(bob) == []
    assert t("settings.key_session_only") in captions(bob)

    enter_key(bob, key, save=False)
    assert t("settings.key_in_use", masked=config.mask_key(key)) in captions(bob)  # his own key
    assert not config.env_file().exists()

    # Nobody else got it: Carol, signed in on the same server, has no key.
    carol = settings_page(signed_in(claims("carol-0003", "carol@example.com")))
    assert t("settings.no_key") in captions(carol)


def test_the_core_refuses_an_ordinary_user_writing_env(isolated_env: Path) -> None:
    secrets = {"auth": AUTH, "admins": ADMINS}
    bob = access.actor(secrets, claims("bob-0002", "bob@example.com", email_verified=True))
    assert bob is not None and not bob.admin
    env = config.env_file()
    env.write_text("GROQ_API_KEY=gsk_the_operators_key_0123456789\n", encoding="utf-8")
    with pytest.raises(AdminOnly) as refused:
        config.save_api_key_to_env("bad", bob)
    assert env.read_text(encoding="utf-8") == "GROQ_API_KEY=gsk_the_operators_key_0123456789\n"
    assert refused.value.key == "error.admin_only_env_key"
    english = t(refused.value.key, **refused.value.values)
    set_language("zh-CN")
    chinese = t(refused.value.key, **refused.value.values)
    assert ".env" in english and ".env" in chinese and english != chinese
    # Nobody signed in has no rights at all.
    assert access.actor(secrets, {"is_logged_in": False}) is None


@pytest.mark.parametrize("verified", [False, "false", "False"])
def test_an_admin_email_that_the_provider_says_is_unverified_is_not_an_admin(
    keyless_server: StandInGroq, verified: object
) -> None:
    # Someone who set Ops@example.com on an account without proving it owns that address.
    mallory = settings_page(signed_in(claims("mallory-0666", "ops@example.com", email_verified=verified)))
    assert env_checkboxes(mallory) == []
    assert t("settings.key_session_only") in captions(mallory)


def test_with_sign_in_but_no_admins_listed_nobody_writes_env() -> None:
    secrets = {"auth": AUTH}
    ops = access.actor(secrets, claims("root-0001", "ops@example.com", email_verified=True))
    assert ops is not None and not ops.admin
    with pytest.raises(AdminOnly):
        config.save_api_key_to_env("gsk_any_key_0123456789", ops)
    assert not config.env_file().exists()


# --------------------------------------------------------------------------- admins


@pytest.mark.parametrize(
    "admin",
    [
        claims("ops-0004", "ops@example.COM", email_verified=True),  # by email, any case
        claims("ops-0004", "ops@example.com"),  # a provider that sends no email_verified
        claims("root-0001", "someone@else.example", email_verified=False),  # by issuer|subject
    ],
    ids=["email-verified", "email-no-claim", "issuer-subject"],
)
def test_an_admin_saves_the_key_to_env_and_other_people_use_it(
    keyless_server: StandInGroq, admin: dict[str, Any]
) -> None:
    key = keyless_server.api_key
    at = settings_page(signed_in(admin))
    assert len(env_checkboxes(at)) == 1
    assert t("settings.key_session_only") not in captions(at)
    enter_key(at, key, save=True)
    assert f"GROQ_API_KEY={key}" in config.env_file().read_text(encoding="utf-8").splitlines()

    # Bob's new session uses the server's key, without seeing its ends, and chats with it.
    bob = settings_page(signed_in(claims("bob-0002", "bob@example.com", email_verified=True)))
    assert t("settings.key_server") in captions(bob)
    assert config.mask_key(key) not in "\n".join(captions(bob))
    bob.switch_page("pages/chat.py").run()
    bob.selectbox(key="model_None").set_value("groq:openai/gpt-oss-20b").run()
    bob.chat_input[0].set_value("Which key?").run()
    assert not bob.exception and not bob.error, [e.value for e in bob.error]
    assert keyless_server.chat_requests[-1]["headers"]["authorization"] == f"Bearer {key}"


def test_without_sign_in_the_local_user_is_the_admin(keyless_server: StandInGroq) -> None:
    at = settings_page(new_app())
    assert len(env_checkboxes(at)) == 1
    assert t("settings.key_session_only") not in captions(at)
    assert access.actor({}, None) == access.LOCAL


# --------------------------------------------------------------------------- key order


def write_stray_env() -> None:
    config.env_file().write_text(f"GROQ_API_KEY={STRAY}\n", encoding="utf-8")


def chat_once(at: AppTest, server: StandInGroq) -> None:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.chat_input[0].set_value("Hello").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.chat_message[-1].markdown[0].value == "Answered with the right key."
    assert server.chat_requests[-1]["headers"]["authorization"] == f"Bearer {server.api_key}"


def test_a_stray_env_does_not_override_the_key_in_secrets_toml(keyless_server: StandInGroq) -> None:
    write_stray_env()
    at = new_app()
    at.secrets["GROQ_API_KEY"] = keyless_server.api_key
    chat_once(at, keyless_server)
    assert config.resolve_api_key(None, {"GROQ_API_KEY": keyless_server.api_key}) == keyless_server.api_key


def test_a_stray_env_does_not_override_the_environment(
    keyless_server: StandInGroq, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_stray_env()
    monkeypatch.setenv("GROQ_API_KEY", keyless_server.api_key)
    chat_once(new_app(), keyless_server)


def test_the_order_of_key_sources() -> None:
    write_stray_env()
    assert config.api_key() == config.ApiKey(STRAY, "env_file")  # .env alone still serves
    assert config.api_key(None, {"GROQ_API_KEY": "gsk_from_secrets"}) == config.ApiKey("gsk_from_secrets", "secrets")
    # A key pasted in a session is that session's own (the others keep the server's).
    mine = config.api_key(" gsk_pasted ", {"GROQ_API_KEY": "gsk_from_secrets"})
    assert mine == config.ApiKey("gsk_pasted", "session") and not mine.shared
