"""What the browser tests drive: a `streamlit run app.py` process and a page of it in Chromium.

Kept out of conftest.py so tests can import the types and helpers; the fixtures live there.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot.store.db import make_engine
from chatbot.store.models import Message
from tests.stand_in_groq import StandInGroq

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def microphone_args(wav: Path) -> list[str]:
    """Chromium's flags for a microphone that plays ``wav`` and needs no permission prompt."""
    return [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Headless Debian Chromium (Playwright's own browser download does not work here).
    Only one per process: Playwright's sync API keeps its event loop while it is open."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


REPLY = "Hello **there**! How can I help?"  # what the stand-in answers unless a test changes it

# Deadlines, not durations: every wait returns as soon as its condition holds. They are this
# generous because the suite must pass while other processes keep both cores busy, where a
# step that takes a second on a quiet machine can take twenty; a step slower than this is stuck.
START_TIMEOUT = 120.0  # seconds for `streamlit run` to answer /_stcore/health
WAIT_MS = 90_000  # one step in the page: a script run, a streamed reply, an element to appear

# Runs in the child before Streamlit: ask the kernel for SIGTERM when the test process dies
# (PR_SET_PDEATHSIG survives exec), so a killed pytest never leaves a server holding a port.
LAUNCHER = """\
import ctypes, os, signal, sys
parent = int(sys.argv[1])
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() != parent:
    sys.exit(1)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def with_title(title: str, reply: str) -> Callable[[dict[str, Any]], str]:
    """A stand-in reply that answers the app's title request (chatbot.history.TITLE_PROMPT is
    its system prompt) with ``title`` and every other request with ``reply``."""
    from chatbot.history import TITLE_PROMPT

    def answer(body: dict[str, Any]) -> str:
        messages = body.get("messages") or [{}]
        return title if messages[0].get("content") == TITLE_PROMPT else reply

    return answer


def streamlit_command(script: str, port: int, secrets: Path, extra_args: list[str] | None = None) -> list[str]:
    """`streamlit run <script>` on 127.0.0.1:<port> under LAUNCHER (stopped with this process),
    headless, without usage stats or file watching, reading secrets only from ``secrets``."""
    return [
        sys.executable,
        "-c",
        LAUNCHER,
        str(os.getpid()),
        "-m",
        "streamlit",
        "run",
        script,
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--secrets.files",
        str(secrets),
        *(extra_args or []),
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    """One `streamlit run app.py` process on 127.0.0.1, with its own data dir and .env path."""

    port: int
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut: nothing of the app gets to clean up."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_app_server(
    stand_in: StandInGroq,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> AppServer:
    """Start a fresh server and wait for /_stcore/health; retries on a port taken meanwhile."""
    workdir.mkdir(parents=True, exist_ok=True)
    secrets = workdir / "secrets.toml"  # not the developer's .streamlit/secrets.toml (keys, [auth])
    secrets.touch()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GROQ_API_KEY", "GROQ_BASE_URL")}
    env.update(
        GROQ_BASE_URL=stand_in.base_url,
        GROQ_API_KEY=stand_in.api_key,
        GROQ_CHAT_DATA_DIR=str(workdir / "data"),
        GROQ_CHAT_ENV_FILE=str(workdir / ".env"),
        PYTHONUNBUFFERED="1",
        **(extra_env or {}),
    )
    last_error = ""
    for _ in range(3):  # another process may take the free port before Streamlit binds it
        port = free_port()
        log_path = workdir / f"streamlit-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                streamlit_command("app.py", port, secrets, extra_args),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = AppServer(port, workdir, log_path, process)
        if _wait_healthy(server):
            return server
        server.stop()
        last_error = server.log()
        if "already in use" not in last_error:
            break
    raise RuntimeError(f"streamlit did not become healthy within {START_TIMEOUT:.0f} s; log:\n{last_error[-4000:]}")


def _wait_healthy(server: AppServer) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not server.running():
            return False
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- in the page

# Installed before any page script: counts finished script runs and notes when anything last
# changed, so waits can tell "this run is over" from "no run has started yet".
#
# Runs are counted from the server's messages (a ForwardMsg whose script_finished is set, read
# off the websocket), not from stApp's data-test-script-state: React may draw a short run's
# "running" and "notRunning" in one commit, so the attribute never changes and such a run (a
# page switch, on a busy machine) would never be counted. The attribute still tells whether a
# run is going on now.
IDLE_TRACKER = """
(() => {
  if (window.__st) return;
  const st = window.__st = {runs: 0, msgs: 0, mark: null, seen: [], state: null, changed: performance.now()};
  const SCRIPT_FINISHED = 6, EARLY_FOR_RERUN = 2;  // ForwardMsg field and status (ForwardMsg.proto)
  // Whether a ForwardMsg ends a script run: its top-level fields only, nothing decoded.
  const endsRun = (bytes) => {
    let i = 0;
    const varint = () => {
      let value = 0, shift = 0, byte;
      do {
        byte = bytes[i++];
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte & 0x80 && i < bytes.length);
      return value;
    };
    while (i < bytes.length) {
      const key = varint(), field = Math.floor(key / 8), wire = key % 8;
      if (wire === 0) { const value = varint(); if (field === SCRIPT_FINISHED) return value !== EARLY_FOR_RERUN; }
      else if (wire === 2) { const length = varint(); i += length; }  // `i += varint()` would read i first
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return false;
    }
    return false;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        st.changed = performance.now();
        st.msgs += 1;
        const bytes = event.data instanceof ArrayBuffer ? new Uint8Array(event.data) : null;
        const ends = !!bytes && endsRun(bytes);
        if (ends) st.runs += 1;
        st.seen.push((bytes && bytes.length ? bytes[0] >> 3 : -1) + (ends ? "*" : ""));  // for failure messages
        if (st.seen.length > 40) st.seen.shift();
      });
    }
  };
  new MutationObserver(() => {
    const app = document.querySelector("[data-testid='stApp']");
    const state = app ? app.getAttribute("data-test-script-state") : null;
    if (state !== st.state) {
      st.state = state;
      st.changed = performance.now();
    }
  }).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["data-test-script-state"]});
})();
"""

# Records the text of every navigation link ever put in the DOM (top bar, sidebar, overflow menu).
NAV_RECORDER = """
(() => {
  if (window.__navSeen) return;
  const seen = window.__navSeen = [];
  const keys = new Set();
  const selector = [
    "[data-testid='stTopNavLink']", "[data-testid='stTopNavDropdownLink']",
    "[data-testid='stSidebarNavLink']", "[data-testid='stSidebarNav'] a",
  ].join(",");
  const note = (el) => {
    const text = (el.textContent || "").trim();
    const labelled = el.querySelector("[data-testid='stMarkdownContainer'], [label]");
    const label = labelled ? (labelled.getAttribute("label") || labelled.textContent || "").trim() : text;
    const key = el.getAttribute("data-testid") + "|" + label + "|" + text + "|" + (el.getAttribute("href") || "");
    if (!keys.has(key)) {
      keys.add(key);
      seen.push({testid: el.getAttribute("data-testid"), label, text, href: el.getAttribute("href")});
    }
  };
  // Added nodes are looked at even if React removed them again before this callback ran.
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        if (node.matches(selector)) note(node);
        node.querySelectorAll(selector).forEach(note);
        const link = node.closest && node.closest(selector);
        if (link) note(link);
      }
      const target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const link = target && target.closest && target.closest(selector);
      if (link) note(link);
    }
  }).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""

