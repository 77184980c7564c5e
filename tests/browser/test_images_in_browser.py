"""Images attached in the chat input: on a text-only model the app says so and sends with a
model that sees images in one click (the text and the picture kept); the stand-in receives the
photo as a data URL under Groq's limits, without its EXIF; the thumbnail is drawn under the
question and is still there after a reload; a file named .png that is not one is refused."""

from __future__ import annotations

import base64
import io
import random

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.harness import AppServer, attach_files, chat_input, open_app, reload, wait_for_idle, wait_until
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def phone_photo() -> bytes:
    """A 3,000 x 2,000 JPEG with photo-like noise and a GPS position in its EXIF."""
    rng = random.Random(5)
    small = Image.new("RGB", (94, 63))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(94 * 63)])
    photo = Image.blend(
        small.resize((3000, 2000), Image.Resampling.BICUBIC), Image.effect_noise((3000, 2000), 40).convert("RGB"), 0.3
    )
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def send(page: Page, text: str) -> None:
    chat_input(page).fill(text)
    expect(page.get_by_test_id("stChatInputSubmitButton")).to_be_enabled()
    chat_input(page).press("Enter")


def test_an_attached_photo_reaches_the_vision_model_and_its_thumbnail_survives_a_reload(
    page: Page, app_server_each_db: AppServer, stand_in: StandInGroq
) -> None:
    photo = phone_photo()
    open_app(page, app_server_each_db.url)  # on SQLite and on PostgreSQL
    attach_files(page, ("holiday.jpg", "image/jpeg", photo))
    send(page, "What is in this photo?")
    # The model in use reads text only: said, with the text kept and one click to a model that sees.
    expect(page.get_by_test_id("stAlert")).to_contain_text("does not see images")
    expect(chat_input(page)).to_have_value("What is in this photo?")
    assert stand_in.chat_requests == []
    page.get_by_role("button", name="Send with qwen/qwen3.8-27b").click()
    assert wait_until(lambda: bool(stand_in.image_requests), page=page)
    wait_for_idle(page)
    request = stand_in.chat_requests[-1]["json"]
    assert request["model"] == "qwen/qwen3.8-27b"
    content = request["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "What is in this photo?"}
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,") and len(url) < 4 * 1024 * 1024
    sent = base64.b64decode(url.split(",", 1)[1])
    assert len(sent) < len(photo) and b"PhoneMaker" not in sent  # downscaled, EXIF gone
    seen = stand_in.image_requests[-1]["images"][0]
    assert max(seen["width"], seen["height"]) <= 2048 and stand_in.image_requests[-1]["status"] == 200
    expect(chat_input(page)).to_have_value("")
    question = page.get_by_test_id("stChatMessage").filter(has_text="What is in this photo?")
    expect(question.get_by_test_id("stImage")).to_have_count(1)

    reload(page)  # read back from the database
    question = page.get_by_test_id("stChatMessage").filter(has_text="What is in this photo?")
    expect(question.get_by_test_id("stImage")).to_have_count(1)
    thumbnail = question.get_by_test_id("stImage").locator("img")
    assert wait_until(lambda: thumbnail.evaluate("img => img.complete && img.naturalWidth > 0"), page=page)
    assert thumbnail.evaluate("img => img.naturalWidth") <= 256
    question.get_by_role("button", name="Open full size").click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog.get_by_test_id("stImage")).to_have_count(1)
    full = dialog.get_by_test_id("stImage").locator("img")
    assert wait_until(lambda: full.evaluate("img => img.complete && img.naturalWidth > 256"), page=page)
    expect(dialog).to_contain_text("holiday.jpg")


def test_a_file_named_png_that_is_not_one_is_refused_and_the_text_kept(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    open_app(page, app_server.url)
    attach_files(page, ("chart.png", "image/png", b"name,value\nA,1\nB,2\n"))
    send(page, "Explain the chart")
    expect(page.get_by_test_id("stAlert")).to_contain_text("is not a PNG, JPEG, WebP or GIF image")
    expect(chat_input(page)).to_have_value("Explain the chart")
    assert stand_in.chat_requests == []
