"""Settings: OpenAI-compatible endpoints (admins add, change and remove them; everyone else sees
which exist) and the model labels of the sidebar picker."""

from __future__ import annotations

import streamlit as st

from chatbot.endpoints import MAX_MODELS, Endpoint, endpoint_name, validate
from chatbot.errors import ChatError
from chatbot.i18n import t
from pages._common import Context, show_error

_SOURCES = {
    "secrets": "endpoints.from_secrets",
    "environment": "endpoints.from_environment",
    "database": "endpoints.from_database",
}


def provider_label(provider: str) -> str:
    """Where a model runs, as the picker shows it: Groq, an endpoint's name, or the built-in model."""
    name = endpoint_name(provider)
    if name is not None:
        return name
    return t(f"provider.{provider}" if provider in ("groq", "local") else "provider.local")


def _describe(ctx: Context, endpoint: Endpoint) -> str:
    key = ""
    if endpoint.key_variable:
        assert ctx.endpoints is not None
        state = "endpoints.key_set" if ctx.endpoints.has_key(endpoint) else "endpoints.key_missing"
        key = " · " + t(state, variable=endpoint.key_variable)
    # The URL only to admins: it may name hosts of the server's own network.
    where = f" · `{endpoint.base_url}`" if ctx.actor.admin else ""
    return f"**{endpoint.name}**{where}{key} · {t(_SOURCES[endpoint.source])}"


def endpoints_section(ctx: Context) -> None:
    if ctx.endpoints is None:
        return
    st.subheader(t("endpoints.title"))
    st.caption(t("endpoints.help"))
    try:
        endpoints = ctx.endpoints.all()
    except ChatError as error:
        show_error(error)
        return
    if not endpoints:
        st.caption(t("endpoints.none"))
    for endpoint in endpoints:
        row = st.container(horizontal=True, vertical_alignment="center")
        row.markdown(_describe(ctx, endpoint))
        removable = ctx.actor.admin and endpoint.source == "database"
        if removable and row.button(t("endpoints.remove"), key=f"remove_{endpoint.name}", icon=":material/delete:"):
            try:
                ctx.endpoints.remove(ctx.actor, endpoint.name)
            except ChatError as error:
                show_error(error)
            else:
                st.rerun()
    if not ctx.actor.admin:
        st.caption(t("endpoints.admins_only"))
        return
    with st.form("endpoint_form", clear_on_submit=False):
        name = st.text_input(t("endpoints.name"), max_chars=30, placeholder="ollama")
        base_url = st.text_input(t("endpoints.base_url"), max_chars=500, placeholder="http://localhost:11434/v1")
        variable = st.text_input(
            t("endpoints.key_variable"), max_chars=64, placeholder="OPENROUTER_API_KEY", help=t("endpoints.key_help")
        )
        key = st.text_input(t("endpoints.key"), type="password", help=t("endpoints.key_save_help"))
        models = st.text_area(t("endpoints.models"), help=t("endpoints.models_help", limit=MAX_MODELS))
        if st.form_submit_button(t("endpoints.save")):
            try:
                endpoint = validate(name, base_url, variable, models.splitlines())
                ctx.endpoints.save(ctx.actor, endpoint)
                if key.strip():
                    ctx.endpoints.save_key(ctx.actor, endpoint, key)
            except ChatError as error:
                show_error(error)
            else:
                st.success(t("endpoints.saved", name=endpoint.name))
