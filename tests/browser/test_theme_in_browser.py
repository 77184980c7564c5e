"""The theme: light, dark or the system's, chosen in the app's menu (⋮) and remembered by the
browser; the app's own styles follow it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import AppServer, open_app, reload, send_message
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

BACKGROUND = """(testid) => getComputedStyle(document.querySelector(`[data-testid='${testid}']`)).backgroundColor"""
COLOR = """(testid) => getComputedStyle(document.querySelector(`[data-testid='${testid}']`)).color"""


def brightness(page: Page, script: str, testid: str) -> float:
    """0 (black) to 255 (white): the mean of a computed rgb() colour's channels."""
    value: str = page.evaluate(script, testid)
    red, green, blue = (float(v) for v in value[value.index("(") + 1 : value.index(")")].split(",")[:3])
    return (red + green + blue) / 3


def choose(page: Page, theme: str) -> None:
    page.get_by_test_id("stMainMenu").get_by_role("button").click()
    page.get_by_test_id("stThemeSwitcher").get_by_role("menuitemradio", name=theme).click()
    page.keyboard.press("Escape")


def test_the_theme_is_chosen_in_the_menu_and_remembered(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    page.emulate_media(color_scheme="light")
    open_app(page, app_server.url)
    send_message(page, "Hello")
    assert brightness(page, BACKGROUND, "stApp") > 200  # the system's light scheme

    choose(page, "Dark")
    expect(page.get_by_test_id("stApp")).to_have_css("color-scheme", "dark")
    assert brightness(page, BACKGROUND, "stApp") < 60
    assert brightness(page, COLOR, "stChatMessage") > 150  # messages readable on it
    assert brightness(page, BACKGROUND, "stSidebar") < 80

    reload(page)  # remembered by this browser
    assert brightness(page, BACKGROUND, "stApp") < 60

    choose(page, "System")
    assert brightness(page, BACKGROUND, "stApp") > 200
    page.emulate_media(color_scheme="dark")  # the system switches: the app follows
    expect(page.get_by_test_id("stApp")).to_have_css("color-scheme", "dark")
    assert brightness(page, BACKGROUND, "stApp") < 60
    assert page.page_errors == []
