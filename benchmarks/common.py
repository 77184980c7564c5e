"""What the browser benchmarks share: the timed stand-in, `streamlit run` of ours and of the
baseline, headless Chromium with a probe that timestamps what the page shows.

Every time is wall-clock seconds (``time.time()`` in Python, ``performance.timeOrigin +
performance.now()`` in the page, corrected by a measured offset), so the stand-in's "first token
sent" and the page's "first token shown" compare directly.

Reuses tests/browser/harness.py (launcher, free ports, idle tracking, Chromium settings).
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from benchmarks.report import machine_load
from tests.browser.harness import (
    IDLE_TRACKER,
    AppServer,
    chat_input,
    free_port,
    launched_chromium,
    script_runs,
    streamlit_command,
    wait_for_idle,
)

ROOT = Path(__file__).resolve().parents[1]
OURS = "app.py"
BASELINE = "benchmarks/baseline_app.py"
START_TIMEOUT = 60.0


# --------------------------------------------------------------------------- the stand-in


class TimedStandIn:
    """benchmarks/timed_stand_in.py in a child process; ``streams`` gets one dict per reply,
    ``transcriptions`` one per transcription answered (with ``transcript``: always those words)."""

    def __init__(
        self,
        reply_tokens: int,
        tokens_per_second: float | None = None,
        chunk_tokens: int = 1,
        transcript: str | None = None,
    ) -> None:
        self.reply_tokens = reply_tokens
        self.tokens_per_second = tokens_per_second
        self.chunk_tokens = chunk_tokens
        self.transcript = transcript
        self.streams: list[dict[str, float]] = []
        self.transcriptions: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.api_key = ""

    def start(self) -> TimedStandIn:
        args = [
            sys.executable,
            "-m",
            "benchmarks.timed_stand_in",
            "--reply-tokens",
            str(self.reply_tokens),
            "--chunk-tokens",
            str(self.chunk_tokens),
        ]
        if self.tokens_per_second:
            args += ["--tokens-per-second", str(self.tokens_per_second)]
        if self.transcript is not None:
            args += ["--transcript", self.transcript]
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 3 or line[0] != "READY":
            raise RuntimeError(f"stand-in did not start: {line}")
        self.base_url, self.api_key = line[1], line[2]
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                if isinstance(entry, dict) and entry.get("kind") == "transcription":
                    self.transcriptions.append(entry)
                else:
                    self.streams.append(entry)

    def count(self) -> int:
        with self._lock:
            return len(self.streams)

    def wait_stream(self, index: int, timeout: float = 120.0) -> dict[str, float]:
        """The ``index``-th finished stream (0-based), waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.streams) > index:
                    return self.streams[index]
            time.sleep(0.01)
        raise TimeoutError(f"stream {index} never finished")

    def transcription_count(self) -> int:
        with self._lock:
            return len(self.transcriptions)

    def wait_transcription(self, index: int, timeout: float = 120.0) -> dict[str, Any]:
        """The ``index``-th transcription answered (0-based), waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.transcriptions) > index:
                    return self.transcriptions[index]
            time.sleep(0.01)
        raise TimeoutError(f"transcription {index} never answered")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> TimedStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- streamlit run


@dataclass
class Started:
    server: AppServer
    spawned: float  # time.time() just before Popen
    healthy: float  # time.time() when /_stcore/health first answered "ok"
    name: str = ""

    @property
    def url(self) -> str:
        return self.server.url


def streamlit_env(stand_in: TimedStandIn, workdir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GROQ_API_KEY", "GROQ_BASE_URL")}
    env.update(
        GROQ_BASE_URL=stand_in.base_url,
        GROQ_API_KEY=stand_in.api_key,
        GROQ_CHAT_DATA_DIR=str(workdir / "data"),
        GROQ_CHAT_ENV_FILE=str(workdir / ".env"),
        # The baseline app names no chats: without the extra title request both do the same work.
        GROQ_CHAT_AUTO_TITLE="0",
        PYTHONUNBUFFERED="1",
        **(extra_env or {}),
    )
    return env


def start_streamlit(
    script: str,
    stand_in: TimedStandIn,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    wait: bool = True,
    name: str = "",
) -> Started:
    """`streamlit run <script>` as the browser tests start app.py (own data dir, no secrets).

    Ours runs from the project folder, with its .streamlit/config.toml; any other script (the
    baseline) from its work folder, so it gets Streamlit's defaults, as the tutorial app would.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    secrets = workdir / "secrets.toml"
    secrets.touch()
    env = streamlit_env(stand_in, workdir, extra_env)
    cwd = ROOT
    if script != OURS:
        cwd = workdir
        script = str(ROOT / script)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    port = free_port()
    log_path = workdir / f"streamlit-{port}.log"
    with open(log_path, "wb") as log:
        spawned = time.time()
        process = subprocess.Popen(
            streamlit_command(script, port, secrets),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started = Started(AppServer(port, workdir, log_path, process), spawned, 0.0, name or script)
    if wait:
        wait_healthy(started)
    return started


def wait_healthy(started: Started, poll: float = 0.02) -> float:
    server = started.server
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not server.running():
            break
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    started.healthy = time.time()
                    return started.healthy
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(poll)
    server.stop()
    raise RuntimeError(f"{started.name} did not become healthy; log:\n{server.log()[-4000:]}")


# --------------------------------------------------------------------------- the browser

# Installed before any page script. Timestamps (performance.now(), ms) of: the Enter key in the
# chat input, and the first moment each watched condition holds (checked on every DOM change).
# Optionally keeps every websocket message with its arrival time (Streamlit's ForwardMsgs).
PROBE = """
(() => {
  if (window.__bench) return;
  const b = window.__bench = {enter: null, marks: {}, ws: [], wsOn: false};
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.key === "Enter" && !e.shiftKey && t && t.matches && t.matches("[data-testid='stChatInputTextArea']"))
      b.enter = performance.now();
  }, true);
  const squash = (s) => (s || "").replace(/\\s+/g, "");
  const messages = document.getElementsByClassName("stChatMessage");  // live: cheap to index
  b.lastMessage = (role) => {
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i];
      if (m.closest("[data-testid='stSidebar']")) continue;
      if (!role) return m;
      const avatar = role === "assistant" ? "stChatMessageAvatarAssistant" : "stChatMessageAvatarUser";
      if (m.querySelector(`[data-testid='${avatar}']`)) return m;
    }
    return null;
  };
  // A message's text: its Markdown bodies (a long reply streams into several), not the
  // reasoning, captions, buttons or popovers.
  const NOT_BODY = "[data-testid='stExpander'], [data-testid='stPopover'], [data-testid='stCaptionContainer'], button";
  b.body = (m) => {
    if (!m) return "";
    let text = "";
    for (const e of m.querySelectorAll("[data-testid='stMarkdownContainer']"))
      if (!e.closest(NOT_BODY)) text += e.textContent;
    return text;
  };
  b.inputReady = () => {
    const box = document.querySelector("[data-testid='stChatInputTextArea']");
    return !!box && !box.disabled;
  };
  // The newest assistant message answers the newest user message, which holds `prompt`.
  b.reply = (prompt) => {
    const m = b.lastMessage();
    if (!m || !m.querySelector("[data-testid='stChatMessageAvatarAssistant']")) return null;
    const question = b.lastMessage("user");
    if (!question || !squash(question.textContent).includes(prompt)) return null;
    if (question.compareDocumentPosition(m) & Node.DOCUMENT_POSITION_PRECEDING) return null;
    return squash(b.body(m));
  };
  const predicates = {
    // The reply to `prompt` has begun: it starts with `prefix` (whitespace ignored).
    first: ([prompt, prefix]) => (b.reply(prompt) || "").startsWith(prefix),
    // The reply to `prompt` is whole: `length` characters, ending in `tail`.
    final: ([prompt, length, tail]) => {
      const text = b.reply(prompt) || "";
      return text.length >= length && text.indexOf(tail, length - tail.length - 8) >= 0;
    },
    // The chat input can be typed into and the last message shows `snippet`, on screen
    // (the page opened scrolled to it).
    loaded: ([snippet]) => {
      const m = b.lastMessage();
      if (!b.inputReady() || !m || !squash(m.textContent).includes(snippet)) return false;
      const box = m.getBoundingClientRect();
      return box.bottom > 0 && box.top < window.innerHeight;
    },
    input: () => b.inputReady(),
    inputShown: () => !!document.querySelector("[data-testid='stChatInputTextArea']"),
    lastShown: ([snippet]) => squash(b.lastMessage() ? b.lastMessage().textContent : "").includes(snippet),
    messages: ([n]) => messages.length >= n,
  };
  b.watch = (name, kind, args) => {
    delete b.marks[name];
    const test = () => { try { return predicates[kind](args || []); } catch (e) { return false; } };
    if (test()) { b.marks[name] = performance.now(); return; }
    const check = () => {
      if (b.marks[name] === undefined && test()) {
        b.marks[name] = performance.now();
        obs.disconnect();
        document.removeEventListener("scroll", check, true);
      }
    };
    const obs = new MutationObserver(check);
    obs.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
    document.addEventListener("scroll", check, true);  // scrolling changes what is on screen, not the DOM
  };
  const Original = window.WebSocket;
  window.WebSocket = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => { if (b.wsOn) b.ws.push([performance.now(), e.data]); });
    }
  };
})();
"""


def squash(text: str) -> str:
    return "".join(text.split())


chromium = launched_chromium  # one headless Chromium, launched as the browser tests do


@contextmanager
def fresh_page(browser: Browser, init_script: str = "") -> Iterator[Page]:
    context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(120_000)
    context.add_init_script(IDLE_TRACKER)
    context.add_init_script(PROBE)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def open_app(page: Page, url: str, timeout_ms: int = 180_000) -> None:
    """Load ``url`` and wait until the app is idle (the harness's open_app, with room for a
    1,000-message baseline page on a busy machine)."""
    page.goto(url, timeout=timeout_ms)
    page.get_by_test_id("stAppViewContainer").wait_for(timeout=timeout_ms)
    wait_for_idle(page, timeout_ms=timeout_ms)


def clock_offset(page: Page) -> float:
    """page epoch - time.time(), from the round trip with the smallest delay."""
    best: tuple[float, float] | None = None
    for _ in range(7):
        before = time.time()
        page_ms = page.evaluate("() => performance.timeOrigin + performance.now()")
        after = time.time()
        if best is None or after - before < best[0]:
            best = (after - before, page_ms / 1000 - (before + after) / 2)
    assert best is not None
    return best[1]


def to_epoch(page: Page, mark_ms: float) -> float:
    """A performance.now() value of the page as time.time() seconds."""
    origin = page.evaluate("() => performance.timeOrigin")
    return (origin + mark_ms) / 1000 - clock_offset_cached(page)


def clock_offset_cached(page: Page) -> float:
    offset = getattr(page, "_bench_offset", None)
    if offset is None:
        offset = clock_offset(page)
        page._bench_offset = offset  # type: ignore[attr-defined]
    return offset


def watch(page: Page, name: str, kind: str, *args: object) -> None:
    page.evaluate("([n, k, a]) => window.__bench.watch(n, k, a)", [name, kind, list(args)])


def mark(page: Page, name: str, timeout: float = 300.0) -> float:
    """When the watched condition ``name`` first held, as time.time() seconds."""
    try:
        page.wait_for_function(
            "n => window.__bench.marks[n] !== undefined", arg=name, timeout=timeout * 1000, polling=100
        )
    except Exception:
        seen = page.evaluate(
            """() => { const b = window.__bench; const m = b.lastMessage(); const u = b.lastMessage("user");
                 const app = document.querySelector("[data-testid='stApp']");
                 return {connection: app && app.getAttribute("data-test-connection-state"),
                         script: app && app.getAttribute("data-test-script-state"),
                         last: m ? m.textContent.slice(0, 200) : null, user: u ? u.textContent.slice(0, 200) : null,
                         assistant_chars: b.body(b.lastMessage("assistant")).replace(/\\s+/g, "").length}; }"""
        )
        raise TimeoutError(f"{name!r} never held; the page shows {seen}") from None
    return to_epoch(page, page.evaluate("n => window.__bench.marks[n]", name))


def enter_time(page: Page) -> float:
    value = page.evaluate("() => window.__bench.enter")
    assert value is not None, "the Enter key was not seen"
    return to_epoch(page, value)


def send(page: Page, text: str) -> int:
    """Type into the chat input and press Enter; returns the script-run count before."""
    before = script_runs(page)
    box = chat_input(page)
    box.click()
    box.fill(text)
    page.evaluate("() => { window.__bench.enter = null; }")
    box.press("Enter")
    return before


def forward_messages(page: Page) -> list[tuple[float, Any]]:
    """Websocket messages kept since ``window.__bench.wsOn = true``: (time.time(), ForwardMsg)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    raw = page.evaluate(
        """() => window.__bench.ws.map(([t, d]) => {
             const bytes = new Uint8Array(d); let s = "";
             for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
             return [t, btoa(s)];
           })"""
    )
    origin = page.evaluate("() => performance.timeOrigin")
    offset = clock_offset_cached(page)
    out = []
    for t, data in raw:
        try:
            out.append(((origin + t) / 1000 - offset, ForwardMsg.FromString(base64.b64decode(data))))
        except Exception:
            continue
    return out


# --------------------------------------------------------------------------- server-side runs


class ScriptSession:
    """A Streamlit session over a raw websocket, no browser: run the page, time each run.

    The run time is from the ForwardMsg that starts a run (new_session) to the one that ends it
    (script_finished), as they arrive on loopback: the server's own time, without a browser
    busy drawing and late to read its messages.
    """

    def __init__(self, url: str, query_string: str = "") -> None:
        from websockets.sync.client import connect

        self.query_string = query_string
        self._ws = connect(
            url.replace("http://", "ws://") + "/_stcore/stream",
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=60,
        )

    def run(self, timeout: float = 120.0) -> float:
        """Rerun the page until a run finishes normally (not cut short for a rerun); its time."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = self.query_string
        self._ws.send(msg.SerializeToString())
        started: float | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            forward = ForwardMsg.FromString(self._ws.recv(timeout=timeout))
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                started = time.time()
            elif kind == "script_finished" and started is not None:
                if forward.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    return time.time() - started
                started = None  # stopped for a rerun (st.rerun): the next run counts
        raise TimeoutError("no script run finished")

    def close(self) -> None:
        self._ws.close()


# --------------------------------------------------------------------------- our database


def seed_conversation(data_dir: Path, messages: Sequence[dict[str, str]], title: str = "Benchmark") -> str:
    """A conversation holding ``messages`` in the app's SQLite file (bulk insert); its id."""
    from sqlalchemy import insert

    from chatbot.store import repo
    from chatbot.store.db import open_database
    from chatbot.store.models import Message, new_id, utcnow

    engine, sessions = open_database(f"sqlite:///{data_dir / 'chat.db'}")
    start = utcnow() - timedelta(hours=1)
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-20b", title=title)
        rows, parent = [], None
        for i, m in enumerate(messages):
            mid = new_id()
            when = start + timedelta(milliseconds=i)
            rows.append(
                {
                    "id": mid,
                    "conversation_id": conv.id,
                    "parent_id": parent,
                    "role": m["role"],
                    "content": m["content"],
                    "status": "complete",
                    "provider": "groq",
                    "model": "openai/gpt-oss-20b",
                    "created_at": when,
                    "updated_at": when,
                }
            )
            parent = mid
        if rows:
            s.execute(insert(Message), rows)
        conv.current_message_id = parent
        conv.updated_at = utcnow()
        cid = conv.id
    engine.dispose()
    return cid


def seed_settings(data_dir: Path, **fields: Any) -> None:
    """Save settings as the Settings page would (e.g. max_tokens for a long reply)."""
    from chatbot.preferences import Preferences
    from chatbot.settings import AppSettings
    from chatbot.store.db import open_database

    engine, sessions = open_database(f"sqlite:///{data_dir / 'chat.db'}")
    Preferences(sessions).save_settings(AppSettings(**fields))
    engine.dispose()


def seed_conversations(data_dir: Path, count: int) -> None:
    """``count`` small conversations (two messages each), spread over the last year."""
    import random

    from sqlalchemy import insert

    from chatbot.store.db import open_database
    from chatbot.store.models import Conversation, Message, new_id, utcnow

    rng = random.Random(3)
    engine, sessions = open_database(f"sqlite:///{data_dir / 'chat.db'}")
    now = utcnow()
    for start in range(0, count, 1000):
        conversations, messages = [], []
        for i in range(start, min(count, start + 1000)):
            cid = new_id()
            when = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
            conversations.append(
                {
                    "id": cid,
                    "owner": "",
                    "title": f"Conversation {i}",
                    "provider": "groq",
                    "model": "openai/gpt-oss-20b",
                    "params": {},
                    "created_at": when,
                    "updated_at": when,
                }
            )
            q, a = new_id(), new_id()
            messages.append(
                {
                    "id": q,
                    "conversation_id": cid,
                    "parent_id": None,
                    "role": "user",
                    "content": f"Question {i}",
                    "status": "complete",
                    "created_at": when,
                    "updated_at": when,
                }
            )
            messages.append(
                {
                    "id": a,
                    "conversation_id": cid,
                    "parent_id": q,
                    "role": "assistant",
                    "content": f"Answer {i}",
                    "status": "complete",
                    "created_at": when + timedelta(seconds=1),
                    "updated_at": when + timedelta(seconds=1),
                }
            )
        with sessions.begin() as s:
            s.execute(insert(Conversation), conversations)
            s.execute(insert(Message), messages)
    engine.dispose()


# --------------------------------------------------------------------------- figures


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_s(value: float) -> str:
    return f"{value:.2f} s"


def fmt_ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}" if baseline else "n/a"


