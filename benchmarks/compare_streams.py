"""Compare mode: four replies of 2,000 tokens, each streamed by the server at 1,000 tokens/s, at once.

    python -m benchmarks.compare_streams [--trials 3] [--tokens 2000] [--rate 1000]

Starts the timed stand-in (its own process), one `streamlit run app.py` and headless Chromium.
Each trial:

- ours, comparing: a fresh page chooses four chat models of the stand-in's catalogue in the
  sidebar and sends one message; timed from Enter to every one of the four columns showing its
  whole reply (every character, checked on each DOM change);
- the baseline: the same four replies asked by four tabs of our single-model chat, their Enter
  keys pressed one right after the other; timed from the first Enter to the last tab showing its
  whole reply.

The server's streaming time of a round is from the first of its four requests reaching the
stand-in to the last token of the four. Target: ours ≤ 1.25 × the server's streaming time.

Where the time went (2026-11-26, websocket messages and cProfile): four streams of one token
per event are 4,000 events a second for the app's process to read, and about 80% of the CPU per
event was the groq SDK building its typed chunk; the streaming threads fell behind the server
(2.26x on a loaded machine). The Groq provider now reads each chunk's JSON through the SDK's
Stream (chatbot/providers/groq_api.py): the app has read all four within a few hundredths of a
second of the server's last token, and what is left is the columns' 0.25 s redraw and the browser.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from playwright.sync_api import Browser, Page, expect

from benchmarks.common import (
    OURS,
    Started,
    TimedStandIn,
    alternating,
    attempt,
    chromium,
    enter_time,
    fmt_s,
    fresh_page,
    machine_load,
    mark,
    median,
    open_app,
    ratio,
    seed_settings,
    side_by_side,
    squash,
    start_streamlit,
    to_epoch,
    wait_for_idle,
    warm_up,
    watch,
    workspace,
)
from benchmarks.report import print_table, record
from tests.browser.harness import chat_input, script_runs, sidebar
from tests.stand_in_groq import make_reply

TARGET = 1.25
WHY = (
    "Missed mostly because the app's process reads the four streams slower than the server sends them on a"
    " busy machine (4,000 events a second, about 80% of each one's CPU in the groq SDK's typed chunk): the row"
    " 'the app has read all four' is that lag; the rest, up to the page showing them, is the next redraw of"
    " the columns (every 0.25 s) and the browser drawing it."
)
# Four distinct chat models of the stand-in's catalogue (tests/stand_in_groq.py DEFAULT_MODELS).
MODELS = ("llama-3.1-8b-instant", "openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3.8-27b")

# Installed before the page's scripts: the first moment each of the main area's columns shows
# its whole reply (``length`` characters, whitespace ignored, ending in ``tail``), and the first
# moment all ``count`` of them do. A column's reply is its chat message's Markdown, not its
# heading, captions or buttons.
COLUMNS_PROBE = """
(() => {
  const c = window.__columns = {marks: {}, all: null};
  const NOT_BODY = "[data-testid='stExpander'], [data-testid='stPopover'], [data-testid='stCaptionContainer'], button";
  const squash = (s) => (s || "").replace(/\\s+/g, "");
  c.watch = (count, length, tail) => {
    c.marks = {}; c.all = null;
    const check = () => {
      const main = document.querySelector("[data-testid='stMainBlockContainer']");
      if (!main) return;
      const columns = main.querySelectorAll("[data-testid='stColumn']");
      columns.forEach((column, i) => {
        if (c.marks[i] !== undefined) return;
        const message = column.querySelector("[data-testid='stChatMessage']");
        if (!message) return;
        let text = "";
        for (const e of message.querySelectorAll("[data-testid='stMarkdownContainer']"))
          if (!e.closest(NOT_BODY)) text += e.textContent;
        text = squash(text);
        if (text.length >= length && text.indexOf(tail, length - tail.length - 8) >= 0) c.marks[i] = performance.now();
      });
      if (Object.keys(c.marks).length >= count) { c.all = performance.now(); obs.disconnect(); }
    };
    const obs = new MutationObserver(check);
    obs.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
  };
})();
"""


def choose_model(page: Page, model: str) -> None:
    """Add ``model`` to the sidebar's models to compare."""
    box = sidebar(page).get_by_test_id("stMultiSelect")
    box.locator("input").click()
    box.locator("input").fill(model)
    option = page.get_by_role("option").filter(has_text=model).first
    expect(option).to_be_visible(timeout=120_000)
    before = script_runs(page)
    option.click()
    wait_for_idle(page, since=before, timeout_ms=120_000)
    page.keyboard.press("Escape")


def server_time(stand_in: TimedStandIn, index: int) -> dict[str, float]:
    """The four streams from ``index`` on: first request, first token, last token."""
    streams = [stand_in.wait_stream(index + i) for i in range(len(MODELS))]
    return {
        "request": min(s["request"] for s in streams),
        "first_token": min(s["first_token"] for s in streams),
        "last_token": max(s["last_token"] for s in streams),
    }


def compared(browser: Browser, app: Started, stand_in: TimedStandIn, reply: str) -> dict[str, float]:
    text = squash(reply)
    with fresh_page(browser, COLUMNS_PROBE) as page:
        open_app(page, app.url)
        for model in MODELS:
            choose_model(page, model)
        index = stand_in.count()
        box = chat_input(page)
        box.click()
        box.fill(f"Four answers at once, please ({time.time():.0f}).")
        page.evaluate("([n, l, t]) => window.__columns.watch(n, l, t)", [len(MODELS), len(text), text[-40:]])
        page.evaluate("() => { window.__bench.enter = null; }")
        before = script_runs(page)
        box.press("Enter")
        page.wait_for_function("() => window.__columns.all !== null", timeout=300_000, polling=100)
        shown = to_epoch(page, page.evaluate("() => window.__columns.all"))
        enter = enter_time(page)
        stream = server_time(stand_in, index)
        wait_for_idle(page, since=before, timeout_ms=120_000)
    return result(shown, enter, stream, saved_at(app))