# Idle: connected, no run going on, nothing new for `settle` ms, and a run ended after the
# `since`-th. Or, when no ended run was counted although the server did answer the action
# (messages arrived after script_runs() marked the count; seen on busy machines after a chat
# input submit), the same with a longer quiet period: no run can be going on while the page
# says "notRunning" and nothing arrives for that long.
_IDLE = """
([since, settle]) => {
  const st = window.__st;
  const app = document.querySelector("[data-testid='stApp']");
  if (!st || !app || app.getAttribute("data-test-connection-state") !== "CONNECTED") return false;
  if (st.state !== "notRunning" || document.querySelector("[data-testid='stSkeleton']")) return false;
  const quiet = performance.now() - st.changed;
  if (st.runs > since) return quiet >= settle;
  return st.mark !== null && st.msgs > st.mark && quiet >= Math.max(settle, 2000);
}
"""


def script_runs(page: Page) -> int:
    """The number of finished runs so far (the `since` of a wait for the action about to be
    taken); it also marks how many messages the server had sent, for _IDLE's second case."""
    return int(page.evaluate("() => { const st = window.__st; if (!st) return 0; st.mark = st.msgs; return st.runs; }"))


def wait_for_idle(page: Page, since: int = 0, settle_ms: int = 300, timeout_ms: int = WAIT_MS) -> None:
    """Wait until a script run after the `since`-th has finished and nothing ran for settle_ms.

    `stApp[data-test-script-state=notRunning]`, connected, no `stSkeleton` left (as in
    Streamlit's own e2e `wait_for_app_run`), plus a quiet period that covers st.rerun() chains.
    """
    try:
        page.wait_for_function(_IDLE, arg=[since, settle_ms], timeout=timeout_ms, polling=50)
    except PlaywrightTimeoutError as timeout:
        raise TimeoutError(f"the app did not go idle after run {since}: {_idle_state(page)}") from timeout


