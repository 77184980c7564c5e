"""Batch: many prompts to one or more models; progress while it runs; results as a table and files.

The run itself lives in chatbot.batch (worker threads, every row saved as it completes); this
page only starts, stops and reads it. The open run is in the URL (?run=), so a reload finds it.
"""

import time
from collections.abc import Callable

import streamlit as st

from chatbot import batch_export
from chatbot.batch import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, MAX_MODELS, BatchService, Progress, RowResult
from chatbot.batch_input import MAX_PASTED_CHARS, from_file, from_text
from chatbot.errors import ChatError, InvalidInput, Wait
from chatbot.groq_batch import ACTIVE as GROQ_ACTIVE
from chatbot.groq_batch import GroqBatches
from chatbot.i18n import current_language, set_language, t
from chatbot.providers import groq_client
from chatbot.providers.base import GenerationParams
from pages import _cost
from pages._common import Context, page_context, show_error
from pages._state import BATCH_ERROR, BATCH_REFRESHING

TABLE_ROWS = 1000  # rows drawn in the table; the downloads hold every row
REFRESH_SECONDS = 1.0
GROQ_POLL_SECONDS = 10.0  # Groq's batches take minutes to hours: asked no oftener than this

ctx: Context = page_context()
batches = BatchService(ctx.sessions, ctx.turns.owner, ctx.providers)


def through_groq() -> GroqBatches:
    """Runs sent through Groq's Batch API, with the chat's own SDK client for this key."""
    if not ctx.providers.api_key:
        raise InvalidInput("batch.groq_only")
    client = groq_client(ctx.providers.api_key, ctx.providers.base_url)
    return GroqBatches(ctx.sessions, ctx.turns.owner, client)


st.title(t("batch.title"))
st.caption(t("batch.intro"))
catalogue = ctx.catalogue()
if catalogue.error is not None:
    show_error(catalogue.error)
keys = [m.key for m in catalogue.models]
default = ctx.default_model(catalogue)


def model_label(key: str) -> str:
    info = catalogue.find(key)
    provider = t("provider.groq") if key.startswith("groq:") else t("provider.local")
    return f"{info.id if info else key.partition(':')[2]} · {provider}"


with st.form("batch_new", border=True):
    pasted = st.text_area(t("batch.paste"), max_chars=MAX_PASTED_CHARS, height=150, key="batch_text")
    uploaded = st.file_uploader(t("batch.upload"), type=["csv", "jsonl", "txt"], key="batch_file")
    chosen = st.multiselect(
        t("batch.models"),
        keys,
        default=[default.key] if default else [],
        max_selections=MAX_MODELS,
        format_func=model_label,
        key="batch_models",
    )
    left, middle, right = st.columns(3)
    temperature = left.slider(t("batch.temperature"), 0.0, 2.0, 1.0, 0.1, key="batch_temperature")
    max_tokens = middle.number_input(t("batch.max_tokens"), 0, 131_072, 0, step=256, key="batch_max_tokens")
    concurrency = right.slider(
        t("batch.concurrency"),
        1,
        MAX_CONCURRENCY,
        DEFAULT_CONCURRENCY,
        help=t("batch.concurrency_help"),
        key="batch_concurrency",
    )
    use_groq_batch = st.checkbox(t("batch.groq_api"), help=t("batch.groq_api_help"), key="batch_groq_api")
    submitted = st.form_submit_button(t("batch.run"), type="primary", icon=":material/play_arrow:")

if submitted:
    try:
        if uploaded is not None:
            prompts, name = from_file(uploaded.name, uploaded.getvalue()), uploaded.name
        else:
            prompts = from_text(pasted or "")
            name = t("batch.name_pasted", count=len(prompts))
        params = GenerationParams(temperature=temperature, max_tokens=int(max_tokens) or None)
        run_id = batches.create(name, prompts, chosen, params, int(concurrency))
        st.query_params["run"] = run_id
        if use_groq_batch:
            through_groq().submit(run_id)
        else:
            batches.start(run_id)
    except ChatError as error:
        show_error(error)

try:
    runs = batches.runs()
except ChatError as error:
    show_error(error)
    st.stop()
if not runs:
    st.info(t("batch.none"))
    st.stop()

st.subheader(t("batch.runs"))
by_id = {r.id: r for r in runs}
wanted = st.query_params.get("run")
run_id = st.selectbox(
    t("batch.runs"),
    list(by_id),
    index=list(by_id).index(wanted) if wanted in by_id else 0,
    format_func=lambda i: t(
        "batch.run_label",
        name=by_id[i].name,
        total=by_id[i].total,
        created=by_id[i].created_at.strftime("%Y-%m-%d %H:%M"),
    ),
    label_visibility="collapsed",
    key=f"batch_pick_{wanted}",
)
st.query_params["run"] = run_id


def progress_text(p: Progress) -> str:
    text = t("batch.progress", done=p.done, failed=p.failed, pending=p.pending, total=p.total)
    if p.state == "running" and p.seconds_left is not None:
        text += " · " + t("batch.eta", wait=Wait(round(p.seconds_left)))
    return text


