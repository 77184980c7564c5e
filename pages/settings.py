"""API key, default model, generation parameters, system prompt, language; presets (the user's own
created, changed and deleted here, built-ins copied to be changed)."""

from dataclasses import replace
from itertools import count

import streamlit as st

from chatbot import config
from chatbot.errors import ChatError, InvalidInput
from chatbot.i18n import LANGUAGES, t, t_md
from chatbot.presets import Preset, new_preset, same_name
from chatbot.settings import SPEECH_VOICES, VOICE_MODELS, AppSettings, validate
from pages._common import Context, page_context, preset_label, server_secrets, show_error
from pages._cost import settings_section
from pages._endpoints import endpoints_section
from pages._local_model import local_model_section
from pages._state import API_KEY, NEW_CHAT_MODEL

# Where a key in use was set (chatbot.config.api_key), in words.
KEY_SOURCES: dict[config.KeySource, str] = {
    "session": "settings.key_from_session",
    "environment": "settings.key_from_environment",
    "env_file": "settings.key_from_env_file",
    "secrets": "settings.key_from_secrets",
}

ctx: Context = page_context()
settings = ctx.settings

st.title(t("settings.title"))

st.subheader(t("settings.api_key"))
# The server's key is everyone's: only an admin (chatbot.access) sees its end, or where it is
# set, or replaces it.
key_in_use = config.api_key(st.session_state.get(API_KEY), server_secrets())
if key_in_use is None:
    st.caption(t("settings.no_key"))
elif ctx.actor.admin or not key_in_use.shared:
    st.caption(t("settings.key_in_use", masked=key_in_use.masked))
    st.caption(t(KEY_SOURCES[key_in_use.source]))
else:
    st.caption(t("settings.key_server"))
if not ctx.actor.admin:
    st.caption(t("settings.key_session_only"))
with st.form("api_key_form", clear_on_submit=True):
    new_key = st.text_input(t("settings.api_key_input"), type="password", placeholder="gsk_…")
    save_to_env = ctx.actor.admin and st.checkbox(t("settings.save_env"), help=t("settings.save_env_help"))
    if st.form_submit_button(t("settings.use_key")) and new_key.strip():
        try:
            if save_to_env:  # refused in the core too, whoever calls it
                path = config.save_api_key_to_env(new_key, ctx.actor)
        except ChatError as error:
            show_error(error)
        else:
            st.session_state[API_KEY] = new_key.strip()
            NEW_CHAT_MODEL.pop("")  # a new chat picks the best model again
            st.success(t_md("settings.saved_env", path=str(path)) if save_to_env else t("settings.key_session"))
            st.rerun()
if st.session_state.get(API_KEY) and st.button(t("settings.forget_key")):
    del st.session_state[API_KEY]
    st.rerun()

endpoints_section(ctx)  # pages/_endpoints.py
if ctx.local_model is not None:
    local_model_section(ctx, ctx.local_model)  # pages/_local_model.py

st.subheader(t("settings.appearance"))
st.caption(t("settings.theme_hint"))  # Streamlit's own switcher (.streamlit/config.toml): no second control here