def _idle_state(page: Page) -> str:
    """What the idle wait saw last, for the failure message."""
    try:
        return str(page.evaluate(_IDLE_STATE))
    except PlaywrightError as error:
        return f"(page not readable: {error})"


_IDLE_STATE = """() => {
  const st = window.__st || {};
  const app = document.querySelector("[data-testid='stApp']");
  return {
    runs: st.runs, msgs: st.msgs, mark: st.mark, seen: (st.seen || []).join(" "),
    state: st.state, quietMs: Math.round(performance.now() - st.changed),
    connection: app && app.getAttribute("data-test-connection-state"),
    scriptState: app && app.getAttribute("data-test-script-state"),
    skeletons: document.querySelectorAll("[data-testid='stSkeleton']").length,
  };
}"""


def open_app(page: Page, url: str) -> None:
    page.goto(url, timeout=WAIT_MS)
    page.get_by_test_id("stAppViewContainer").wait_for(timeout=WAIT_MS)
    wait_for_idle(page)


def reload(page: Page) -> None:
    page.reload(timeout=WAIT_MS)
    page.get_by_test_id("stAppViewContainer").wait_for(timeout=WAIT_MS)
    wait_for_idle(page)


def nav_labels(page: Page) -> list[str]:
    """The labels of the navigation links shown now (top bar and sidebar), in order."""
    links = page.locator("[data-testid='stTopNavLink'], [data-testid='stSidebarNavLink']")
    return [t.strip() for t in links.get_by_test_id("stMarkdownContainer").all_inner_texts()]


def nav_links_seen(page: Page) -> list[dict[str, str]]:
    """Every navigation link NAV_RECORDER saw since the page loaded: testid, label, text, href."""
    return page.evaluate("() => window.__navSeen || null") or []


