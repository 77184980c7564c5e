"""Groq's built-in tools on the chat page: the per-conversation switches (only for models that
support them) and, under a reply, what the tools did: searches with numbered sources, pages
visited, code with its output and images. Everything from a tool is drawn as data: titles
escaped, links as plain Markdown links (a click opens them in a new tab), never HTML."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from urllib.parse import quote

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot.i18n import t
from chatbot.providers.base import ModelInfo, Source, ToolRun
from chatbot.reply import NewChatOptions
from chatbot.safe_markdown import escape_markdown, safe_markdown
from chatbot.tools import BROWSER_SEARCH, CODE_INTERPRETER, PARAM, argument, is_code, is_compound, offered, site
from chatbot.tools import numbered_sources as numbered
from pages._common import Context
from pages._state import NEW_CHAT_PRESET


def switches(ctx: Context, conversation_id: str | None, model: ModelInfo) -> None:
    """ "Search the web" and "Run code" under the model picker, where the model has them."""
    if is_compound(model):
        st.caption(t("tools.compound_note"))
        return
    if not offered(model) or ctx.tool_switches is None:
        return
    pending = NEW_CHAT_PRESET.get(None)
    if conversation_id:
        current = ctx.tool_switches.get(conversation_id)
    else:
        current = tuple((pending.params if pending else {}).get(PARAM) or ())
    search = st.toggle(t("tools.search"), BROWSER_SEARCH in current, key=f"tool_search_{conversation_id}")
    code = st.toggle(t("tools.code"), CODE_INTERPRETER in current, key=f"tool_code_{conversation_id}")
    picked = tuple(name for name, on in ((BROWSER_SEARCH, search), (CODE_INTERPRETER, code)) if on)
    if picked == current:
        return
    if conversation_id:
        ctx.tool_switches.set(conversation_id, picked)
    else:  # a new chat starts with them (chatbot.turns reads them from its params)
        prompt = pending.system_prompt if pending else ctx.settings.system_prompt
        NEW_CHAT_PRESET.set(NewChatOptions(prompt, {**(pending.params if pending else {}), PARAM: list(picked)}))


def working(run: ToolRun) -> str:
    """One line while a tool runs: what it searches, visits or computes."""
    if is_code(run):
        return t("tools.running_code")
    return t("tools.running_search", query=escape_markdown(argument(run)[:200]))


def _link(source: Source) -> str:
    # <…> keeps spaces and parentheses inside the destination; "<", ">" and spaces are encoded.
    url = quote(source.url, safe=":/?#[]@!$&'()*+,;=%~-._")
    return f"[{escape_markdown(source.title or site(source.url))}](<{url}>) · {escape_markdown(site(source.url))}"


def _run(run: ToolRun, where: DeltaGenerator) -> None:
    what = argument(run)
    if is_code(run):
        where.caption(t("tools.ran_code"))
        where.code(what, language="python")
        if run.output:
            where.caption(t("tools.output"))
            where.code(run.output, language="text")
        for png in run.images:
            try:
                where.image(base64.b64decode(png, validate=True))
            except (binascii.Error, ValueError):
                continue  # not an image after all: the text output says what ran
        return
    if run.kind == "visit" or run.kind == "open":
        where.markdown(t("tools.visited", page=escape_markdown(what)))
    else:
        where.markdown(t("tools.searched", query=escape_markdown(what)))
    if run.output is None:
        where.caption(t("tools.running"))


def show(runs: Sequence[ToolRun], where: DeltaGenerator | None = None, expanded: bool = False) -> None:
    """The tools' section of a reply: each run, then the sources numbered once each."""
    if not runs:
        return
    box = (where or st).expander(t("tools.used", count=len(runs)), icon=":material/travel_explore:", expanded=expanded)
    for run in runs:
        _run(run, box)
    sources = numbered(runs)
    if sources:
        box.markdown(f"**{t('tools.sources')}**")
        box.markdown(safe_markdown("\n".join(f"{n}. {_link(s)}" for n, s in enumerate(sources, 1))))
