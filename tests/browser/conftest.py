"""Fixtures for the browser tests: stand-in Groq API, fresh `streamlit run` servers, Chromium.

    stand_in      function  StandInGroq on 127.0.0.1 (its fields, e.g. reply or
                            tokens_per_second, may be changed between requests)
    app_servers   function  factory: app_servers(extra_env=None, extra_args=None) -> AppServer,
                            a *fresh* server process each call (own data dir and .env), all
                            stopped at teardown (terminate, then kill)
    app_server    function  one fresh AppServer for the test
    app_server_each_db  function  the same, once on SQLite and once on PostgreSQL (a fresh
                            database on the session's server, dropped after the test)
    browser       session   (tests/conftest.py) headless /usr/bin/chromium, shared by every test
    page          function  a new browser context + page with the idle tracker installed;
                            page.dialogs / page.page_errors list what the page raised

Helpers (open_app, send_message, wait_for_idle, ...) are in tests/browser/harness.py.
On a failure the report gets each server's log tail (full logs: <tmp_path>/app<N>/streamlit-<port>.log)
and a screenshot (<tmp_path>/failure.png).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.browser.harness import IDLE_TRACKER, REPLY, WAIT_MS, AppServer, start_app_server
from tests.stand_in_groq import StandInGroq


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """On a failure, add the Streamlit logs and a screenshot (taken while the page is alive)."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for server in getattr(item, "_app_servers", []):
            report.sections.append((f"streamlit log ({server.log_path})", server.log()[-6000:]))
        page, shot = getattr(item, "_page", None), getattr(item, "_screenshot", None)
        if page is not None and shot is not None:
            try:
                page.screenshot(path=str(shot), full_page=True)
                report.sections.append(("browser", f"url: {page.url}\nscreenshot: {shot}"))
            except Exception as exc:  # the page may be gone
                report.sections.append(("browser", f"no screenshot: {exc!r}"))
    return report


@pytest.fixture(autouse=True, scope="session")
def _generous_expect() -> None:
    """expect() waits for its condition up to 5 s by default: too short while other processes
    keep the cores busy. It still returns as soon as the condition holds."""
    expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def stand_in() -> Iterator[StandInGroq]:
    server = StandInGroq(reply=REPLY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app_servers(
    stand_in: StandInGroq, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., AppServer]]:
    started: list[AppServer] = []

    def start(extra_env: dict[str, str] | None = None, extra_args: list[str] | None = None) -> AppServer:
        server = start_app_server(stand_in, tmp_path / f"app{len(started)}", extra_env, extra_args)
        started.append(server)
        return server

    request.node._app_servers = started
    yield start
    for server in started:
        server.stop()


@pytest.fixture
def app_server(app_servers: Callable[..., AppServer]) -> AppServer:
    return app_servers()


@pytest.fixture(params=["sqlite", "postgresql"])
def app_server_each_db(request: pytest.FixtureRequest, app_servers: Callable[..., AppServer]) -> Iterator[AppServer]:
    if request.param == "sqlite":
        yield app_servers()
        return
    name, url = request.getfixturevalue("postgres_databases").take()
    try:
        yield app_servers({"DATABASE_URL": url})
    finally:  # the app may still hold connections: the drop ends them
        request.getfixturevalue("postgres_server").drop_database(name)


@pytest.fixture
def page(browser: Browser, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    context.add_init_script(IDLE_TRACKER)
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.page_errors = []  # type: ignore[attr-defined]

    def on_dialog(dialog: Dialog) -> None:
        page.dialogs.append(f"{dialog.type}: {dialog.message}")  # type: ignore[attr-defined]
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: page.page_errors.append(str(error)))  # type: ignore[attr-defined]
    request.node._page, request.node._screenshot = page, tmp_path / "failure.png"
    try:
        yield page
    finally:
        context.close()
