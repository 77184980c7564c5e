"""OpenAI-compatible endpoints against a real server: llama-cpp-python's own, started on loopback
with the SmolLM2 GGUF and a key, reached through the official ``openai`` SDK.

A user adds an endpoint, picks its model, and gets streamed multi-turn replies saved like Groq's;
Stop keeps what came; a server killed mid-reply, a wrong key, an unknown model, a server that is
down or that does not stream are each explained (translated keys), and the key itself never
reaches the database. With sign-in on, only admins add endpoints or save their keys.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot import access, config
from chatbot.endpoints import SERVER_OWNER, Endpoint, Endpoints, Reachable, validate
from chatbot.errors import AdminOnly, ChatError, InvalidInput
from chatbot.i18n import t
from chatbot.providers import Providers
from chatbot.providers.base import ChatMessage, ChatRequest, Finish, GenerationParams, ModelInfo, TextDelta
from chatbot.providers.local import find_model_file
from chatbot.providers.openai_compat import OpenAICompatProvider
from chatbot.reply import TurnSetup
from chatbot.settings import AppSettings
from chatbot.store.models import Message, Setting
from chatbot.turns import Turns

pytest.importorskip("llama_cpp.server.app", reason="pip install 'llama-cpp-python[server]'")

pytestmark = [pytest.mark.sqlite_only, pytest.mark.usefixtures("english")]

KEY = "sk-loopback-test-key-0123456789"
ALIAS = "smollm2"
SETTINGS = AppSettings(system_prompt="", max_tokens=8, temperature=0.0)
START_DEADLINE = 120.0  # loading the model on a busy shared machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on a free loopback port, with a key."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(find_model_file()),
                "--model_alias",
                ALIAS,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--api_key",
                KEY,
                "--n_threads",
                "1",
                "--n_ctx",
                "1024",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "llama_cpp.server exited"
            try:
                if httpx.get(f"{self.base_url}/models", headers={"Authorization": f"Bearer {KEY}"}).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError("llama_cpp.server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def endpoint(self, name: str = "llama") -> Endpoint:
        return validate(name, self.base_url, "LLAMA_API_KEY")


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    server = LlamaServer()
    try:
        yield server
    finally:
        server.stop()


def turns_for(sessions: sessionmaker[Session], *reachable: Reachable) -> Turns:
    return Turns(sessions, Providers(None, endpoints=reachable))


def model(endpoint: Endpoint, model_id: str = ALIAS) -> ModelInfo:
    return ModelInfo(id=model_id, provider=endpoint.provider)


def stored(sessions: sessionmaker[Session], message_id: str | None) -> Message:
    with sessions() as s:
        found = s.get(Message, message_id)
        assert found is not None
        s.expunge(found)
        return found


def test_the_endpoints_models_are_listed_under_its_name(llama: LlamaServer) -> None:
    endpoint = llama.endpoint()
    catalogue = Providers(None, endpoints=[Reachable(endpoint, KEY)]).catalogue()

    found = catalogue.find(f"endpoint.llama:{ALIAS}")
    assert found is not None and found.owned_by == "llama"
    assert not catalogue.endpoint_errors


def test_a_streamed_multi_turn_conversation(llama: LlamaServer, sessions: sessionmaker[Session]) -> None:
    endpoint = llama.endpoint()
    turns = turns_for(sessions, Reachable(endpoint, KEY))
    setup = TurnSetup(model(endpoint), SETTINGS)

    first = turns.send(None, "Name a colour.", setup)
    pieces = [e.text for e in first if isinstance(e, TextDelta)]
    assert first.error is None and first.complete
    assert len(pieces) > 1  # streamed, not one block
    second = turns.send(first.conversation_id, "And another one?", setup)
    assert "".join(e.text for e in second if isinstance(e, TextDelta)).strip()
    assert second.complete

    # The second request carried the first exchange.
    sent = [(m.role, m.content) for m in second.pending.request.messages]
    assert sent[:2] == [("user", "Name a colour."), ("assistant", first.text)]
    reply = stored(sessions, second.message_id)
    assert (reply.provider, reply.model, reply.status) == ("endpoint.llama", ALIAS, "complete")
    assert reply.finish_reason in ("stop", "length")
    assert reply.completion_tokens  # reported or, where the server reports none, estimated


def test_stop_keeps_what_came(llama: LlamaServer, sessions: sessionmaker[Session]) -> None:
    endpoint = llama.endpoint()
    turns = turns_for(sessions, Reachable(endpoint, KEY))
    settings = AppSettings(system_prompt="", max_tokens=300, temperature=1.0)

    reply = turns.send(None, "Write a long story about a cat.", TurnSetup(model(endpoint), settings))
    seen = ""
    for event in reply:
        if isinstance(event, TextDelta) and event.text.strip():
            seen += event.text
            break
        if isinstance(event, TextDelta):
            seen += event.text
    reply.close()

    saved = stored(sessions, reply.message_id)
    assert saved.status == "stopped"
    assert saved.content == seen and seen.strip()


def test_a_server_killed_mid_reply_keeps_the_partial_and_says_so(sessions: sessionmaker[Session]) -> None:
    server = LlamaServer()
    try:
        endpoint = server.endpoint("dying")
        turns = turns_for(sessions, Reachable(endpoint, KEY))
        settings = AppSettings(system_prompt="", max_tokens=600, temperature=1.0)
        reply = turns.send(None, "Write a very long story about a ship.", TurnSetup(model(endpoint), settings))
        events = iter(reply)
        first = next(e for e in events if isinstance(e, TextDelta) and e.text.strip())
        os.kill(server.process.pid, signal.SIGKILL)
        rest = "".join(e.text for e in events if isinstance(e, TextDelta))
    finally:
        server.stop()

    assert reply.error is not None and reply.error.key == "error.interrupted"
    saved = stored(sessions, reply.message_id)
    assert saved.status == "interrupted"
    assert saved.content.startswith(first.text) and saved.content == reply.text
    assert reply.text.endswith(rest)


def test_a_wrong_key_is_explained_and_never_stored(llama: LlamaServer, sessions: sessionmaker[Session]) -> None:
    wrong = "sk-wrong-key-abcdefghijklmnop"
    endpoint = llama.endpoint()
    catalogue = Providers(None, endpoints=[Reachable(endpoint, wrong)]).catalogue()
    assert catalogue.endpoint_errors[endpoint.provider].key == "error.endpoint_auth"

    turns = turns_for(sessions, Reachable(endpoint, wrong))
    reply = turns.send(None, "Hello?", TurnSetup(model(endpoint), SETTINGS))
    assert list(reply) == []
    assert reply.error is not None and reply.error.key == "error.endpoint_auth"
    message = t(reply.error.key, **reply.error.values)
    assert "llama" in message and wrong not in message
    saved = stored(sessions, reply.message_id)
    assert (saved.status, saved.error_code) == ("error", "error.endpoint_auth")
    assert wrong not in json.dumps(saved.params)


def test_an_unknown_model_is_refused_not_answered_by_another(
    llama: LlamaServer, sessions: sessionmaker[Session]
) -> None:
    # llama.cpp's server answers any model name with the one it has; the app asks its list first.
    endpoint = llama.endpoint()
    turns = turns_for(sessions, Reachable(endpoint, KEY))
    reply = turns.send(None, "Hello?", TurnSetup(model(endpoint, "no-such-model"), SETTINGS))
    assert list(reply) == []
    assert reply.error is not None and reply.error.key == "error.model_not_found"
    assert reply.error.values == {"model": "no-such-model"}


def test_a_server_that_is_down_is_explained(sessions: sessionmaker[Session]) -> None:
    endpoint = validate("offline", f"http://127.0.0.1:{free_port()}/v1")
    provider = OpenAICompatProvider(endpoint, None, timeout=10)
    request = ChatRequest("m", [ChatMessage("user", "Hi")], GenerationParams(max_tokens=4))
    with pytest.raises(ChatError) as raised:
        list(provider.stream_chat(request))
    assert raised.value.key == "error.endpoint_connection"
    said = t(raised.value.key, **raised.value.values)
    assert "offline" in said and said != raised.value.key  # names the endpoint, in words


class _Plain(BaseHTTPRequestHandler):
    """A server that ignores ``stream``: one JSON body (or, on /bad/, a web page)."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # /models: none here
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/bad/"):
            body, kind = b"<html>hello</html>", "text/html"
        else:
            answer = {
                "choices": [{"message": {"role": "assistant", "content": "All at once."}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3},
            }
            body, kind = json.dumps(answer).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def plain_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_does_not_stream(plain_server: str) -> None:
    request = ChatRequest("typed-model", [ChatMessage("user", "Hi")], GenerationParams(max_tokens=4))
    # No /models: the typed model ids are the list.
    whole = OpenAICompatProvider(validate("plain", f"{plain_server}/v1", models=["typed-model"]), None, 10)
    assert [m.id for m in whole.list_models()] == ["typed-model"]
    events = list(whole.stream_chat(request))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "All at once."
    assert events[-1] == Finish("stop")

    broken = OpenAICompatProvider(validate("page", f"{plain_server}/bad/v1", models=["typed-model"]), None, 10)
    with pytest.raises(Exception) as raised:
        list(broken.stream_chat(request))
    assert getattr(raised.value, "key", None) == "error.endpoint_no_stream"


# --- who may add endpoints; what is stored ------------------------------------------------------

PERSON = access.Actor(owner="https://issuer|person", admin=False, signed_in=True)
ADMIN = access.Actor(owner="https://issuer|admin", admin=True, signed_in=True)


def test_only_admins_add_endpoints_or_save_their_keys(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    endpoints = Endpoints(sessions, {})
    endpoint = validate("router", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY")

    with pytest.raises(AdminOnly) as refused:
        endpoints.save(PERSON, endpoint)
    assert refused.value.key == "error.admin_only_endpoints"
    with pytest.raises(AdminOnly):
        endpoints.save_key(PERSON, endpoint, "sk-or-secret-0123456789")
    assert endpoints.all() == []
    assert not config.env_file().exists() or "OPENROUTER" not in config.env_file().read_text()

    endpoints.save(ADMIN, endpoint)
    endpoints.save_key(ADMIN, endpoint, "sk-or-secret-0123456789")
    assert [e.name for e in endpoints.all()] == ["router"]
    assert endpoints.reachable()[0].api_key == "sk-or-secret-0123456789"
    assert "OPENROUTER_API_KEY=sk-or-secret-0123456789" in config.env_file().read_text()
    with sessions() as s:  # only the variable's name is kept
        rows = s.scalars(select(Setting).where(Setting.owner == SERVER_OWNER)).all()
        assert "sk-or-secret" not in json.dumps([r.value for r in rows])
        assert "OPENROUTER_API_KEY" in json.dumps([r.value for r in rows])
    with pytest.raises(AdminOnly):
        endpoints.remove(PERSON, "router")
    endpoints.remove(ADMIN, "router")
    assert endpoints.all() == []


def test_configured_endpoints_come_first_and_keys_by_variable(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "endpoints": {"ollama": {"base_url": "http://localhost:11434/v1", "models": ["llama3.2:3b"]}},
        "VLLM_API_KEY": "from-secrets-0123456789",
    }
    monkeypatch.setenv(
        "GROQ_CHAT_ENDPOINTS", json.dumps({"vllm": {"base_url": "http://gpu:8000/v1", "api_key_env": "VLLM_API_KEY"}})
    )
    endpoints = Endpoints(sessions, secrets)
    found = {r.endpoint.name: r for r in endpoints.reachable()}
    assert found["ollama"].endpoint.models == ("llama3.2:3b",) and found["ollama"].api_key is None
    assert found["ollama"].endpoint.source == "secrets"
    assert found["vllm"].api_key == "from-secrets-0123456789"  # secrets.toml, the environment has none
    monkeypatch.setenv("VLLM_API_KEY", "from-env-0123456789")
    assert {r.endpoint.name: r.api_key for r in endpoints.reachable()}["vllm"] == "from-env-0123456789"
    with pytest.raises(InvalidInput) as taken:
        endpoints.save(ADMIN, validate("ollama", "http://elsewhere/v1"))
    assert taken.value.key == "endpoint.configured_elsewhere"


@pytest.mark.parametrize(
    ("name", "url", "variable", "key"),
    [
        ("my server", "http://x/v1", "", "endpoint.invalid_name"),
        ("a:b", "http://x/v1", "", "endpoint.invalid_name"),
        ("ok", "ftp://x/v1", "", "endpoint.invalid_url"),
        ("ok", "http://user:secret@x/v1", "", "endpoint.url_has_credentials"),
        ("ok", "http://x/v1", "DATABASE_URL", "endpoint.invalid_key_variable"),
        ("ok", "http://x/" + "a" * 600, "", "endpoint.url_too_long"),
    ],
)
def test_bad_endpoints_are_refused_with_a_reason(name: str, url: str, variable: str, key: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate(name, url, variable)
    assert refused.value.key == key
    assert t(refused.value.key, **refused.value.values) != key  # said in words, not the bare key


# --- the pages ----------------------------------------------------------------------------------


def test_the_picker_offers_the_endpoints_model_and_the_page_streams_its_reply(
    llama: LlamaServer, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot.preferences import Preferences
    from tests.pages import new_app

    Preferences(sessions).save_settings(SETTINGS)
    monkeypatch.setenv("LLAMA_API_KEY", KEY)
    at = new_app()
    at.secrets["endpoints"] = {"llama": {"base_url": llama.base_url, "api_key_env": "LLAMA_API_KEY"}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    picker = at.selectbox(key="model_None")
    wanted = f"endpoint.llama:{ALIAS}"
    assert f"{ALIAS} · llama" in picker.options  # labelled with the endpoint's name
    picker.set_value(wanted).run()
    at.chat_input[0].set_value("Say hello.").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert at.chat_message[1].markdown[0].value.strip()
    with sessions() as s:
        reply = s.scalars(select(Message).where(Message.role == "assistant")).one()
        assert (reply.provider, reply.model, reply.status) == ("endpoint.llama", ALIAS, "complete")


def test_with_sign_in_only_admins_see_the_endpoint_form(sessions: sessionmaker[Session]) -> None:
    from tests.pages import ISSUER, new_app, sign_in

    def settings_for(sub: str, email: str) -> list[str]:
        at = sign_in(new_app(), {"is_logged_in": True, "sub": sub, "iss": ISSUER, "email": email})
        at.secrets["admins"] = {"emails": ["ops@example.com"]}
        at.run()
        at.switch_page("pages/settings.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return [f.proto.form.form_id for f in at.form]

    assert "endpoint_form" not in settings_for("person-1", "someone@example.com")
    assert "endpoint_form" in settings_for("admin-1", "ops@example.com")


def test_an_admin_adds_an_endpoint_in_settings_and_chats_with_its_model(
    llama: LlamaServer, sessions: sessionmaker[Session]
) -> None:
    from chatbot.preferences import Preferences
    from tests.pages import new_app

    Preferences(sessions).save_settings(SETTINGS)
    at = new_app()  # single-user: its user is the admin
    at.run()
    at.switch_page("pages/settings.py").run()
    form = next(f for f in at.form if f.proto.form.form_id == "endpoint_form")
    fields = {w.label: w for w in form.text_input}
    fields[t("endpoints.name")].set_value("llama")
    fields[t("endpoints.base_url")].set_value(llama.base_url)
    fields[t("endpoints.key_variable")].set_value("LLAMA_API_KEY")
    fields[t("endpoints.key")].set_value(KEY)
    form.form_submit_button[0].click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert t("endpoints.saved", name="llama") in [s.value for s in at.success]
    assert f"LLAMA_API_KEY={KEY}" in config.env_file().read_text()  # the key: in .env, never the database
    with sessions() as s:
        assert KEY not in json.dumps([r.value for r in s.scalars(select(Setting)).all()])

    at.switch_page("pages/chat.py").run()
    at.selectbox(key="model_None").set_value(f"endpoint.llama:{ALIAS}").run()
    at.chat_input[0].set_value("Name a fruit.").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.chat_message[1].markdown[0].value.strip()


def test_a_conversation_whose_endpoint_is_down_says_so_and_keeps_its_model(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot.history import ConversationFilter, HistoryService
    from tests.pages import new_app

    down = validate("gone", f"http://127.0.0.1:{free_port()}/v1")
    turns = turns_for(sessions, Reachable(down, None))
    reply = turns.send(None, "Hello?", TurnSetup(model(down, "some-model"), SETTINGS))
    assert list(reply) == [] and reply.error is not None and reply.error.key == "error.endpoint_connection"

    monkeypatch.setenv("GROQ_CHAT_ENDPOINTS", json.dumps({"gone": {"base_url": down.base_url}}))
    at = new_app(c=reply.conversation_id)
    at.run()
    assert not at.exception
    assert t("error.endpoint_connection", endpoint="gone") in [e.value for e in at.error]
    conversation = HistoryService(sessions).page(ConversationFilter(pinned=None)).items[0]
    assert (conversation.provider, conversation.model) == ("endpoint.gone", "some-model")  # not moved elsewhere
