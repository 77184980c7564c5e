"""The sidebar's conversation list and search, and what the History page shares with it.

Drawing only: every decision (paging, grouping, search, trash) is in chatbot/history.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import streamlit as st

from chatbot.errors import ChatError
from chatbot.history import ConversationSummary, DateGroup, HistoryService, group_by_date
from chatbot.i18n import set_language, t, t_md
from chatbot.search import ConversationHits
from chatbot.search.query import MAX_QUERY_CHARS
from chatbot.search.snippets import escape_markdown, plain, to_markdown
from pages._state import CONVERSATION, SIDEBAR_PAGES, TAG_ERROR, TRASH_PURGED

OPEN_MESSAGE = "open_message_id"  # the search hit to show (query param "m" too)
# Set when a conversation is picked: the next run closes the sidebar on a phone (see close_drawer).
PICKED = "sidebar_picked"
PICKED_DONE = "sidebar_picked_done"
CLOSE_DRAWER = Path(__file__).with_name("_close_drawer.html")  # our own file: no user text in it
HISTORY_CSS = Path(__file__).with_name("_history.css")
# The search runs after a pause in typing: True is Streamlit's 250 ms. A duration string such as
# "300ms" would be parsed with pandas, an import (0.6 s, more on a busy machine) that the first page
# of a freshly started server would wait for.
SEARCH_PAUSE = True
UNDO = "undo_delete"

GROUP_KEYS = {
    "today": "history.group_today",
    "yesterday": "history.group_yesterday",
    "previous_7_days": "history.group_previous_7_days",
    "previous_30_days": "history.group_previous_30_days",
}
MONTH_KEYS = (
    "month.january",
    "month.february",
    "month.march",
    "month.april",
    "month.may",
    "month.june",
    "month.july",
    "month.august",
    "month.september",
    "month.october",
    "month.november",
    "month.december",
)
ROLE_KEYS = {"user": "history.role_user", "assistant": "history.role_assistant"}


def user_zone() -> tzinfo:
    """The browser's time zone, so "Today" starts at the user's midnight."""
    name = st.context.timezone
    try:
        return ZoneInfo(name) if name else UTC
    except (KeyError, ValueError):
        return UTC


def group_label(group: DateGroup) -> str:
    if group.key == "month" and group.month:
        return t("history.group_month", month=t(MONTH_KEYS[group.month - 1]), year=group.year)
    return t(GROUP_KEYS[group.key])


def open_conversation(
    history: HistoryService, chat_page: st.Page | str, conversation_id: str, message_id: str | None = None
) -> None:
    """Open a conversation (at a search hit's branch) on the chat page."""
    history.open_at(conversation_id, message_id)
    st.session_state[CONVERSATION] = conversation_id
    st.session_state[OPEN_MESSAGE] = message_id
    st.session_state[PICKED] = st.session_state.get(PICKED, 0) + 1
    # switch_page replaces the query parameters: pass them, so a reload reopens this chat.
    params = {"c": conversation_id, **({"m": message_id} if message_id else {})}
    st.switch_page(chat_page, query_params=params)


def remember_deleted(ids: list[str], title: str | None) -> None:
    st.session_state[UNDO] = {"ids": ids, "title": title}
    if st.session_state.get(CONVERSATION) in ids:
        st.session_state[CONVERSATION] = None
        st.query_params.clear()


def undo_banner(history: HistoryService) -> None:
    """After a delete: what went, and an Undo button (until the next delete or a dismiss)."""
    undo = st.session_state.get(UNDO)
    if not undo:
        return
    ids = undo["ids"]
    text = (
        t_md("history.deleted", title=undo["title"])
        if len(ids) == 1 and undo["title"]
        else t("history.deleted_many", count=len(ids))
    )
    with st.container(border=True):
        st.caption(text)
        left, right = st.columns(2)
        if left.button(t("history.undo"), icon=":material/undo:", key="undo_delete_button", width="stretch"):
            restored = history.undo_delete(ids)
            st.session_state[UNDO] = None
            if not restored:
                st.toast(t("history.undo_gone"), icon=":material/info:")
            st.rerun()
        if right.button("", icon=":material/close:", key="undo_dismiss", width="stretch"):
            st.session_state[UNDO] = None
            st.rerun()


def _menu(history: HistoryService, conv: ConversationSummary, tags: list[str]) -> None:
    """The per-conversation options, drawn only while its popover is open."""
    # A form: Enter in the title saves it, as the Save button does.
    with st.form(f"rename_form_{conv.id}", border=False):
        title = st.text_input(t("history.rename"), value=conv.title, key=f"title_{conv.id}", max_chars=300)
        saved = st.form_submit_button(t("history.save"), key=f"rename_{conv.id}", icon=":material/edit:")
    if saved:
        try:
            history.rename(conv.id, title or "")
        except ChatError as error:
            st.error(t(error.key, **error.values))
        else:
            st.rerun()

    def save_tags() -> None:
        try:
            history.set_tags(conv.id, list(st.session_state[f"tags_{conv.id}"]))
        except ChatError as error:
            TAG_ERROR.set(t(error.key, **error.values))

    st.multiselect(
        t("history.tags"),
        sorted(set(tags) | set(conv.tags)),
        default=list(conv.tags),
        accept_new_options=True,
        key=f"tags_{conv.id}",
        placeholder=t("history.tags_placeholder"),
        on_change=save_tags,
    )
    if tag_error := TAG_ERROR.pop(None):
        st.error(tag_error)
    if st.button(
        t("history.unpin") if conv.pinned else t("history.pin"),
        key=f"pin_{conv.id}",
        icon=":material/push_pin:",
        width="stretch",
    ):
        history.set_pinned([conv.id], not conv.pinned)
        st.rerun()
    if st.button(t("history.archive"), key=f"archive_{conv.id}", icon=":material/archive:", width="stretch"):
        history.set_archived([conv.id], True)
        st.rerun()
    if st.button(t("history.delete"), key=f"delete_{conv.id}", icon=":material/delete:", width="stretch"):
        history.delete([conv.id])
        remember_deleted([conv.id], conv.title)
        st.rerun()


def _row(
    history: HistoryService, chat_page: st.Page, conv: ConversationSummary, current: str | None, tags: list[str]
) -> None:
    # A horizontal container, not columns: on a phone Streamlit stacks columns, and the menu
    # went under its title.
    row = st.container(horizontal=True, gap=None, vertical_alignment="center", key=f"conv_row_{conv.id}")
    left, right = row, row
    label = escape_markdown(conv.title) if conv.title else t("sidebar.untitled")
    # One line, cut with an ellipsis (a phone's narrow sidebar made rows two or three lines
    # high). No help=: with none, Streamlit shows a cut label whole on hover by itself (help=
    # would add a second, hidden copy of the button).
    if left.button(
        label,
        key=f"open_{conv.id}",
        type="primary" if conv.id == current else "tertiary",
        width="stretch",
        wrap=False,
    ):
        open_conversation(history, chat_page, conv.id)
    menu = right.popover(
        "",
        icon=":material/more_vert:",
        type="tertiary",
        key=f"menu_{conv.id}",
        on_change="rerun",
        help=t("sidebar.options"),
    )
    if menu.open:
        with menu:
            _menu(history, conv, tags)


def conversation_list(history: HistoryService, chat_page: st.Page, current: str | None) -> None:
    """Pinned first, then newest first in date groups; more pages on demand (keyset)."""
    pages = SIDEBAR_PAGES.setdefault(1)
    if not TRASH_PURGED.get(False):  # once per browser session: old trash goes
        TRASH_PURGED.set(True)
        history.purge_trash()
    pinned = history.pinned()
    page = history.pages(pages)
    tags = history.all_tags() if pinned or page.items else []
    if pinned:
        st.caption(t("history.group_pinned"))
        for conv in pinned:
            _row(history, chat_page, conv, current, tags)
    for group in group_by_date(page.items, datetime.now(UTC), user_zone()):
        st.caption(group_label(group))
        for conv in group.items:
            _row(history, chat_page, conv, current, tags)
    if page.next_cursor is not None and st.button(
        t("sidebar.load_more"), key="load_more", icon=":material/expand_more:", type="tertiary"
    ):
        SIDEBAR_PAGES.set(pages + 1)
        st.rerun()


@st.fragment
def conversation_panel(history: HistoryService, chat_page: st.Page, language: str) -> None:
    """The search box and what it shows: the recent conversations, or the results as one types.

    A fragment: a search runs after a pause in typing, and reruns only this, not the page.
    """
    set_language(language)  # a fragment run does not run app.py, which sets it
    current = st.session_state.get(CONVERSATION)
    query = st.text_input(
        t("sidebar.search"),
        key="sidebar_search",
        placeholder=t("sidebar.search"),
        label_visibility="collapsed",
        icon=":material/search:",
        type="search",
        live=SEARCH_PAUSE,
        max_chars=MAX_QUERY_CHARS,
    )
    if query and query.strip():
        st.caption(t_md("sidebar.results_for", query=query.strip()))
        search_results(history, chat_page, query, current)
    else:
        st.caption(t("sidebar.recent"))
        conversation_list(history, chat_page, current)


def close_drawer() -> None:
    """On the run after a conversation is picked: close the sidebar, on a phone only.

    Streamlit closes it by itself only for its own navigation links on a mobile browser; a
    picked conversation is a button. The script clicks the sidebar's own collapse button when
    the window is phone-narrow (where the sidebar covers the chat); a number in it makes every
    pick's copy new, so the browser runs it again.
    """
    picked = st.session_state.get(PICKED)
    if not picked or st.session_state.get(PICKED_DONE) == picked:
        return
    st.session_state[PICKED_DONE] = picked
    with st.container(key="close_drawer"):
        st.html(f"{CLOSE_DRAWER.read_text(encoding='utf-8')}<!-- {int(picked)} -->", unsafe_allow_javascript=True)


def history_style() -> None:
    """The History page's layout rules (pages/_history.css)."""
    st.html(HISTORY_CSS)


def hit_lines(group: ConversationHits) -> list[str]:
    """Markdown lines for a conversation's hits: role and highlighted snippet."""
    lines = []
    if group.title_matched:
        lines.append(f"{t('history.title_match')}: {to_markdown(group.title)}")
    for hit in group.messages:
        role = t(ROLE_KEYS.get(hit.role or "", "history.role_assistant"))
        lines.append(f"**{escape_markdown(role)}:** {to_markdown(hit.snippet)}")
    return lines


def search_results(history: HistoryService, chat_page: st.Page, query: str, current: str | None) -> None:
    groups = history.search(query, limit=30)
    if not groups:
        st.caption(t("sidebar.no_results"))
        return
    for i, group in enumerate(groups):
        title = plain(group.title) or t("sidebar.untitled")
        first = group.messages[0].message_id if group.messages else None
        label = escape_markdown(title)
        key = f"hit_{i}_{group.conversation_id}"
        kind: Literal["primary", "tertiary"] = "primary" if group.conversation_id == current else "tertiary"
        if st.button(label, key=key, type=kind, width="stretch", wrap=False):
            open_conversation(history, chat_page, group.conversation_id, first)
        for line in hit_lines(group)[:2]:
            st.caption(line)