def attach_files(page: Page, *files: tuple[str, str, bytes]) -> None:
    """Attach (name, MIME type, bytes) files in the chat input and wait until each is uploaded:
    Enter while a chip still spins sends nothing, which a busy machine makes likely."""
    box = page.get_by_test_id("stChatInput")
    box.locator("[data-testid='stChatInputFileUploadButton'] input[type='file']").set_input_files(
        [{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in files]
    )
    expect(box.get_by_test_id("stFileChip")).to_have_count(len(files))
    expect(box.get_by_test_id("stFileChipIconSpinner")).to_have_count(0)


def chat_input(page: Page) -> Locator:
    return page.get_by_test_id("stChatInputTextArea")


def type_message(page: Page, text: str) -> int:
    """Type into the chat input and press Enter; returns the run count before, for wait_for_idle."""
    before = script_runs(page)
    box = chat_input(page)
    box.click()
    box.fill(text)
    box.press("Enter")
    return before


def send_message(page: Page, text: str, timeout_ms: int = WAIT_MS) -> None:
    """Send a message and wait until the reply has streamed and the app is idle again."""
    before = type_message(page, text)
    wait_for_idle(page, since=before, timeout_ms=timeout_ms)


def messages(page: Page, role: str | None = None) -> Locator:
    """`stChatMessage`s, optionally only the "user" or "assistant" ones (by their avatar)."""
    found = page.get_by_test_id("stMainBlockContainer").get_by_test_id("stChatMessage")
    if role is None:
        return found
    avatar = {"user": "stChatMessageAvatarUser", "assistant": "stChatMessageAvatarAssistant"}[role]
    return found.filter(has=page.get_by_test_id(avatar))


_BODY = """els => els.map(m => {
  const body = [...m.querySelectorAll("[data-testid='stMarkdownContainer']")]
    .find(e => !e.closest("[data-testid='stExpander'], [data-testid='stPopover'], button"));
  return body ? body.innerText.trim() : "";
})"""


def message_texts(page: Page, role: str | None = None) -> list[str]:
    """Each message's text: its first Markdown body (not reasoning, captions or buttons)."""
    return messages(page, role).evaluate_all(_BODY)


def wait_for_streamed_text(page: Page, min_chars: int, timeout_ms: int = WAIT_MS) -> None:
    """Wait until the last assistant message shows at least min_chars of text (mid-stream)."""
    page.wait_for_function(
        f"""min => {{
          const all = [...document.querySelectorAll("[data-testid='stChatMessage']")]
            .filter(m => m.querySelector("[data-testid='stChatMessageAvatarAssistant']"));
          if (!all.length) return false;
          return ({_BODY})([all[all.length - 1]])[0].length >= min;
        }}""",
        arg=min_chars,
        timeout=timeout_ms,
    )


def message_captions(page: Page, role: str | None = None) -> list[list[str]]:
    """Each message's captions (status, usage line, ...)."""
    return messages(page, role).evaluate_all(
        "els => els.map(m => [...m.querySelectorAll(\"[data-testid='stCaptionContainer']\")]"
        ".map(e => e.innerText.trim()))"
    )


def conversation_id(page: Page) -> str | None:
    values = parse_qs(urlsplit(page.url).query).get("c")
    return values[0] if values else None


def sidebar(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar")


def keyed(page: Page, key: str) -> Locator:
    """The element of a widget created with key=...: Streamlit gives it CSS class st-key-<key>."""
    return page.locator(f".st-key-{re.sub(r'[^A-Za-z0-9_-]', '-', key)}")


# How long an action may go without the server sending anything before it is taken again.
NO_ANSWER_MS = 30_000
_ANSWERED = "() => { const st = window.__st; return !st || st.msgs > st.mark; }"


def _act_and_wait(page: Page, act: Callable[[], None], timeout_ms: int) -> None:
    """Take an action that starts a script run, then wait for that run to end.

    Under stress-ng, a click on the idle History page's Import button once got no answer at
    all: not one message from the server in 90 s, so no run had started. An action the server
    has not answered has done nothing, so it is taken once more; an answered one never is.
    """
    before = script_runs(page)
    act()
    try:
        page.wait_for_function(_ANSWERED, timeout=NO_ANSWER_MS, polling=100)
    except PlaywrightTimeoutError:
        act()
    wait_for_idle(page, since=before, timeout_ms=timeout_ms)


def click_and_wait(page: Page, target: Locator, timeout_ms: int = WAIT_MS) -> None:
    _act_and_wait(page, target.click, timeout_ms)


def press_and_wait(page: Page, target: Locator, key: str, timeout_ms: int = WAIT_MS) -> None:
    """Press ``key`` in ``target`` and wait for the run it starts (as click_and_wait for a click)."""
    _act_and_wait(page, lambda: target.press(key), timeout_ms)


def wait_until(condition: Callable[[], bool], timeout_ms: int = WAIT_MS, page: Page | None = None) -> bool:
    """Poll ``condition()`` (a check made from Python: the database, the stand-in, what the page
    shows) until it holds; False if it still does not at the deadline. With ``page`` the pauses
    between checks go through Playwright, so the page's events keep being handled."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)
    return True


@contextmanager
def database(url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on an app server's database (its schema already made by the app), to check what
    it saved while the page runs."""
    engine = make_engine(url)
    try:
        yield sessionmaker(engine)
    finally:
        engine.dispose()


def newest_reply(sessions: sessionmaker[Session], conversation_id: str) -> tuple[str, str] | None:
    """(status, content) of the conversation's newest saved assistant message, None before one."""
    with sessions() as s:
        row = s.execute(
            select(Message.status, Message.content)
            .where(Message.conversation_id == conversation_id, Message.role == "assistant")
            .order_by(Message.created_at.desc())
            .limit(1)
        ).first()
    return (row[0], row[1]) if row else None


class ForwardMessages:
    """Every ForwardMsg the server sends to this page (Streamlit's websocket protocol), decoded."""

    def __init__(self, page: Page) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._decode = ForwardMsg.FromString
        self.raw: list[bytes] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: bytes | str) -> None:
        if isinstance(payload, (bytes, bytearray)):
            self.raw.append(bytes(payload))

    def messages(self) -> list:  # list[ForwardMsg]
        out = []
        for data in self.raw:
            try:
                out.append(self._decode(data))
            except Exception:  # not a ForwardMsg (should not happen); ignore rather than guess
                continue
        return out

    def navigations(self) -> list[list[str]]:
        """The page titles of each navigation message, in the order received."""
        return [
            [p.page_name for p in m.navigation.app_pages]
            for m in self.messages()
            if m.WhichOneof("type") == "navigation"
        ]
