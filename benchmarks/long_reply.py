"""Long replies: an 8,000-token reply streamed by the server at 2,000 tokens/s.

    python -m benchmarks.long_reply [--trials 3] [--tokens 8000] [--rate 2000]

Starts the timed stand-in, `streamlit run app.py` and `streamlit run benchmarks/baseline_app.py`
side by side, and headless Chromium. Each trial opens a fresh page of one app (they alternate),
sends a message and times Enter → the whole reply visible in the page (every character of it in
the last assistant message, checked on each DOM change). The server's streaming time is from
the request reaching it to its last token. Target: ours ≤ 1.15 × the server's streaming time.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import (
    BASELINE,
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
    send,
    side_by_side,
    squash,
    start_streamlit,
    wait_for_idle,
    warm_up,
    watch,
    workspace,
)
from benchmarks.report import print_table, record
from tests.stand_in_groq import make_reply

TARGET = 1.15


def trial(browser, app: Started, stand_in: TimedStandIn, reply: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    text = squash(reply)
    with fresh_page(browser) as page:
        open_app(page, app.url)
        index = stand_in.count()
        prompt = f"Please write a long answer ({time.time():.0f})."
        watch(page, "final", "final", squash(prompt), len(text), text[-40:])
        before = send(page, prompt)
        shown = mark(page, "final")
        enter = enter_time(page)
        stream = stand_in.wait_stream(index)
        wait_for_idle(page, since=before, timeout_ms=120_000)
    return {
        "page": shown - enter,
        "server": stream["last_token"] - stream["request"],
        "to_request": stream["request"] - enter,
        "after_last": shown - stream["last_token"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=8000)
    parser.add_argument("--rate", type=float, default=2000.0, help="tokens per second from the server")
    args = parser.parse_args()
    reply = make_reply(args.tokens)
    print(machine_load())
    results: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    with workspace("long-reply") as tmp, TimedStandIn(args.tokens, args.rate) as stand_in, chromium() as browser:
        # Ours sends max_completion_tokens (1,024 by default): room for the whole reply, as a
        # user would set it on the Settings page. The baseline sends no limit.
        seed_settings(tmp / "ours" / "data", max_tokens=args.tokens + 1000)
        apps = {
            "ours": start_streamlit(OURS, stand_in, tmp / "ours", name="ours"),
            "baseline": start_streamlit(BASELINE, stand_in, tmp / "baseline", name="baseline"),
        }
        try:
            for app in apps.values():
                warm_up(browser, app)
            alternating(
                args.trials,
                ["ours", "baseline"],
                lambda name: attempt(trial, browser, apps[name], stand_in, reply),
                results,
            )
        finally:
            for app in apps.values():
                app.server.stop()

    def med(name: str, key: str) -> float:
        return median([r[key] for r in results[name]])

    ours_x = med("ours", "page") / med("ours", "server")
    base_x = med("baseline", "page") / med("baseline", "server")
    rows = [
        side_by_side("Enter → whole reply visible", results, "page"),
        side_by_side("server streaming time (request → last token)", results, "server"),
        ("page time ÷ server streaming time", f"{ours_x:.2f}×", f"{base_x:.2f}×", ratio(ours_x, base_x)),
        ("Enter → request at the server", fmt_s(med("ours", "to_request")), fmt_s(med("baseline", "to_request")), "-"),
        (
            "last token sent → reply complete on page",
            fmt_s(med("ours", "after_last")),
            fmt_s(med("baseline", "after_last")),
            "-",
        ),
    ]
    header = ["figure", "ours", "baseline", "ratio"]
    print(
        f"\n{args.tokens:,} tokens at {args.rate:,.0f} tokens/s, median of {args.trials} trials each ({machine_load()})"
    )
    print_table(header, rows)
    met = ours_x <= TARGET
    print(f"target: ours ≤ {TARGET}× the server's streaming time — {'met' if met else 'MISSED'} ({ours_x:.2f}×)")
    record(
        "long_reply",
        rows,
        target=f"Enter → whole reply visible ≤ {TARGET} × the server's streaming time "
        f"({args.tokens:,} tokens at {args.rate:,.0f} tokens/s)",
        met=met,
        header=header,
        note=f"Median of {len(results['ours'])} trials of ours and {len(results['baseline'])} of the baseline, "
        f"alternating; {machine_load()} at the end.",
    )


if __name__ == "__main__":
    main()
