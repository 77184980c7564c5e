"""A conversation's settings (system prompt, parameters, preset) in a dialog, and the chip at
the top of the chat that names its model and preset.

A dialog, not a popover: a popover opened from the sidebar is as narrow as the sidebar, and
its Apply button ended below the fold. Drawing only: the core keeps the options and remembers
the applied preset (chatbot.conversation.ConversationService.update_options).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatbot.history import ConversationSummary
from chatbot.i18n import t
from chatbot.presets import Preset, applied_preset, builtin_presets, with_preset
from chatbot.providers import Catalogue
from chatbot.providers.base import ModelInfo
from chatbot.reply import NewChatOptions
from pages._common import Context, preset_label
from pages._state import MODEL_SWITCHES, NEW_CHAT_MODEL, NEW_CHAT_PRESET, Key

REASONING_EFFORTS = ("low", "medium", "high")
# Set by Apply (which closes the dialog with a rerun): the next run confirms it with a toast.
APPLIED = Key[bool]("conversation_options_applied")


def current_preset_id(conversation: ConversationSummary | None) -> str | None:
    """The preset applied to this conversation (or to the new chat about to start)."""
    if conversation is not None:
        return applied_preset(conversation.params)
    pending = NEW_CHAT_PRESET.get(None)
    return applied_preset(pending.params) if pending else None


def _preset_named(ctx: Context, preset_id: str) -> Preset | None:
    # Built-ins are in code: only the user's own need the database read.
    for preset in builtin_presets():
        if preset.id == preset_id:
            return preset
    return next((p for p in ctx.preferences.presets() if p.id == preset_id), None)


def conversation_chip(ctx: Context, conversation: ConversationSummary | None, model: ModelInfo) -> None:
    """The model and preset in use, at a glance, at the top of the chat; Apply's confirmation."""
    if APPLIED.pop(False):
        st.toast(t("chat.options_applied"), icon=":material/check_circle:")
    preset_id = current_preset_id(conversation)
    preset = _preset_named(ctx, preset_id) if preset_id else None
    with st.container(horizontal=True, gap="small", key="conversation_chip"):
        st.badge(model.id, icon=":material/smart_toy:", color="gray", help=t("chat.chip_model"))
        if preset is not None:
            st.badge(preset_label(preset), icon=":material/tune:", color="blue", help=t("chat.chip_preset"))


def options_button(
    ctx: Context, conversation: ConversationSummary | None, catalogue: Catalogue, model: ModelInfo
) -> None:
    """The sidebar button that opens the dialog."""
    conversation_id = conversation.id if conversation else None
    if st.button(
        t("chat.options"),
        icon=":material/tune:",
        width="stretch",
        key=f"options_open_{conversation_id}",
    ):
        dialog = st.dialog(t("chat.options"), width="large", icon=":material/tune:")(_options_form)
        dialog(ctx, conversation, catalogue, model)


def _options_form(
    ctx: Context, conversation: ConversationSummary | None, catalogue: Catalogue, model: ModelInfo
) -> None:
    """This conversation's system prompt, parameters and preset (over the global settings).

    Runs only while the dialog is open: the form and the presets (a database read) cost every
    run otherwise. The applied preset is chosen when it opens; another one fills the form in.
    """
    conversation_id = conversation.id if conversation else None
    own: dict[str, Any] = conversation.params if conversation else {}
    if conversation is None and (pending := NEW_CHAT_PRESET.get(None)) is not None:
        own = pending.params
    presets = {p.id: p for p in ctx.preferences.presets()}
    applied = current_preset_id(conversation)
    choices = ["", *presets]
    preset_id = st.selectbox(
        t("chat.preset"),
        choices,
        index=choices.index(applied) if applied in presets else 0,
        format_func=lambda k: preset_label(presets[k]) if k else t("chat.no_preset"),
        key=f"preset_{conversation_id}",
    )
    # The applied preset shows the conversation's own values (perhaps changed since); another
    # preset, the values it would set.
    preset = presets.get(preset_id) if preset_id != applied else None
    if conversation is not None:
        prompt = conversation.system_prompt
    elif (pending := NEW_CHAT_PRESET.get(None)) is not None:
        prompt = pending.system_prompt
    else:
        prompt = ctx.settings.system_prompt
    with st.form(f"options_{conversation_id}", border=False):
        system_prompt = st.text_area(
            t("settings.system_prompt"), preset.system_prompt if preset else prompt or "", height=160
        )
        base = (preset.params if preset else own) or {}
        temperature = st.slider(
            t("settings.temperature"), 0.0, 2.0, float(base.get("temperature", ctx.settings.temperature)), 0.05
        )
        limit = model.max_completion_tokens or 131072
        max_tokens = st.number_input(
            t("settings.max_tokens"),
            1,
            limit,
            min(int(base.get("max_tokens", ctx.settings.max_tokens)), limit),
            help=t("settings.max_tokens_help", limit=limit),
        )
        effort = None
        if model.reasoning:
            effort = st.segmented_control(
                t("chat.reasoning_effort"),
                REASONING_EFFORTS,
                default=base.get("reasoning_effort", own.get("reasoning_effort", "medium")),
                format_func=lambda e: t(f"chat.effort_{e}"),
            )
        if not st.form_submit_button(t("chat.apply"), type="primary"):
            return
    params: dict[str, Any] = {"temperature": temperature, "max_tokens": int(max_tokens)}
    if effort:
        params["reasoning_effort"] = effort
    chosen = presets.get(preset_id)
    switch_to = chosen.model if chosen and chosen.model and catalogue.find(chosen.model) else None
    if conversation is not None:
        ctx.conversations.update_options(conversation.id, system_prompt, params, preset_id or None)
        if switch_to and preset_id != applied:
            ctx.conversations.set_model(conversation.id, switch_to)
    else:
        NEW_CHAT_PRESET.set(NewChatOptions(system_prompt, with_preset(params, preset_id or None)))
        if switch_to and preset_id != applied:
            NEW_CHAT_MODEL.set(switch_to)
    if switch_to and preset_id != applied:
        # A fresh model box: the old one would send its value back and undo the switch.
        switched = MODEL_SWITCHES.setdefault({})
        switched[conversation_id] = switched.get(conversation_id, 0) + 1
    APPLIED.set(True)
    st.rerun()  # closes the dialog; the page and the chip show the new options