st.subheader(t("settings.generation"))
catalogue = ctx.catalogue()
options = [""] + [m.key for m in catalogue.models]
current = settings.default_model if settings.default_model in options else ""
with st.form("settings_form"):
    default_model = st.selectbox(
        t("settings.default_model"),
        options,
        index=options.index(current),
        format_func=lambda key: t("settings.automatic") if not key else key.split(":", 1)[1],
    )
    model = catalogue.find(default_model) or ctx.default_model(catalogue)
    limit = model.max_completion_tokens if model else None
    temperature = st.slider(t("settings.temperature"), 0.0, 2.0, settings.temperature, 0.05)
    top_p = st.slider(t("settings.top_p"), 0.05, 1.0, settings.top_p, 0.05)
    # Keyed: its help names the chosen model's limit, and an unkeyed widget whose help changes
    # is a new widget, which would drop the number typed in the same submit as a model change.
    max_tokens = st.number_input(
        t("settings.max_tokens"),
        min_value=1,
        value=settings.max_tokens,
        step=64,
        help=t("settings.max_tokens_help", limit=limit or "–"),
        key="settings_max_tokens",
    )
    system_prompt = st.text_area(t("settings.system_prompt"), settings.system_prompt, height=120)
    language = st.selectbox(
        t("settings.language"),
        ["", *LANGUAGES],
        index=["", *LANGUAGES].index(settings.language),
        format_func=lambda code: LANGUAGES.get(code, t("settings.language_auto")),
    )
    # GROQ_CHAT_AUTO_TITLE=0 switches titles off for the whole server: the toggle then says so
    # rather than offering a choice that would change nothing.
    server_titles = config.auto_titles()
    auto_titles = st.toggle(
        t("settings.auto_titles"),
        settings.auto_titles and server_titles,
        disabled=not server_titles,
        help=t("settings.auto_titles_help") if server_titles else t("settings.auto_titles_server_off"),
        key="settings_auto_titles",
    )
    st.markdown(t_md("settings.voice"))
    voice_review = st.toggle(t("settings.voice_review"), settings.voice_review, help=t("settings.voice_review_help"))
    voice_model = st.selectbox(
        t("settings.voice_model"),
        VOICE_MODELS,
        index=VOICE_MODELS.index(settings.voice_model) if settings.voice_model in VOICE_MODELS else 0,
        help=t("settings.voice_model_help"),
    )
    voice_translate = st.toggle(
        t("settings.voice_translate"), settings.voice_translate, help=t("settings.voice_translate_help")
    )
    speech_voice = st.selectbox(
        t("settings.speech_voice"),
        SPEECH_VOICES,
        index=SPEECH_VOICES.index(settings.speech_voice) if settings.speech_voice in SPEECH_VOICES else 0,
        format_func=str.capitalize,
        help=t("settings.speech_voice_help"),
    )
    if st.form_submit_button(t("settings.save"), type="primary"):
        try:
            new = validate(
                AppSettings(
                    default_model,
                    temperature,
                    top_p,
                    max_tokens,
                    system_prompt,
                    language,
                    auto_titles if server_titles else settings.auto_titles,
                    voice_review,
                    voice_model,
                    voice_translate,
                    speech_voice,
                    **settings.spending_choices(),  # saved by the Spending section (pages/_cost.py)
                ),
                model_max_tokens=limit,
            )
        except InvalidInput as error:
            show_error(error)
        else:
            ctx.preferences.save_settings(new)
            st.toast(t("settings.saved"), icon=":material/check:")
            st.rerun()

settings_section()  # service tier, fallback, answer cache; prices and budgets (pages/_cost.py)

st.subheader(t("presets.title"))
st.caption(t("presets.hint"))
PRESET_ROUND = "new_preset_round"  # bumped when a new preset is saved: its form starts empty again


def model_name(key: str) -> str:
    return t("presets.any_model") if not key else key.split(":", 1)[1]


