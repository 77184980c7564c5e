"""First token with a 1,000-message conversation open.

    python -m benchmarks.first_token [--trials 5] [--history 1000] [--tokens 300] [--rate 1000]

Ours: the conversation is written into the app's SQLite file before the server starts (bulk
insert through the store) and opened with ?c=<id>. Baseline: BASELINE_HISTORY=1000 preloads the
same messages (benchmarks/fixtures.py) into session state. Each trial opens a fresh page, waits
until it is idle, sends a message and notes when the first reply token shows in the page (the
last assistant message starts with the reply's first words), next to when the stand-in wrote
that token to the socket. Target: on the page within 0.2 s of the server's first token.
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
    fresh_page,
    machine_load,
    mark,
    median,
    open_app,
    seed_conversation,
    send,
    side_by_side,
    squash,
    start_streamlit,
    wait_for_idle,
    watch,
    workspace,
)
from benchmarks.fixtures import history_messages
from benchmarks.report import print_table, record
from tests.stand_in_groq import make_reply

TARGET = 0.2


def trial(browser, url: str, stand_in: TimedStandIn, reply: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    with fresh_page(browser) as page:
        open_app(page, url)
        index = stand_in.count()
        prompt = f"One more question ({time.time():.3f}), please."
        watch(page, "first", "first", squash(prompt), squash(reply)[:20])
        before = send(page, prompt)
        shown = mark(page, "first")
        enter = enter_time(page)
        stream = stand_in.wait_stream(index)
        wait_for_idle(page, since=before, timeout_ms=120_000)
    return {
        "enter_to_page": shown - enter,
        "enter_to_server": stream["first_token"] - enter,
        "server_to_page": shown - stream["first_token"],
        "enter_to_request": stream["request"] - enter,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--history", type=int, default=1000, help="messages in the open conversation")
    parser.add_argument("--tokens", type=int, default=300, help="reply length")
    parser.add_argument("--rate", type=float, default=1000.0, help="tokens per second from the server")
    args = parser.parse_args()
    reply = make_reply(args.tokens)
    print(machine_load())
    results: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    with workspace("first-token") as tmp, TimedStandIn(args.tokens, args.rate) as stand_in, chromium() as browser:
        conversation = seed_conversation(tmp / "ours" / "data", history_messages(args.history))
        apps: dict[str, Started] = {
            "ours": start_streamlit(OURS, stand_in, tmp / "ours", name="ours"),
            "baseline": start_streamlit(
                BASELINE, stand_in, tmp / "baseline", name="baseline", extra_env={"BASELINE_HISTORY": str(args.history)}
            ),
        }
        urls = {"ours": f"{apps['ours'].url}/?c={conversation}", "baseline": apps["baseline"].url}
        try:
            for name in apps:  # the first page load of a server pays for its imports: not measured
                with fresh_page(browser) as page:
                    open_app(page, urls[name])
            alternating(
                args.trials,
                ["ours", "baseline"],
                lambda name: attempt(trial, browser, urls[name], stand_in, reply),
                results,
            )
        finally:
            for app in apps.values():
                app.server.stop()

    def med(name: str, key: str) -> float:
        return median([r[key] for r in results[name]])

    rows = [
        side_by_side("server's first token → on the page", results, "server_to_page"),
        side_by_side("Enter → first token on the page", results, "enter_to_page"),
        side_by_side("Enter → server's first token", results, "enter_to_server"),
        side_by_side("Enter → request reaches the server", results, "enter_to_request"),
    ]
    header = ["figure", "ours", "baseline", "ratio"]
    print(
        f"\n{args.history:,}-message conversation open, {args.tokens} tokens at {args.rate:,.0f} tokens/s, "
        f"median of {args.trials} trials each ({machine_load()})"
    )
    print_table(header, rows)
    worst = max(r["server_to_page"] for r in results["ours"])
    met = med("ours", "server_to_page") <= TARGET
    print(
        f"target: ≤ {TARGET} s after the server's first token — {'met' if met else 'MISSED'} "
        f"(median {med('ours', 'server_to_page'):.3f} s, worst {worst:.3f} s)"
    )
    record(
        "first_token",
        rows,
        target=f"first token on the page ≤ {TARGET} s after the server's first token "
        f"({args.history:,}-message conversation open)",
        met=met,
        header=header,
        note=f"Median of {len(results['ours'])} trials of ours and {len(results['baseline'])} of the baseline, "
        f"alternating ({args.tokens} tokens at {args.rate:,.0f} tokens/s); worst of ours {worst:.3f} s; "
        f"{machine_load()} at the end.",
    )


if __name__ == "__main__":
    main()
