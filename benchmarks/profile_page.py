"""Where a chat page run spends its time: py-spy samples the page script run by AppTest.

    python -m benchmarks.profile_page open|sidebar|send|empty [--runs 10] [--history 1000]

    open     the chat page with a 1,000-message conversation open (?c=<id>)
    sidebar  the chat page, no conversation open, 10,000 conversations stored
    send     one turn in a 1,000-message conversation (Enter → reply streamed)
    empty    the chat page, nothing stored

Prints the wall time per run and the functions (of this project and of Streamlit's element
calls) with the most samples, inclusive and self. Needs py-spy (requirements-dev.txt) and
permission to attach to this process (root, or ptrace_scope 0). ``--pyinstrument`` instead runs
one scenario body under pyinstrument in this thread (AppTest's script thread is not covered).
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import seed_conversation, seed_conversations
from benchmarks.fixtures import history_messages
from tests.stand_in_groq import StandInGroq, make_reply

ROOT = Path(__file__).resolve().parents[1]


def scenario(name: str, data: Path, history: int, conversations: int):  # type: ignore[no-untyped-def]
    """Seed the database; return (AppTest factory, per-run callable)."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init  # as a started server: no pages/ auto-discovery
    query: dict[str, str] = {}
    if name in ("open", "send"):
        query["c"] = seed_conversation(data, history_messages(history))
    elif name == "sidebar":
        seed_conversations(data, conversations)

    def new_app() -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for k, v in query.items():
            at.query_params[k] = v
        return at

    at = new_app()
    at.run()
    counter = [0]

    def once() -> None:
        if name == "send":
            counter[0] += 1
            at.chat_input[0].set_value(f"Question {counter[0]}").run()
        else:
            at.run()
        assert not at.exception, [e.value for e in at.exception]

    return once


def summarise(raw: Path, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or "script_run" not in stack and "exec_func_with_error_handling" not in stack:
            continue  # only the script thread
        n = int(count)
        total += n
        frames = stack.split(";")
        seen = set()
        for frame in frames:
            if frame not in seen:
                inclusive[frame] += n
                seen.add(frame)
        own[frames[-1]] += n
    if not total:
        print("no samples of the script thread")
        return

    def interesting(frame: str) -> bool:
        return any(
            p in frame
            for p in (
                "pages/",
                "chatbot/",
                "app.py",
                "streamlit/elements",
                "streamlit/commands",
                "sqlalchemy/orm/session",
                "alembic",
                "groq/",
                "httpx/",
            )
        )

    print(f"\n{total} samples in the script thread; inclusive share (our code and Streamlit's commands):")
    for frame, n in [(f, n) for f, n in inclusive.most_common() if interesting(f)][:top]:
        print(f"  {100 * n / total:5.1f}%  {frame}")
    print("\nself time, any code:")
    for frame, n in own.most_common(top // 2):
        print(f"  {100 * n / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["open", "sidebar", "send", "empty"])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp,
        StandInGroq(reply=make_reply(300), tokens_per_second=None, limit_tokens=10_000_000) as server,
    ):
        for model in server.models:
            model["context_window"] = max(int(model.get("context_window") or 0), 10_000_000)
        data = Path(tmp) / "data"
        os.environ.update(
            GROQ_CHAT_DATA_DIR=str(data),
            GROQ_CHAT_ENV_FILE=str(Path(tmp) / ".env"),
            GROQ_BASE_URL=server.base_url,
            GROQ_API_KEY=server.api_key,
        )
        os.environ.pop("DATABASE_URL", None)
        once = scenario(args.scenario, data, args.history, args.conversations)
        once()  # warm: imports, caches
        if args.pyinstrument:
            from pyinstrument import Profiler

            with Profiler(interval=0.001) as profiler:
                for _ in range(args.runs):
                    once()
            profiler.print(show_all=False)
            return
        raw = Path(tmp) / "profile.txt"
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(os.getpid()),
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
                "--nolineno",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # py-spy attaches
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            once()
            times.append(time.perf_counter() - started)
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=30)
        times.sort()
        print(
            f"{args.scenario}: {args.runs} runs, median {times[len(times) // 2] * 1000:.0f} ms, "
            f"min {times[0] * 1000:.0f} ms"
        )
        if not raw.exists():
            print(f"py-spy wrote nothing: {err.decode()[-2000:]}", file=sys.stderr)
            return
        summarise(raw, args.top)


if __name__ == "__main__":
    main()
