"""API key, default model, generation parameters, system prompt, language."""

import streamlit as st

from chatbot import config
from chatbot.errors import InvalidInput
from chatbot.i18n import LANGUAGES, t
from chatbot.presets import new_preset
from chatbot.settings import AppSettings, validate
from pages._common import API_KEY, Context, page_context, preset_label, show_error

ctx: Context = page_context()
settings = ctx.settings

st.title(t("settings.title"))

st.subheader(t("settings.api_key"))
if ctx.providers.api_key:
    st.caption(t("settings.key_in_use", masked=config.mask_key(ctx.providers.api_key)))
else:
    st.caption(t("settings.no_key"))
with st.form("api_key_form", clear_on_submit=True):
    new_key = st.text_input(t("settings.api_key_input"), type="password", placeholder="gsk_…")
    save_to_env = st.checkbox(t("settings.save_env"), help=t("settings.save_env_help"))
    if st.form_submit_button(t("settings.use_key")) and new_key.strip():
        st.session_state[API_KEY] = new_key.strip()
        st.session_state.pop("new_chat_model", None)  # a new chat picks the best model again
        if save_to_env:
            path = config.save_api_key_to_env(new_key)
            st.success(t("settings.saved_env", path=str(path)))
        else:
            st.success(t("settings.key_session"))
        st.rerun()
if st.session_state.get(API_KEY) and st.button(t("settings.forget_key")):
    del st.session_state[API_KEY]
    st.rerun()

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
        t("settings.max_tokens"), min_value=1, value=settings.max_tokens, step=64,
        help=t("settings.max_tokens_help", limit=limit or "–"), key="settings_max_tokens",
    )
    system_prompt = st.text_area(t("settings.system_prompt"), settings.system_prompt, height=120)
    language = st.selectbox(
        t("settings.language"), ["", *LANGUAGES], index=["", *LANGUAGES].index(settings.language),
        format_func=lambda code: LANGUAGES.get(code, t("settings.language_auto")),
    )
    if st.form_submit_button(t("settings.save"), type="primary"):
        try:
            new = validate(
                AppSettings(default_model, temperature, top_p, max_tokens, system_prompt, language),
                model_max_tokens=limit,
            )
        except InvalidInput as error:
            show_error(error)
        else:
            ctx.service.save_settings(new)
            st.toast(t("settings.saved"), icon=":material/check:")
            st.rerun()

st.subheader(t("presets.title"))
st.caption(t("presets.hint"))
for preset in ctx.service.presets():
    with st.expander(preset_label(preset), icon=":material/bookmark:" if preset.builtin else ":material/bookmark_star:"):
        st.text(preset.system_prompt)
        st.caption(t("presets.details", model=preset.model.split(":", 1)[-1] or t("presets.any_model"),
                     temperature=preset.params.get("temperature", "–")))
        if not preset.builtin and st.button(t("presets.delete"), key=f"delete_preset_{preset.id}", icon=":material/delete:"):
            ctx.service.delete_preset(preset.id)
            st.rerun()
with st.form("new_preset", clear_on_submit=True):
    st.markdown(f"**{t('presets.new')}**")
    name = st.text_input(t("presets.name"))
    prompt = st.text_area(t("settings.system_prompt"), key="new_preset_prompt")
    preset_model = st.selectbox(
        t("presets.model"), options, format_func=lambda key: t("presets.any_model") if not key else key.split(":", 1)[1]
    )
    preset_temperature = st.slider(t("settings.temperature"), 0.0, 2.0, 0.7, 0.05, key="new_preset_temperature")
    if st.form_submit_button(t("presets.save")):
        try:
            ctx.service.save_preset(new_preset(name, prompt, preset_model, {"temperature": preset_temperature}))
        except InvalidInput as error:
            show_error(error)
        else:
            st.rerun()