def side_by_side(
    label: str,
    results: Mapping[str, Sequence[Mapping[str, float]]],
    key: str,
    pick: Callable[[Sequence[float]], float] = median,
    fmt: Callable[[float], str] = fmt_s,
) -> tuple[str, str, str, str]:
    """A table row: ``key``'s figure (the median of the trials, or ``pick``) for ours and for the
    baseline, and their ratio."""
    ours = pick([r[key] for r in results["ours"]])
    baseline = pick([r[key] for r in results["baseline"]])
    return label, fmt(ours), fmt(baseline), ratio(ours, baseline)


def attempt(trial: Callable[..., dict[str, float]], *args: Any, tries: int = 2) -> dict[str, float] | None:
    """Run a trial; one that times out (a busy machine can leave a page minutes behind) is
    reported and tried again, then left out of the figures."""
    for left in range(tries - 1, -1, -1):
        try:
            return trial(*args)
        except (TimeoutError, PlaywrightTimeout) as error:
            print(f"  trial timed out ({error}); {'again' if left else 'left out'}", flush=True)
    return None


def alternating(
    trials: int,
    names: Sequence[str],
    run: Callable[[str], dict[str, float] | None],
    results: dict[str, list[dict[str, float]]],
) -> None:
    """Run each side ``trials`` times, the order reversed every other trial (neither side always
    meets the machine first); print and keep each result, leaving out one that timed out."""
    for i in range(trials):
        for name in names if i % 2 == 0 else list(reversed(names)):
            result = run(name)
            if result is None:
                continue
            results[name].append(result)
            print(f"  trial {i + 1} {name:8} " + "  ".join(f"{k} {v:.3f}" for k, v in result.items()), flush=True)


@contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-") as tmp:
        yield Path(tmp)


@dataclass
class Servers:
    """Both apps against one stand-in; stopped together."""

    stand_in: TimedStandIn
    ours: Started
    baseline: Started
    extra: list[Started] = field(default_factory=list)

    def stop(self) -> None:
        for s in (self.ours, self.baseline, *self.extra):
            s.server.stop()
        self.stand_in.stop()


def warm_up(browser: Browser, started: Started) -> None:
    """One page load, so the first measured one does not pay for first-run imports."""
    with fresh_page(browser) as page:
        open_app(page, started.url)


__all__ = [
    "attempt",
    "BASELINE",
    "OURS",
    "ROOT",
    "Servers",
    "Started",
    "TimedStandIn",
    "chromium",
    "enter_time",
    "fmt_ms",
    "fmt_s",
    "forward_messages",
    "fresh_page",
    "machine_load",
    "mark",
    "median",
    "open_app",
    "ratio",
    "ScriptSession",
    "seed_conversation",
    "seed_conversations",
    "seed_settings",
    "send",
    "squash",
    "start_streamlit",
    "wait_for_idle",
    "wait_healthy",
    "warm_up",
    "watch",
    "workspace",
]
