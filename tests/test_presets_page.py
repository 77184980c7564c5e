"""Presets on the settings page: the user's own are changed in place, names are checked (in
both languages), built-ins stay as they are but can be copied to be changed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.i18n import catalogue, set_language, t
from chatbot.preferences import Preferences
from chatbot.presets import Preset, new_preset
from chatbot.settings import AppSettings
from tests.stand_in_groq import StandInGroq
from tests.test_settings_page import restart, settings_page, submit

pytestmark = pytest.mark.usefixtures("english")


def service(sessions: sessionmaker[Session]) -> Preferences:
    return Preferences(sessions)


def own(sessions: sessionmaker[Session]) -> list[Preset]:
    return [p for p in service(sessions).presets() if not p.builtin]


def fill(at: AppTest, form_key: str, **values: Any) -> None:
    """Set a preset form's fields (name, prompt, model, temperature, max_tokens) as a user would."""
    kinds = {
        "name": at.text_input,
        "prompt": at.text_area,
        "model": at.selectbox,
        "temperature": at.slider,
        "max_tokens": at.number_input,
    }
    for field, value in values.items():
        kinds[field](key=f"{form_key}_{field}").set_value(value)


def shown(at: AppTest, form_key: str) -> dict[str, Any]:
    return {
        "name": at.text_input(key=f"{form_key}_name").value,
        "prompt": at.text_area(key=f"{form_key}_prompt").value,
        "model": at.selectbox(key=f"{form_key}_model").value,
        "temperature": at.slider(key=f"{form_key}_temperature").value,
        "max_tokens": at.number_input(key=f"{form_key}_max_tokens").value,
    }


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_a_preset_of_ones_own_is_changed_in_place(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    at = settings_page(app)
    fill(at, "new_preset_0", name="Reviewer", prompt="Review my code.", temperature=0.3)
    submit(at, "new_preset_0")
    assert [x.value for x in at.toast] == [t("presets.saved", name="Reviewer")]
    service(sessions).save_preset(new_preset("Poet", "Answer in verse."))
    at.run()
    reviewer = own(sessions)[0]
    assert shown(at, "new_preset_1")["name"] == ""  # the new-preset form starts empty again

    form = f"edit_preset_{reviewer.id}"
    assert shown(at, form) == {
        "name": "Reviewer",
        "prompt": "Review my code.",
        "model": "",
        "temperature": pytest.approx(0.3),
        "max_tokens": None,
    }
    fill(
        at,
        form,
        name="Strict reviewer",
        prompt="Review my code harshly.",
        model="groq:llama-3.1-8b-instant",
        temperature=0.1,
        max_tokens=300,
    )
    submit(at, form)
    assert not at.error
    assert [x.value for x in at.toast] == [t("presets.saved", name="Strict reviewer")]
    assert [(p.id, p.name) for p in own(sessions)] == [(reviewer.id, "Strict reviewer"), (own(sessions)[1].id, "Poet")]
    changed = own(sessions)[0]
    assert (changed.system_prompt, changed.model, changed.params) == (
        "Review my code harshly.",
        "groq:llama-3.1-8b-instant",
        {"temperature": 0.1, "max_tokens": 300},
    )
    assert "Strict reviewer" in [e.label for e in at.expander]

    # After a restart the form shows the preset as saved; clearing max tokens leaves it to the settings.
    restart()
    fresh = settings_page()
    assert shown(fresh, form) == {
        "name": "Strict reviewer",
        "prompt": "Review my code harshly.",
        "model": "groq:llama-3.1-8b-instant",
        "temperature": pytest.approx(0.1),
        "max_tokens": 300,
    }
    fill(fresh, form, max_tokens=None)
    submit(fresh, form)
    assert own(sessions)[0].params == {"temperature": 0.1}


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_an_empty_or_taken_name_is_refused_in_the_users_language(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], language: str
) -> None:
    chat = service(sessions)
    chat.save_settings(AppSettings(language=language))
    poet = chat.save_preset(new_preset("Poet", "Answer in verse."))
    reviewer = chat.save_preset(new_preset("Reviewer", "Review my code."))
    before = own(sessions)
    app.run()
    app.switch_page("pages/settings.py").run()
    assert not app.exception
    # AppTest formats select boxes' options with the page's format_func in this thread (to send
    # the choice back): it must speak the page's language for them to match.
    set_language(language)

    def message(key: str, **values: str) -> str:
        return catalogue(language)[key].format(**values)

    form = f"edit_preset_{reviewer.id}"
    fill(app, form, name=" poet ", prompt="Changed, but not saved.")
    submit(app, form)
    assert errors(app) == [message("presets.duplicate_name", name="poet")]
    assert shown(app, form)["prompt"] == "Changed, but not saved."  # what was typed stays to be fixed

    fill(app, form, name="   ")
    submit(app, form)
    assert errors(app) == [message("presets.name_required")]

    fill(app, "new_preset_0", name="POET", prompt="A second poet.")
    submit(app, "new_preset_0")
    assert errors(app) == [message("presets.duplicate_name", name="POET")]
    assert shown(app, "new_preset_0")["prompt"] == "A second poet."
    assert own(sessions) == before  # nothing saved

    fill(app, form, name="Reviewer 2")
    submit(app, form)
    assert not app.error
    assert [p.name for p in own(sessions)] == [poet.name, "Reviewer 2"]


def test_built_ins_are_read_only_and_copied_to_be_changed(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    at = settings_page(app)
    concise = next(p for p in service(sessions).presets() if p.id == "builtin:concise")
    assert not [f for f in at.form if f.proto.form.form_id.startswith("edit_preset_builtin")]
    assert t("presets.builtin_readonly") in [c.value for c in at.caption]

    at.button(key="copy_preset_builtin:concise").click().run()
    assert not at.exception
    name = t("presets.copy_name", name=t("preset.concise"))
    assert [x.value for x in at.toast] == [t("presets.copied", name=name)]
    at.button(key="copy_preset_builtin:concise").click().run()
    second = t("presets.copy_name_n", name=t("preset.concise"), number=2)
    assert [(p.name, p.system_prompt, p.params) for p in own(sessions)] == [
        (name, concise.system_prompt, concise.params),
        (second, concise.system_prompt, concise.params),
    ]

    # The copy is the user's own: changed like any other, the built-in untouched.
    copy = own(sessions)[0]
    fill(at, f"edit_preset_{copy.id}", prompt="Answer in one word.")
    submit(at, f"edit_preset_{copy.id}")
    assert own(sessions)[0].system_prompt == "Answer in one word."
    assert next(p for p in service(sessions).presets() if p.id == concise.id) == concise
