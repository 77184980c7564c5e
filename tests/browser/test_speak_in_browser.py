"""Replies read aloud in a real browser: the speaker button under a reply has the stand-in's
text-to-speech make its WAV, played by an audio element; a second click costs no request, and a
reply the English voice cannot speak says so instead."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from chatbot import speech
from tests.browser.harness import AppServer, click_and_wait, messages, open_app, send_message
from tests.stand_in_groq import StandInGroq, speech_frames

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

REPLY_TEXT = "Hello there! How can I help?"  # the stand-in's reply as the voice reads it

FETCH = """async (src) => {
  const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
  return [bytes.length, String.fromCharCode(...bytes.slice(0, 4)), String.fromCharCode(...bytes.slice(8, 12))];
}"""


def test_the_speaker_button_reads_a_reply_aloud_once(
    page: Page, app_server_each_db: AppServer, stand_in: StandInGroq
) -> None:
    open_app(page, app_server_each_db.url)  # on SQLite and on PostgreSQL (the clip is kept there)
    send_message(page, "Say hello.")
    reply = messages(page, "assistant").last
    expect(reply.get_by_test_id("stAudio")).to_have_count(0)  # nothing made before a click
    assert stand_in.speech_requests == []

    click_and_wait(page, reply.get_by_role("button", name="Read aloud"))
    player = reply.get_by_test_id("stAudio")
    expect(player).to_have_count(1)
    assert [r["input"] for r in stand_in.speech_requests] == speech.pieces(REPLY_TEXT) == [REPLY_TEXT]
    assert stand_in.speech_requests[0]["voice"] == speech.DEFAULT_VOICE
    assert player.evaluate("el => (el.tagName === 'AUDIO' ? el : el.querySelector('audio')).autoplay") is True
    src = player.evaluate("el => (el.tagName === 'AUDIO' ? el : el.querySelector('audio')).src")
    size, riff, wave_tag = page.evaluate(FETCH, src)
    assert (riff, wave_tag) == ("RIFF", "WAVE")
    assert size == 44 + 2 * speech_frames(REPLY_TEXT)  # one 16-bit mono WAV of all the pieces

    click_and_wait(page, reply.get_by_role("button", name="Read aloud"))  # again: kept, no request
    expect(reply.get_by_test_id("stAudio")).to_have_count(1)
    assert len(stand_in.speech_requests) == 1


def test_a_reply_in_chinese_says_the_voice_cannot_read_it(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.reply = "巴黎是法国的首都，位于塞纳河畔。"
    open_app(page, app_server.url)
    send_message(page, "法国的首都是哪里？")
    reply = messages(page, "assistant").last
    click_and_wait(page, reply.get_by_role("button", name="Read aloud"))
    expect(reply.get_by_test_id("stAlert")).to_contain_text("the voice speaks only English")
    expect(reply.get_by_test_id("stAudio")).to_have_count(0)
    assert stand_in.speech_requests == []