def table(rows: list[RowResult]) -> list[dict[str, object]]:
    return [
        {
            t("batch.col.id"): r.item_id,
            t("batch.col.model"): r.model.partition(":")[2],
            t("batch.col.prompt"): r.prompt,
            t("batch.col.status"): t(f"batch.status.{r.status}"),
            t("batch.col.reply"): r.content,
            t("batch.col.error"): t(r.error.key, **r.error.values) if r.error else None,
            t("batch.col.prompt_tokens"): r.prompt_tokens,
            t("batch.col.completion_tokens"): r.completion_tokens,
            t("batch.col.seconds"): r.seconds,
        }
        for r in rows
    ]


def in_language(render: Callable[[list[RowResult]], bytes], language: str) -> Callable[[], bytes]:
    """The file made when the button is pressed (not on every refresh), its error sentences in
    the page's language: Streamlit calls it outside this script run."""

    def make() -> bytes:
        before = current_language()
        set_language(language)
        try:
            return render(batches.results(run_id))
        finally:
            set_language(before)

    return make


def act(action: Callable[[str], object], run: str) -> None:
    """A button's callback: a refusal (the database busy, ...) is said in the next run."""
    try:
        action(run)
    except ChatError as error:
        BATCH_ERROR.set(error)


def controls(p: Progress) -> None:
    left, middle, right, far = st.columns(4)
    if p.state == "running":
        left.button(
            t("batch.stop"), icon=":material/stop:", on_click=act, args=(batches.stop, run_id), key="batch_stop"
        )
    if p.groq_status in GROQ_ACTIVE:
        left.button(
            t("batch.groq_cancel"),
            icon=":material/cancel:",
            on_click=act,
            args=(lambda run: through_groq().cancel(run), run_id),
            key="batch_groq_cancel",
        )
    elif p.state in ("stopped", "interrupted") and p.pending:
        left.button(
            t("batch.resume"),
            icon=":material/play_arrow:",
            on_click=act,
            args=(batches.start, run_id),
            key="batch_resume",
        )
    if p.failed and p.state not in ("running", "stopping"):
        middle.button(
            t("batch.retry_failed"),
            icon=":material/replay:",
            on_click=act,
            args=(batches.retry_failed, run_id),
            key="batch_retry",
        )
    language = current_language()
    downloads = (
        (right, "batch.download_csv", batch_export.to_csv, "csv", batch_export.CSV_MIME),
        (far, "batch.download_jsonl", batch_export.to_jsonl, "jsonl", batch_export.JSONL_MIME),
    )
    for column, label, render, extension, mime in downloads:
        column.download_button(
            t(label),
            in_language(render, language),
            file_name=f"batch-{run_id[:8]}.{extension}",
            mime=mime,
            on_click="ignore",
            icon=":material/download:",
            key=f"batch_{extension}",
        )


def poll_groq() -> None:
    """Ask Groq how the run's batch is doing, at most every GROQ_POLL_SECONDS."""
    now = time.monotonic()
    last = st.session_state.get(f"batch_groq_polled_{run_id}", 0.0)
    if now - last >= GROQ_POLL_SECONDS:
        st.session_state[f"batch_groq_polled_{run_id}"] = now
        through_groq().poll(run_id)


def show_run() -> None:
    try:
        if batches.progress(run_id).groq_status in GROQ_ACTIVE:
            poll_groq()
        p = batches.progress(run_id)
        rows = batches.results(run_id, limit=TABLE_ROWS)
    except ChatError as error:
        show_error(error)
        return
    failed_action = BATCH_ERROR.pop(None)
    if failed_action is not None:
        show_error(failed_action)
    st.progress(p.fraction, text=progress_text(p))
    if p.groq_status is not None:
        st.caption(t("batch.groq_label", status=t(f"batch.groq.status.{p.groq_status}")))
    else:
        st.caption(t(f"batch.state.{p.state}"))
    if p.waiting >= 1:
        st.caption(t("batch.waiting", seconds=round(p.waiting)))
    _cost.batch_run_cost(run_id)  # priced like replies; counted in the budgets and the Usage page
    if p.error is not None:
        show_error(p.error)
    controls(p)
    st.dataframe(table(rows), hide_index=True, width="stretch")
    if p.total > TABLE_ROWS:
        st.caption(t("batch.table_cut", limit=f"{TABLE_ROWS:,}"))
    if moving_now(p) != BATCH_REFRESHING.get(False):
        # Started, resumed or ended since the page was drawn: a full run sets the refresh anew
        # (a fragment's run_every is fixed when the page draws it).
        st.rerun()


def moving_now(p: Progress) -> bool:
    """Sent here now, or with Groq: the page refreshes by itself."""
    return p.state in ("running", "stopping") or p.groq_status in GROQ_ACTIVE


try:
    moving = moving_now(batches.progress(run_id))
except ChatError as error:
    show_error(error)
    st.stop()
BATCH_REFRESHING.set(moving)
st.fragment(show_run, run_every=REFRESH_SECONDS if moving else None)()

if st.button(t("batch.delete"), icon=":material/delete:", key="batch_delete"):
    batches.delete(run_id)
    del st.query_params["run"]
    st.rerun()