def preset_form(form_key: str, preset: Preset | None) -> Preset | None:
    """A preset's fields, filled from ``preset`` (empty for a new one). Once submitted: the
    preset as entered, its id kept (saving it changes it in place); None until then."""
    params = preset.params if preset else {}
    # A model Groq no longer lists stays chosen until the user picks another: an edit of the
    # name alone must not change the model behind the user's back.
    models = options if preset is None or preset.model in options else [*options, preset.model]
    with st.form(form_key, border=preset is None):
        if preset is None:
            st.markdown(f"**{t('presets.new')}**")
        name = st.text_input(t("presets.name"), preset.name if preset else "", key=f"{form_key}_name")
        prompt = st.text_area(
            t("settings.system_prompt"), preset.system_prompt if preset else "", key=f"{form_key}_prompt"
        )
        model = st.selectbox(
            t("presets.model"),
            models,
            index=models.index(preset.model) if preset else 0,
            format_func=model_name,
            key=f"{form_key}_model",
        )
        temperature = st.slider(
            t("settings.temperature"),
            0.0,
            2.0,
            float(params.get("temperature", 0.7)),
            0.05,
            key=f"{form_key}_temperature",
        )
        # Filled through the session state and created with value=None: only a box created empty
        # can be emptied again (Streamlit's rule), and empty means "as in your settings".
        max_key = f"{form_key}_max_tokens"
        if max_key not in st.session_state:
            st.session_state[max_key] = params.get("max_tokens")
        max_tokens = st.number_input(
            t("settings.max_tokens"),
            min_value=1,
            value=None,
            step=64,
            placeholder=t("presets.max_tokens_default"),
            key=max_key,
        )
        if not st.form_submit_button(t("presets.save_changes" if preset else "presets.save"), icon=":material/save:"):
            return None
    # Parameters this form does not show (e.g. top_p) are kept as they were.
    entered = {k: v for k, v in params.items() if k not in ("temperature", "max_tokens")}
    entered["temperature"] = temperature
    if max_tokens is not None:  # empty: the settings' max tokens, as without a preset
        entered["max_tokens"] = int(max_tokens)
    if preset is None:
        return new_preset(name, prompt, model, entered)
    return replace(preset, name=name, system_prompt=prompt, model=model, params=entered)


def save_preset_from(form_key: str, preset: Preset | None) -> None:
    """Draw the form; on submit save what was entered, or say why not (the entries stay)."""
    try:
        entered = preset_form(form_key, preset)
        if entered is None:
            return
        saved = ctx.preferences.save_preset(entered)
    except InvalidInput as error:
        show_error(error)
        return
    if preset is None:
        st.session_state[PRESET_ROUND] = st.session_state.get(PRESET_ROUND, 0) + 1
    st.toast(t_md("presets.saved", name=saved.name), icon=":material/check:")
    st.rerun()


def copy_to_own(preset: Preset, presets: list[Preset]) -> None:
    """A built-in, copied as a preset of the user's own under a name not taken yet."""
    label = preset_label(preset)
    taken = [p.name for p in presets if not p.builtin]
    names = (
        t("presets.copy_name", name=label) if n == 1 else t("presets.copy_name_n", name=label, number=n)
        for n in count(1)
    )
    name = next(n for n in names if not any(same_name(n, other) for other in taken))
    try:
        saved = ctx.preferences.save_preset(new_preset(name, preset.system_prompt, preset.model, preset.params))
    except InvalidInput as error:
        show_error(error)
        return
    st.toast(t_md("presets.copied", name=saved.name), icon=":material/content_copy:")
    st.rerun()


all_presets = ctx.preferences.presets()
for preset in all_presets:
    with st.expander(
        preset_label(preset), icon=":material/bookmark:" if preset.builtin else ":material/bookmark_star:"
    ):
        if preset.builtin:  # read-only: shown, and copied to be changed
            st.text(preset.system_prompt)
            st.caption(
                t_md(
                    "presets.details", model=model_name(preset.model), temperature=preset.params.get("temperature", "–")
                )
            )
            st.caption(t("presets.builtin_readonly"))
            if st.button(t("presets.copy"), key=f"copy_preset_{preset.id}", icon=":material/content_copy:"):
                copy_to_own(preset, all_presets)
            continue
        save_preset_from(f"edit_preset_{preset.id}", preset)
        if st.button(t("presets.delete"), key=f"delete_preset_{preset.id}", icon=":material/delete:"):
            ctx.preferences.delete_preset(preset.id)
            st.rerun()
save_preset_from(f"new_preset_{st.session_state.get(PRESET_ROUND, 0)}", None)
