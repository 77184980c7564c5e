"""History: search and filter every conversation, act on several at once, export, import."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from chatbot import exporting
from chatbot.errors import ChatError
from chatbot.history import ConversationFilter, ConversationSummary, HistoryService
from chatbot.i18n import t, t_md
from chatbot.importing import FORMAT_KEYS, LEFT_OUT_KEYS, ImportReport, ReportItem, Upload
from chatbot.importing.sources import MB
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.search.snippets import escape_markdown, plain
from pages import _conversations
from pages._common import Context, page_context, show_error
from pages._state import HISTORY_PAGES, HISTORY_VIEW, IMPORT_GENERATION, IMPORT_RESULT

PAGE_SIZE = 50
STATUS = {"active": False, "archived": True, "all": None}
STATUS_KEYS = {"active": "history.status_active", "archived": "history.status_archived", "all": "history.status_all"}
FORMAT_LABELS = {"json": "JSON", "md": "Markdown", "txt": "Text", "csv": "CSV", "html": "HTML"}
ACTION_KEYS = {"new": "import.action_new", "update": "import.action_update", "skip": "import.action_skip"}

ctx: Context = page_context()
history: HistoryService = ctx.history
zone = _conversations.user_zone()

st.title(t("history.title"))

# --- search and filters ---------------------------------------------------------------------
query = (
    st.text_input(t("history.search"), key="history_query", icon=":material/search:", help=t("history.search_help"))
    or ""
)
_conversations.history_style()  # the selection bar stays in view (see pages/_history.css)
# Collapsed: on a phone four filters filled the first screen and pushed the results below it.
# Two a row: a quarter of the width cut the date range's placeholder.
filter_box = st.expander(t("history.filters"), icon=":material/filter_list:")
c_model, c_tag = filter_box.columns(2)
c_dates, c_status = filter_box.columns(2)
model = c_model.selectbox(
    t("history.filter_model"),
    [None, *history.models_used()],
    key="history_model",
    format_func=lambda m: m or t("history.any"),
)
tag = c_tag.selectbox(
    t("history.filter_tag"),
    [None, *history.all_tags()],
    key="history_tag",
    format_func=lambda m: m or t("history.any"),
)
dates = c_dates.date_input(t("history.filter_dates"), value=[], key="history_dates")
status = c_status.selectbox(
    t("history.filter_status"), list(STATUS), key="history_status", format_func=lambda s: t(STATUS_KEYS[s])
)


def _import_counts(report: ImportReport) -> dict[str, str]:
    """The counts of an import sentence, each with its noun in the plural form that fits."""
    return {
        "new": t("import.new_conversations", count=len(report.new)),
        "updated": t("import.conversations", count=len(report.updated)),
        "messages": t("import.messages", count=report.message_count),
    }


def _start_of(day: date) -> datetime:
    """The user's local midnight as UTC: "between" means the user's calendar days."""
    return datetime.combine(day, time.min, zone).astimezone(UTC)


picked = list(dates) if isinstance(dates, (list, tuple)) else [dates]
filters = ConversationFilter(
    archived=STATUS[status],
    pinned=None,
    model=model,
    tag=tag,
    updated_from=_start_of(picked[0]) if picked else None,
    updated_before=_start_of(picked[-1] + timedelta(days=1)) if picked else None,
)

# A new search or filter starts again at the first page.
view = (query.strip(), filters)
if HISTORY_VIEW.get(None) != view:
    HISTORY_VIEW.set(view)
    HISTORY_PAGES.set(1)

# --- what is listed ---------------------------------------------------------------------------
rows: list[tuple[str, str, list[str], str | None]] = []  # id, title, hit lines, message to open
summaries: dict[str, ConversationSummary] = {}
counts: dict[str, int] = {}
more = False
if query.strip():
    groups = history.search(query, filters, limit=100)
    st.caption(t("history.results", count=len(groups)))
    for group in groups:
        first = group.messages[0].message_id if group.messages else None
        rows.append((group.conversation_id, plain(group.title), _conversations.hit_lines(group), first))
    summaries = history.summaries([cid for cid, *_ in rows])
else:
    page = history.pages(HISTORY_PAGES.get(1), filters, limit=PAGE_SIZE)
    st.caption(t("history.count", count=history.count(filters)))
    counts = history.message_counts([c.id for c in page.items])
    for s in page.items:
        summaries[s.id] = s
        rows.append((s.id, s.title, [], None))
    more = page.next_cursor is not None

shown = [cid for cid, *_ in rows]
selected = [cid for cid in shown if st.session_state.get(f"pick_{cid}")]


def _select(ids: list[str], value: bool) -> None:
    for cid in ids:
        st.session_state[f"pick_{cid}"] = value


# --- acting on the selection ----------------------------------------------------------------
with st.container(border=True, key="bulk_bar"):
    count, pick_all, pick_none = st.columns([2, 1, 1], vertical_alignment="center")
    count.caption(t("history.selected", count=len(selected)))
    pick_all.button(
        t("history.select_all"),
        key="select_all",
        on_click=_select,
        args=(shown, True),
        type="tertiary",
        width="stretch",
    )
    pick_none.button(
        t("history.select_none"),
        key="select_none",
        on_click=_select,
        args=(shown, False),
        type="tertiary",
        width="stretch",
    )
    act, delete_col, fmt_col, export_col = st.columns(4, vertical_alignment="bottom")
    if status != "archived" and act.button(
        t("history.archive"), key="bulk_archive", icon=":material/archive:", disabled=not selected, width="stretch"
    ):
        st.toast(t("history.archived_done", count=history.set_archived(selected, True)))
        _select(selected, False)
        st.rerun()
    if status != "active" and act.button(
        t("history.unarchive"),
        key="bulk_unarchive",
        icon=":material/unarchive:",
        disabled=not selected,
        width="stretch",
    ):
        st.toast(t("history.unarchived_done", count=history.set_archived(selected, False)))
        _select(selected, False)
        st.rerun()
    if delete_col.button(
        t("history.delete"), key="bulk_delete", icon=":material/delete:", disabled=not selected, width="stretch"
    ):
        titles = [summaries[cid].title for cid in selected if cid in summaries]
        history.delete(selected)
        _conversations.remember_deleted(selected, titles[0] if len(titles) == 1 else None)
        _select(selected, False)
        st.rerun()
    fmt = fmt_col.selectbox(
        t("history.export_format"), list(FORMAT_LABELS), key="export_format", format_func=FORMAT_LABELS.__getitem__
    )
    first_title = summaries[selected[0]].title if selected and selected[0] in summaries else ""
    chosen = list(selected)
    export_col.download_button(
        t("history.export_selected"),
        lambda: history.export(chosen, fmt).data,
        file_name=exporting.planned_name(len(chosen), first_title, fmt),
        icon=":material/download:",
        disabled=not selected,
        on_click="ignore",
        key="bulk_export",
        width="stretch",
    )

# --- the list -------------------------------------------------------------------------------
if not rows:
    st.info(t_md("history.no_results", query=query.strip()) if query.strip() else t("history.no_conversations"))
for cid, title, lines, message_id in rows:
    summary = summaries.get(cid)
    with st.container(border=True):
        pick, body, action = st.columns([0.06, 0.76, 0.18], vertical_alignment="center")
        pick.checkbox(t("history.select"), key=f"pick_{cid}", label_visibility="collapsed")
        body.markdown(f"**{escape_markdown(title) or t('sidebar.untitled')}**")
        if summary is not None:
            facts = [f"{summary.updated_at.astimezone(zone):%Y-%m-%d %H:%M}", summary.model]
            if not query.strip():
                facts.append(t("history.messages", count=counts.get(cid, 0)))
            if summary.pinned:
                facts.append(t("history.pinned_badge"))
            if summary.archived:
                facts.append(t("history.archived_badge"))
            facts += [f"#{tag_}" for tag_ in summary.tags]
            body.caption(escape_markdown(" · ".join(f for f in facts if f)))
        for line in lines:
            body.markdown(line)
        if action.button(t("history.open"), key=f"go_{cid}", icon=":material/open_in_new:"):
            _conversations.open_conversation(history, "pages/chat.py", cid, message_id)
if more and st.button(t("sidebar.load_more"), key="history_more", icon=":material/expand_more:"):
    HISTORY_PAGES.set(HISTORY_PAGES.get(1) + 1)
    st.rerun()

st.divider()

# --- everything, and import -----------------------------------------------------------------
st.download_button(
    t("history.export_everything"),
    lambda: history.export_everything().data,
    file_name=exporting.everything_name(),
    mime="application/zip",
    icon=":material/folder_zip:",
    on_click="ignore",
    key="export_everything",
    help=t("history.export_help"),
)


def _why(item: ReportItem) -> str:
    said = [t(item.reason, **item.reason_values)] if item.reason else []
    return "; ".join(said + [t(key, **values) for key, values in item.notes])


def _report_table(report: ImportReport) -> None:
    st.dataframe(
        [
            {
                t("import.col_title"): item.title or t("sidebar.untitled"),
                t("import.col_action"): t(ACTION_KEYS[item.action]),
                t("import.col_messages"): item.messages,
                t("import.col_reason"): _why(item),
            }
            for item in report.items
        ],
        hide_index=True,
    )
    details = [t(LEFT_OUT_KEYS.get(reason, "import.left_other"), count=n) for reason, n in report.left_out.items() if n]
    if report.parts_dropped:
        details.append(t("import.parts_dropped", count=report.parts_dropped))
    if details:
        st.caption(t("import.left_out", details="; ".join(details)))
    if report.cut:
        st.caption(t("import.cut", count=report.cut, limit=MAX_MESSAGE_CHARS))
    if report.duplicates:
        st.caption(t("import.duplicates", count=report.duplicates))


with st.expander(t("import.title"), icon=":material/upload_file:", expanded=bool(IMPORT_RESULT.get(None))):
    st.caption(t("import.help_sources", limit=history.limits.max_upload_bytes // MB))
    result: ImportReport | None = IMPORT_RESULT.get(None)
    if result is not None:
        if result.new or result.updated:
            st.success(
                t("import.done", **_import_counts(result)),
                icon=":material/check_circle:",
            )
        else:
            st.warning(t("import.nothing"), icon=":material/info:")
        _report_table(result)
    generation = IMPORT_GENERATION.setdefault(0)
    files = st.file_uploader(
        t("import.files"),
        type=["json", "zip"],
        accept_multiple_files=True,
        key=f"import_files_{generation}",
        max_upload_size=history.limits.max_upload_bytes // MB,
    )
    if files:
        IMPORT_RESULT.set(None)
        uploads = [Upload(f.name, f.getvalue()) for f in files]
        try:
            preview = history.preview_import(uploads)
        except ChatError as error:
            show_error(error)
        else:
            st.caption(" · ".join(t(FORMAT_KEYS[f]) for f in preview.formats))
            st.write(t("import.preview", skipped=len(preview.skipped), **_import_counts(preview)))
            _report_table(preview)
            if st.button(
                t("import.run"),
                type="primary",
                icon=":material/upload:",
                key="import_run",
                disabled=not (preview.new or preview.updated),
            ):
                bar = st.progress(0.0, text=t("import.progress", written=0, total=preview.message_count))

                def _progress(written: int, total: int) -> None:
                    bar.progress(written / max(total, 1), text=t("import.progress", written=written, total=total))

                try:
                    done = history.import_uploads(uploads, _progress)
                except ChatError as error:
                    show_error(error)
                else:
                    IMPORT_RESULT.set(done)
                    IMPORT_GENERATION.set(generation + 1)  # empties the uploader
                    st.rerun()
