"""Bad input, as a table: refused with a message before the provider or the database, or kept
exactly (storage, the request, the reply, every export) and shown as text, never as HTML.

Lone surrogates are the one thing that cannot be kept as is: SQLite stores UTF-8 and JSON
exports must be valid, and neither can hold them. The decision: a split surrogate *pair* is
joined into its character, a lone half becomes U+FFFD, and the rest of the message is kept.
(A browser never sends them: its UTF-8 encoder already replaces them the same way.)
On PostgreSQL, whose text type cannot hold U+0000, a NUL is stored as U+FFFD too.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import string
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot import exporting
from chatbot.conversation import ConversationService
from chatbot.errors import InvalidInput
from chatbot.history import HistoryService
from chatbot.i18n import catalogue, set_language, t
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.providers.base import ModelInfo
from chatbot.providers.groq_api import GroqProvider
from chatbot.records import conversation_record
from chatbot.safe_markdown import safe_markdown
from chatbot.settings import AppSettings, validate
from chatbot.store.models import Conversation, Message
from chatbot.turns import Turns
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")

ROOT = Path(__file__).resolve().parent.parent
MODEL = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=65536)
SETTINGS = AppSettings(system_prompt="")

REFUSED = [
    pytest.param("", "input.empty", id="empty"),
    pytest.param("   ", "input.empty", id="spaces"),
    pytest.param(" \n\t\r\u3000\u00a0\u2003 ", "input.empty", id="unicode-whitespace"),
    pytest.param("x" * (3 * 1024 * 1024), "input.too_long", id="3-MB-paste"),
    pytest.param("长" * (MAX_MESSAGE_CHARS + 1), "input.too_long", id="just-over-the-limit-CJK"),
]

KEPT = {
    "control-characters": "bell\x07 nul\x00 esc\x1b[31mred\x1b[0m del\x7f vt\x0b ff\x0c tab\tcrlf\r\nend",
    "right-to-left": "مرحبا بالعالم — שלום עולם \u200f(RLM)\u200e \u202eexe.txt\u202c \u2067isolate\u2069",
    "emoji-and-combining": "👩‍👩‍👧‍👦 🇨🇳 🏳️‍🌈 👍🏽 e\u0301 \U0001f600 \ufe0f\u200d",
    "cjk": "你好，世界！こんにちは 안녕하세요",
    "html-and-script": '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><b>bold?</b>',
    "markdown-tricks": (
        "[click me](javascript:window.__pwned=3) ![pixel](http://127.0.0.1:9/track.png) "
        '<a href="http://evil.invalid">a</a> **not closed `code'
    ),
    "sql-and-json-lookalikes": 'Robert\'); DROP TABLE messages;-- {"error": {"message": "fake"}} \\u0000 %s {0}',
}
SURROGATES = [
    pytest.param("a\ud800b", "a\ufffdb", id="lone-high"),
    pytest.param("\udfffend", "\ufffdend", id="lone-low"),
    pytest.param("smile \ud83d\ude00!", "smile 😀!", id="split-pair-is-joined"),
]


@pytest.fixture
def chat(sessions: sessionmaker[Session], groq_server: StandInGroq) -> Turns:
    return Turns(sessions, lambda name: GroqProvider(groq_server.api_key, groq_server.base_url, timeout=20))


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as s:
        return s.scalar(select(func.count(Conversation.id))) or 0, s.scalar(select(func.count(Message.id))) or 0


def exports(sessions: sessionmaker[Session], cid: str) -> dict[str, str]:
    """Every export of the conversation: the chat page's buttons and the export module's formats."""
    with sessions() as s:
        conv = s.get(Conversation, cid)
        msgs = list(s.scalars(select(Message).where(Message.conversation_id == cid).order_by(Message.created_at)))
        record = conversation_record(conv, msgs, [])
    history = HistoryService(sessions)  # the chat page's Markdown and JSON buttons
    out = {"page-md": history.export([cid], "md").data.decode("utf-8")}
    out["page-json"] = history.export([cid], "json").data.decode("utf-8")
    for fmt in ("json", "md", "txt", "csv", "html"):
        out[fmt] = exporting.export([record], fmt).data.decode("utf-8")
    return out


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(("text", "key"), REFUSED)
def test_refused_before_the_provider_and_the_database(
    chat: Turns, sessions: sessionmaker[Session], groq_server: StandInGroq, text: str, key: str
) -> None:
    before = counts(sessions)
    with pytest.raises(InvalidInput) as caught:
        chat.start_turn(None, text, MODEL, SETTINGS)
    assert caught.value.key == key
    shown = t(caught.value.key, **caught.value.values)
    assert shown != key and "{" not in shown and "\n" not in shown
    if key == "input.too_long":
        assert f"{len(text)}" in shown and f"{MAX_MESSAGE_CHARS}" in shown
    assert counts(sessions) == before  # nothing stored
    assert groq_server.chat_requests == []  # nothing sent


def test_a_several_megabyte_paste_in_the_page_is_refused_with_a_message(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    app.run()
    paste = "paste " * 500_000  # 3 MB
    app.chat_input[0].set_value(paste).run()
    assert not app.exception
    assert [e.value for e in app.error] == [t("input.too_long", limit=MAX_MESSAGE_CHARS, length=len(paste))]
    assert counts(sessions) == (0, 0) and groq_server.chat_requests == []
    app.chat_input[0].set_value("   ").run()
    assert [e.value for e in app.error] == [t("input.empty")]
    assert counts(sessions) == (0, 0) and groq_server.chat_requests == []
    assert not app.chat_message  # nothing drawn as if it had been sent


# --------------------------------------------------------------------------- kept exactly


@pytest.mark.parametrize("name", sorted(KEPT))
def test_kept_exactly_in_storage_request_reply_and_every_export(
    chat: Turns, sessions: sessionmaker[Session], groq_server: StandInGroq, name: str
) -> None:
    text = KEPT[name]
    groq_server.reply = text  # the model answers with the same characters
    pending = chat.start_turn(None, text, MODEL, SETTINGS)
    list(chat.stream_reply(pending))
    cid = pending.conversation_id

    assert groq_server.chat_requests[-1]["json"]["messages"][-1] == {"role": "user", "content": text}
    if sessions.kw["bind"].dialect.name == "postgresql":
        text = text.replace("\x00", "\ufffd")  # PostgreSQL's text cannot hold NUL
    stored = ConversationService(sessions).recent_messages(cid).turns
    assert [(x.role, x.content, x.status) for x in stored] == [
        ("user", text, "complete"),
        ("assistant", text, "complete"),
    ]
    summary = HistoryService(sessions).summary(cid)
    assert summary is not None and summary.title  # a title made of it does not break anything

    out = exports(sessions, cid)
    for fmt in ("page-json", "json"):
        document = json.loads(out[fmt])
        contents = [m["content"] for c in document.get("conversations", [document]) for m in c["messages"]]
        assert contents == [text, text], fmt
    for fmt in ("page-md", "md", "txt"):
        assert out[fmt].count(text) >= 2, fmt  # both messages (a short text is the title, too)
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert [r["content"] for r in rows] == [text, text]
    assert html.unescape(out["html"]).count(text) >= 2
    if "<" in text:  # shared HTML: the message is escaped, never live markup
        assert "<script>" not in out["html"] and "<img" not in out["html"]


@pytest.mark.parametrize(("text", "kept"), SURROGATES)
def test_lone_surrogates_become_replacement_characters_the_rest_is_kept(
    chat: Turns, sessions: sessionmaker[Session], groq_server: StandInGroq, text: str, kept: str
) -> None:
    pending = chat.start_turn(None, text, MODEL, SETTINGS)
    list(chat.stream_reply(pending))
    cid = pending.conversation_id
    assert ConversationService(sessions).recent_messages(cid).turns[0].content == kept
    assert groq_server.chat_requests[-1]["json"]["messages"][-1]["content"] == kept
    for fmt, data in exports(sessions, cid).items():
        data.encode("utf-8")  # valid text in every export
        assert kept in (html.unescape(data) if fmt == "html" else data), fmt


# --------------------------------------------------------------------------- shown as text


def test_html_and_markdown_tricks_are_shown_as_text_in_the_page(app: AppTest, groq_server: StandInGroq) -> None:
    payload = KEPT["html-and-script"] + " " + KEPT["markdown-tricks"]
    groq_server.reply = payload
    app.run()
    app.chat_input[0].set_value(payload).run()
    assert not app.exception
    bodies = [m.markdown[0] for m in app.chat_message]
    # Verbatim for st.markdown to escape, but for its images: shown as links, never loaded.
    assert [b.value for b in bodies] == [safe_markdown(payload)] * 2
    assert "\\![pixel](http://127.0.0.1:9/track.png)" in bodies[0].value
    for node in app.markdown:
        assert node.proto.allow_html is False
    # No st.html element but the page's own static scripts: nothing of the payload in them.
    static = {(ROOT / "pages" / name).read_text(encoding="utf-8") for name in STATIC_HTML}
    bodies_html = [h.proto.body for h in app.get("html")]
    assert bodies_html and all(any(own in body for own in static) for body in bodies_html)
    assert not any("pwned" in body or "track.png" in body for body in bodies_html)


# The raw-HTML calls allowed: the chat page's own static files (scroll to a search hit and mark
# it; open a conversation at its newest message), passed as Paths, so no text from a user or a
# model can reach them.
STATIC_HTML = ("_found_message.html", "_chat_view.html", "_sidebar.css", "_close_drawer.html", "_history.css")
ALLOWED_HTML = {
    "pages/chat.py": (
        "st.html(SHOW_FOUND, unsafe_allow_javascript=True)",
        "st.html(CHAT_VIEW, unsafe_allow_javascript=True)",
    ),
    "pages/_common.py": ("st.html(SIDEBAR_CSS)",),
    # The static script with a counter (an int) after it, so each pick's copy runs again.
    "pages/_conversations.py": (
        "st.html(f\"{CLOSE_DRAWER.read_text(encoding='utf-8')}<!-- {int(picked)} -->\", unsafe_allow_javascript=True)",
        "st.html(HISTORY_CSS)",
    ),
}


def test_no_html_is_ever_allowed_through_in_the_code() -> None:
    """A grep: no unsafe_allow_html / st.html / components.html in the app's code, but the one
    static file above."""
    banned = re.compile(r"unsafe_allow_" + r"html|\bst\.html\(|components\.v1\.html|components\.html\(")
    offenders = []
    for path in [ROOT / "app.py", *(ROOT / "pages").rglob("*.py"), *(ROOT / "chatbot").rglob("*.py")]:
        relative = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if banned.search(line) and not line.strip().startswith(ALLOWED_HTML.get(relative, ("\0",))):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
    chat = (ROOT / "pages" / "chat.py").read_text(encoding="utf-8")
    for constant in (
        'SHOW_FOUND = Path(__file__).with_name("_found_message.html")',
        'CHAT_VIEW = Path(__file__).with_name("_chat_view.html")',
    ):
        assert constant in chat  # a file, not a string built here


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_no_script_runs_in_a_real_browser(tmp_path: Path, browser: Any) -> None:
    from tests.browser.harness import IDLE_TRACKER, message_texts, messages, open_app, send_message, start_app_server

    payload = KEPT["html-and-script"] + "\n\n" + KEPT["markdown-tricks"]
    stand_in = StandInGroq(reply=payload).start()
    server = start_app_server(stand_in, tmp_path / "app")
    context = browser.new_context()
    try:
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.add_init_script(IDLE_TRACKER)
        open_app(page, server.url)
        send_message(page, payload)
        texts = message_texts(page)
        assert len(texts) == 2
        for shown in texts:
            assert "<script>window.__pwned=1</script>" in shown and "<b>bold?</b>" in shown  # as text
        assert page.evaluate("() => window.__pwned") is None  # nothing ran
        assert dialogs == []
        body = messages(page)
        assert body.locator("script").count() == 0
        assert body.locator("img[src='x']").count() == 0
        assert body.locator("a[href^='javascript']").count() == 0  # the link is defused
        assert body.locator("a[href='http://evil.invalid']").count() == 0  # raw <a> is text
    finally:
        context.close()
        server.stop()
        stand_in.stop()


# --------------------------------------------------------------------------- settings


PLACEHOLDERS = re.compile(r"\{(\w*)\}")


@pytest.mark.parametrize(
    ("changes", "limit", "key"),
    [
        pytest.param({"temperature": 5}, None, "settings.invalid_temperature", id="temperature-5"),
        pytest.param({"temperature": -0.1}, None, "settings.invalid_temperature", id="temperature-negative"),
        pytest.param({"temperature": "warm"}, None, "settings.invalid_number", id="temperature-text"),
        pytest.param({"temperature": float("nan")}, None, "settings.invalid_temperature", id="temperature-nan"),
        pytest.param({"top_p": 0}, None, "settings.invalid_top_p", id="top-p-0"),
        pytest.param({"top_p": 1.5}, None, "settings.invalid_top_p", id="top-p-1.5"),
        pytest.param({"max_tokens": 0}, None, "settings.invalid_max_tokens", id="max-tokens-0"),
        pytest.param({"max_tokens": 65537}, 65536, "settings.invalid_max_tokens", id="max-tokens-over-model"),
        pytest.param({"max_tokens": "lots"}, None, "settings.invalid_number", id="max-tokens-text"),
        pytest.param({"max_tokens": None}, None, "settings.invalid_number", id="max-tokens-none"),
        pytest.param({"system_prompt": "p" * 20_001}, None, "settings.system_prompt_too_long", id="prompt-too-long"),
    ],
)
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_settings_out_of_range_are_rejected_with_a_translated_message(
    changes: dict[str, Any], limit: int | None, key: str, language: str
) -> None:
    set_language(language)
    with pytest.raises(InvalidInput) as caught:
        validate(AppSettings(**changes), model_max_tokens=limit)
    assert caught.value.key == key
    shown = t(key, **caught.value.values)
    assert key in catalogue(language) and shown and "\n" not in shown and not PLACEHOLDERS.search(shown)
    if limit is None:  # a hand-edited row with it falls back to the defaults instead of failing
        assert AppSettings.from_stored({**AppSettings().to_stored(), **changes}) == AppSettings()


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    def fields_of(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    def by_message(entries: dict[str, str]) -> dict[str, set[str]]:
        """Placeholders per message; a plural's forms (English .one/.other, Chinese .other only)
        are one message, the count filled in by t() whether a form shows it or not."""
        merged: dict[str, set[str]] = {}
        for key, text in entries.items():
            base = key.removesuffix(".one").removesuffix(".other")
            merged.setdefault(base, set()).update(fields_of(text) - ({"count", "count:,"} if base != key else set()))
        return merged

    en, zh = by_message(catalogue("en")), by_message(catalogue("zh-CN"))
    assert en.keys() == zh.keys()
    assert en == zh