@contextmanager
def tabs(browser: Browser, count: int) -> Iterator[list[Page]]:
    with ExitStack() as stack:
        yield [stack.enter_context(fresh_page(browser)) for _ in range(count)]


def four_tabs(browser: Browser, app: Started, stand_in: TimedStandIn, reply: str) -> dict[str, float]:
    text = squash(reply)
    with tabs(browser, len(MODELS)) as pages:
        for page in pages:
            open_app(page, app.url)
        index = stand_in.count()
        prompts = [f"One answer, please ({time.time():.0f}, tab {i})." for i in range(len(pages))]
        boxes = []
        for page, prompt in zip(pages, prompts, strict=True):
            box = chat_input(page)
            box.click()
            box.fill(prompt)
            watch(page, "final", "final", squash(prompt), len(text), text[-40:])
            page.evaluate("() => { window.__bench.enter = null; }")
            boxes.append(box)
        befores = [script_runs(page) for page in pages]
        for box in boxes:  # one right after the other, as near to at once as the browser allows
            box.press("Enter")
        shown = max(mark(page, "final") for page in pages)
        enter = min(enter_time(page) for page in pages)
        stream = server_time(stand_in, index)
        for page, before in zip(pages, befores, strict=True):
            wait_for_idle(page, since=before, timeout_ms=120_000)
    return result(shown, enter, stream, saved_at(app))


def saved_at(app: Started) -> float:
    """When the app had read the newest four replies whole: the newest of their final saves
    (a reply is saved, with its ``updated_at``, as its stream's last event is read)."""
    from datetime import UTC

    from sqlalchemy import select

    from chatbot.store.db import open_database
    from chatbot.store.models import Message

    engine, sessions = open_database(f"sqlite:///{app.server.data_dir / 'chat.db'}")
    try:
        deadline = time.monotonic() + 60
        while True:
            with sessions() as s:
                rows = s.execute(
                    select(Message.status, Message.updated_at)
                    .where(Message.role == "assistant")
                    .order_by(Message.created_at.desc())
                    .limit(len(MODELS))
                ).all()
            if all(status != "streaming" for status, _ in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        engine.dispose()
    return max((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() for _, when in rows)


def result(shown: float, enter: float, stream: dict[str, float], read: float) -> dict[str, float]:
    return {
        "page": shown - enter,
        "server": stream["last_token"] - stream["request"],
        "to_request": stream["request"] - enter,
        "after_last": shown - stream["last_token"],
        "app_read": read - stream["last_token"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=1000.0, help="tokens per second of each stream")
    args = parser.parse_args()
    reply = make_reply(args.tokens)
    print(machine_load())
    results: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    trials = {"ours": compared, "baseline": four_tabs}
    with workspace("compare-streams") as tmp, TimedStandIn(args.tokens, args.rate) as stand_in, chromium() as browser:
        # Room for the whole reply under max_completion_tokens, as a user would set it.
        seed_settings(tmp / "ours" / "data", max_tokens=args.tokens + 1000)
        app = start_streamlit(OURS, stand_in, tmp / "ours", name="ours")
        try:
            warm_up(browser, app)
            alternating(
                args.trials,
                ["ours", "baseline"],
                lambda name: attempt(trials[name], browser, app, stand_in, reply),
                results,
            )
        finally:
            app.server.stop()

    def med(name: str, key: str) -> float:
        return median([r[key] for r in results[name]])

    ours_x = med("ours", "page") / med("ours", "server")
    base_x = med("baseline", "page") / med("baseline", "server")
    rows = [
        side_by_side("Enter → all four replies whole on the page", results, "page"),
        side_by_side("server streaming time (first request → last token of the four)", results, "server"),
        ("page time ÷ server streaming time", f"{ours_x:.2f}×", f"{base_x:.2f}×", ratio(ours_x, base_x)),
        (
            "Enter → first request at the server",
            fmt_s(med("ours", "to_request")),
            fmt_s(med("baseline", "to_request")),
            "-",
        ),
        (
            "last token sent → the app has read all four (their final save)",
            fmt_s(med("ours", "app_read")),
            fmt_s(med("baseline", "app_read")),
            "-",
        ),
        (
            "last token sent → all four whole on the page",
            fmt_s(med("ours", "after_last")),
            fmt_s(med("baseline", "after_last")),
            "-",
        ),
    ]
    header = ["figure", "ours (one page comparing 4 models)", "baseline (4 tabs of one-model chat)", "ratio"]
    load = machine_load()
    print(
        f"\n4 × {args.tokens:,} tokens at {args.rate:,.0f} tokens/s each, median of {args.trials} trials each ({load})"
    )
    print_table(header, rows)
    met = ours_x <= TARGET
    print(f"target: ours ≤ {TARGET}× the server's streaming time — {'met' if met else 'MISSED'} ({ours_x:.2f}×)")
    record(
        "compare_streams",
        rows,
        target=f"four replies whole on the page ≤ {TARGET} × the server's streaming time "
        f"(4 × {args.tokens:,} tokens at {args.rate:,.0f} tokens/s each, at once)",
        met=met,
        header=header,
        note=f"Median of {len(results['ours'])} trials of ours and {len(results['baseline'])} of the baseline, "
        f"alternating; models {', '.join(MODELS)}; {load} at the end." + ("" if met else " " + WHY),
    )


if __name__ == "__main__":
    main()
