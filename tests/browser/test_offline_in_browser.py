"""With no network, the app works and the page asks nothing of any host but the app's own server:
no font or icon CDN (the favicon ships with the app), no analytics."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.harness import (
    AppServer,
    click_and_wait,
    conversation_id,
    keyed,
    message_texts,
    open_app,
    send_message,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS


def go_to(page: Page, title: str) -> None:
    click_and_wait(page, page.get_by_test_id("stTopNavLink").filter(has_text=title))


def test_offline_every_request_goes_to_the_app_server(page: Page, app_server: AppServer, stand_in: StandInGroq) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda socket: requested.append(socket.url))

    def no_network(route: Route) -> None:  # what a machine without a network does, seen by the page
        if is_local(route.request.url):
            route.fallback()
        else:
            route.abort("internetdisconnected")

    page.context.route("**/*", no_network)
    open_app(page, app_server.url)

    # Chat: a reply streams in and the conversation is listed in the sidebar.
    send_message(page, "Hello offline")
    assert message_texts(page) == ["Hello offline", "Hello there! How can I help?"]
    cid = conversation_id(page)
    assert cid
    entry = keyed(page, f"open_{cid}").get_by_role("button")
    expect(entry).to_be_visible()
    click_and_wait(page, keyed(page, "new_chat").get_by_role("button"))
    click_and_wait(page, entry)
    assert message_texts(page) == ["Hello offline", "Hello there! How can I help?"]

    # The other pages draw, each with its icons and fonts.
    for title in ("Settings", "History", "Models", "Chat"):
        go_to(page, title)
        expect(page.locator("[data-testid='stTopNavLink'][aria-current='page']")).to_contain_text(title)

    # The favicon is the app's own file: Chromium does not report favicon loads as requests.
    icons = page.locator("link[rel~='icon']").evaluate_all("links => links.map(l => l.href)")
    assert icons, "no favicon link in the page"
    assert all(is_local(href) for href in icons), f"the favicon comes from elsewhere: {icons}"

    assert requested, "no request was seen at all"
    elsewhere = sorted({url for url in requested if not is_local(url)})
    assert elsewhere == [], f"requests that leave the machine: {elsewhere}"
    assert all(urlsplit(url).port == app_server.port for url in requested if urlsplit(url).hostname), requested
    assert page.page_errors == []
