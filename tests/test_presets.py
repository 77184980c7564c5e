"""The user's own presets (Preferences): changed in place, names unique, built-ins read-only,
and what a changed preset starts a chat with is what the provider receives."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.errors import InvalidInput
from chatbot.preferences import Preferences
from chatbot.presets import new_preset, validate
from chatbot.providers import Providers
from chatbot.reply import NewChatOptions
from chatbot.settings import AppSettings
from chatbot.turns import Turns
from tests.stand_in_groq import StandInGroq


@pytest.fixture
def preferences(sessions: sessionmaker[Session]) -> Preferences:
    return Preferences(sessions)


def own(preferences: Preferences) -> list[tuple[str, str]]:
    return [(p.id, p.name) for p in preferences.presets() if not p.builtin]


def test_a_changed_preset_keeps_its_id_and_its_place(preferences: Preferences) -> None:
    first = preferences.save_preset(new_preset("Reviewer", "Review my code.", params={"temperature": 0.3}))
    second = preferences.save_preset(new_preset("Poet", "Answer in verse."))
    changed = preferences.save_preset(
        replace(
            first,
            name="  Strict reviewer ",
            system_prompt="Review my code harshly.",
            model="groq:llama-3.1-8b-instant",
            params={"temperature": 0.1, "max_tokens": 300},
        )
    )
    assert changed.name == "Strict reviewer"  # trimmed, as shown
    assert own(preferences) == [(first.id, "Strict reviewer"), (second.id, "Poet")]
    stored = next(p for p in preferences.presets() if p.id == first.id)
    assert (stored.system_prompt, stored.model, stored.params) == (
        "Review my code harshly.",
        "groq:llama-3.1-8b-instant",
        {"temperature": 0.1, "max_tokens": 300},
    )


@pytest.mark.parametrize("taken", ["Poet", "poet", "  POET "])
def test_a_name_already_taken_is_refused_and_nothing_changes(preferences: Preferences, taken: str) -> None:
    poet = preferences.save_preset(new_preset("Poet", "Answer in verse."))
    reviewer = preferences.save_preset(new_preset("Reviewer", "Review my code."))
    before = preferences.presets()
    with pytest.raises(InvalidInput) as renamed:
        preferences.save_preset(replace(reviewer, name=taken))
    with pytest.raises(InvalidInput) as added:
        preferences.save_preset(new_preset(taken, "Another poet."))
    for error in (renamed.value, added.value):
        assert (error.key, error.values) == ("presets.duplicate_name", {"name": taken.strip()})
    assert preferences.presets() == before
    # Its own name, differently written, is no clash.
    assert preferences.save_preset(replace(poet, name="POET")).name == "POET"


def test_built_ins_cannot_be_changed_or_shadowed(preferences: Preferences) -> None:
    concise = next(p for p in preferences.presets() if p.builtin)
    for attempt in (replace(concise, system_prompt="Ramble."), replace(concise, builtin=False, name="Mine")):
        with pytest.raises(InvalidInput) as info:
            preferences.save_preset(attempt)
        assert info.value.key == "presets.builtin_readonly"
    assert own(preferences) == []


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"max_tokens": 0}, "settings.invalid_max_tokens"),
        ({"max_tokens": 2.5}, "settings.invalid_max_tokens"),
        ({"temperature": 2.1}, "settings.invalid_temperature"),
    ],
)
def test_out_of_range_parameters_are_refused(params: dict[str, float], key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate(replace(new_preset("x", "y"), params=params))
    assert info.value.key == key


def test_a_changed_preset_is_what_the_next_chat_sends(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    providers = Providers(groq_server.api_key, groq_server.base_url)
    chat, preferences = Turns(sessions, providers), Preferences(sessions)
    preset = preferences.save_preset(new_preset("Reviewer", "Review my code.", params={"temperature": 0.3}))
    preferences.save_preset(
        replace(preset, system_prompt="Review my code harshly.", params={"temperature": 0.1, "max_tokens": 300})
    )
    stored = next(p for p in preferences.presets() if p.id == preset.id)
    model = providers.catalogue().find("groq:llama-3.1-8b-instant")
    assert model is not None
    pending = chat.start_turn(
        None, "def f(): pass", model, AppSettings(), new_chat=NewChatOptions(stored.system_prompt, stored.params)
    )
    list(chat.stream_reply(pending))
    body = groq_server.chat_requests[-1]["json"]
    assert body["messages"][0] == {"role": "system", "content": "Review my code harshly."}
    assert (body["temperature"], body["max_completion_tokens"]) == (0.1, 300)
