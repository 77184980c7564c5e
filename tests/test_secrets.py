"""The API key never leaves where it belongs (the environment, this session, a mode-600 .env).

One full session with a known key - replies, a refused key, rate limits, a cut stream, server
errors, a wrong key typed in Settings, the key saved to .env, every export - and then a search
for the key in everything the app produced: the SQLite files (main, -wal, -shm), every export
(zips unpacked), every log line (DEBUG, SDK and HTTP included) and every element sent to the
page. The key is found only in .env.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot import access, config, exporting, images
from chatbot.history import ConversationFilter, HistoryService
from chatbot.i18n import t
from chatbot.providers import Providers
from chatbot.providers.base import ModelInfo
from chatbot.records import conversation_record
from chatbot.reply import TurnSetup
from chatbot.settings import AppSettings
from chatbot.store import attachment_repo
from chatbot.store.models import Conversation, Message
from chatbot.turns import Turns
from tests.pages import send, wire
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")

WRONG_KEY = "gsk_wrong_" + "Zq7" * 14  # typed by mistake: must not be kept or shown either


def leaks(blob: str | bytes, *secrets: str) -> list[str]:
    """Which secrets (or their distinctive tails) occur in blob."""
    data = blob.encode("utf-8", "surrogatepass") if isinstance(blob, str) else blob
    found = []
    for secret in secrets:
        for part in (secret, secret[-24:]):
            if part.encode() in data:
                found.append(part)
    return found


def widget(items: Any, label_key: str) -> Any:
    return next(w for w in items if w.label == t(label_key))


def test_the_key_is_never_stored_exported_logged_or_shown(
    app: AppTest,
    groq_server: StandInGroq,
    sessions: sessionmaker[Session],
    isolated_env: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # every SQL statement and its parameters
    key = groq_server.api_key
    pages: list[str] = []

    def step(at: AppTest) -> None:
        assert not at.exception, [e.value for e in at.exception]
        pages.append(wire(at))

    def send_and_keep(text: str) -> None:
        step(send(app, text))

    try:
        app.run()
        step(app)
        send_and_keep("Hello")
        groq_server.fail_next("401")
        send_and_keep("Refused key")
        assert t("error.auth") in [e.value for e in app.error]
        groq_server.fail_next("429", window="TPD", retry_after=593)
        send_and_keep("Daily limit")
        groq_server.fail_next("midstream_error", after=2)
        send_and_keep("Cut stream")
        groq_server.fail_next("500", times=3, headers={"retry-after-ms": "10"})
        send_and_keep("Server error")
        groq_server.fail_next("x_groq_error", after=1)
        send_and_keep("Another cut")
        assert len(groq_server.chat_requests) == 8

        # Settings: the key in use is shown masked only.
        app.switch_page("pages/settings.py").run()
        step(app)
        assert t("settings.key_in_use", masked=config.mask_key(key)) in [c.value for c in app.caption]

        # A wrong key typed for this session: refused, explained, not echoed.
        widget(app.text_input, "settings.api_key_input").input(WRONG_KEY)
        widget(app.button, "settings.use_key").click().run()
        step(app)
        app.switch_page("pages/chat.py").run()
        step(app)
        assert t("error.auth") in [e.value for e in app.error]
        app.switch_page("pages/settings.py").run()
        widget(app.button, "settings.forget_key").click().run()
        step(app)

        # Saving the real key to .env: an existing, world-readable file becomes owner-only.
        env = Path(os.environ["GROQ_CHAT_ENV_FILE"])
        env.write_text("OTHER_SETTING=1\nGROQ_API_KEY=gsk_old_value\n", encoding="utf-8")
        env.chmod(0o644)
        widget(app.text_input, "settings.api_key_input").input(key)
        widget(app.checkbox, "settings.save_env").check()
        widget(app.button, "settings.use_key").click().run()
        step(app)
        assert stat.S_IMODE(env.stat().st_mode) == 0o600
        assert env.read_text(encoding="utf-8").splitlines() == ["OTHER_SETTING=1", f"GROQ_API_KEY={key}"]
        assert not leaks("\n".join(m.message for m in app.success), key)
        app.switch_page("pages/chat.py").run()
        send_and_keep("After saving the key")
        # A photo for a vision model: stored (attachments table), sent and exported like the rest.
        photo = io.BytesIO()
        Image.effect_noise((640, 480), 50).convert("RGB").save(photo, "JPEG", quality=90)
        pictures = [images.prepare("photo.jpg", photo.getvalue())]
        vision = ModelInfo("qwen/qwen3.8-27b", "groq", context_window=131042, max_completion_tokens=16384)
        chat = Turns(sessions, Providers(key, groq_server.base_url))
        setup = TurnSetup(vision, AppSettings(), lambda: None, ())
        reply = chat.send(None, "What is in this photo?", setup, None, pictures)
        list(reply)
        assert reply.error is None and groq_server.image_requests[-1]["status"] == 200
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    # Every export of every conversation, and the everything-zip unpacked.
    history = HistoryService(sessions)
    conversations = history.page(ConversationFilter(pinned=None)).items
    assert conversations
    exported: list[tuple[str, bytes]] = []
    records = []
    with sessions() as s:
        for info in conversations:
            conv = s.get(Conversation, info.id)
            msgs = list(s.scalars(select(Message).where(Message.conversation_id == info.id)))
            records.append(conversation_record(conv, msgs, []))
            for fmt in ("md", "json"):  # the chat page's two download buttons
                exported.append((f"page.{fmt}", history.export([info.id], fmt).data))
        attachment_repo.fill_records(s, records)  # the exports carry the images too
    assert any(m.images for r in records for m in r.messages)
    for fmt in exporting.FORMATS:
        exported.append((fmt, exporting.export(records, fmt).data))
    everything = exporting.export_everything(records).data
    with zipfile.ZipFile(io.BytesIO(everything)) as archive:
        exported += [(name, archive.read(name)) for name in archive.namelist()]
    assert any(b"Refused key" in data for _, data in exported)  # the exports do hold the session

    data_files = sorted(p for p in isolated_env.iterdir() if p.is_file())
    assert any(p.name == "chat.db" for p in data_files)
    found = {
        **{f"db:{p.name}": leaks(p.read_bytes(), key, WRONG_KEY) for p in data_files},
        **{f"export:{name}": leaks(data, key, WRONG_KEY) for name, data in exported},
        "logs": leaks(caplog.text, key, WRONG_KEY),
        **{f"page:{i}": leaks(text, key, WRONG_KEY) for i, text in enumerate(pages)},
    }
    assert {where: what for where, what in found.items() if what} == {}
    assert leaks(env.read_bytes(), key) == [key, key[-24:]]  # the search does find it where it belongs
    assert not any("invalid_api_key" in page or "Invalid API Key" in page for page in pages)  # no raw body
    assert len(caplog.records) > 20  # the logs were really captured (SDK, HTTP, SQL)


def test_env_file_is_created_owner_only(isolated_env: Path) -> None:
    path = config.save_api_key_to_env("gsk_fresh_key_for_this_test_0123456789", access.LOCAL)
    assert path == Path(os.environ["GROQ_CHAT_ENV_FILE"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.resolve_api_key() == "gsk_fresh_key_for_this_test_0123456789"


def test_masking_never_shows_enough_to_use_the_key() -> None:
    key = "gsk_" + "A1b2C3d4" * 6
    masked = config.mask_key(key)
    assert masked == "…" + key[-4:]  # at most the last four characters
    assert config.mask_key("short") == "…" and config.mask_key(None) == ""
