"""Voice input through the chat input's own microphone, in Chromium with a fake capture device
playing a WAV file: the recording is transcribed by the stand-in's Whisper endpoint, and the
transcript is put in the input to read (the default) or sent at once (a setting)."""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.harness import (
    CHROMIUM,
    IDLE_TRACKER,
    WAIT_MS,
    AppServer,
    attach_files,
    chat_input,
    click_and_wait,
    message_texts,
    microphone_args,
    open_app,
    script_runs,
    wait_for_idle,
    wait_until,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

HEARD = "What is the capital of France?"


def write_wav(path: Path, amplitude: float, seconds: float = 3.0, rate: int = 48_000) -> Path:
    """A mono 16-bit WAV: a 440 Hz tone (silence at amplitude 0), for Chromium's fake microphone."""
    frames = b"".join(
        struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


@contextmanager
def microphone(browser: Browser, wav: Path) -> Iterator[Page]:
    """A page in a Chromium of its own whose microphone plays ``wav`` (the flags are per launch)."""
    launched = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=microphone_args(wav),
    )
    try:
        context = launched.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-US", permissions=["microphone"]
        )
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(IDLE_TRACKER)
        yield context.new_page()
    finally:
        launched.close()


def record(page: Page) -> None:
    """Record about a second through the chat input's microphone and submit it (✓). What the
    page shows then is waited for by each test (a submit whose callback hands text back to the
    input may end without a run the idle tracker counts)."""
    box = page.get_by_test_id("stChatInput")
    box.get_by_test_id("stChatInputMicButton").click()
    expect(box.get_by_test_id("stChatInputWaveform")).to_be_visible()
    # A person speaks for a while: a second of the fake device's sound is in the recording.
    started = page.evaluate("() => performance.now()")
    page.wait_for_function("(t) => performance.now() - t > 1000", arg=started, polling=100)
    box.get_by_test_id("stChatInputApproveButton").click()


def test_a_recording_is_transcribed_into_the_input_then_sent(
    browser: Browser, app_server_each_db: AppServer, stand_in: StandInGroq, tmp_path: Path
) -> None:
    app_server = app_server_each_db
    stand_in.transcript = " " + HEARD  # Whisper's leading space
    with microphone(browser, write_wav(tmp_path / "voice.wav", 0.5)) as page:
        open_app(page, app_server.url)
        chat_input(page).fill("Quick question.")
        record(page)
        # Read first (the default): typed text, then what was heard, in the input; nothing sent.
        expect(chat_input(page)).to_have_value(f"Quick question.\n\n{HEARD}")
        wait_for_idle(page)
        assert stand_in.chat_requests == []
        [heard] = stand_in.audio_requests
        assert heard["model"] == "whisper-large-v3-turbo" and heard["language"] == "en"
        assert heard["filename"].endswith(".wav") and heard["size"] > 16_000  # about a second at 16 kHz

        before = script_runs(page)
        chat_input(page).press("Enter")
        wait_for_idle(page, since=before)
        assert message_texts(page, "user") == [f"Quick question.\n\n{HEARD}"]
        assert stand_in.chat_requests[-1]["json"]["messages"][-1]["content"] == f"Quick question.\n\n{HEARD}"

        # The audio seconds are counted on the Usage page.
        click_and_wait(page, page.get_by_test_id("stTopNavLink").filter(has_text="Usage"))
        expect(page.get_by_test_id("stMetric").filter(has_text="Audio transcribed")).to_contain_text(" s")


def test_a_recording_is_sent_at_once_when_set_so(
    browser: Browser, app_server: AppServer, stand_in: StandInGroq, tmp_path: Path
) -> None:
    stand_in.transcript = " " + HEARD
    with microphone(browser, write_wav(tmp_path / "voice.wav", 0.5)) as page:
        open_app(page, f"{app_server.url}/settings")
        page.get_by_text("Put the transcript in the input to read before sending").click()
        click_and_wait(page, page.get_by_role("button", name="Save settings"))
        click_and_wait(page, page.get_by_test_id("stTopNavLink").filter(has_text="Chat"))
        record(page)
        assert wait_until(lambda: message_texts(page, "user") == [HEARD], page=page), message_texts(page, "user")
        # The question is drawn as soon as it is saved, before Groq is asked: wait for the request.
        assert wait_until(lambda: bool(stand_in.chat_requests), page=page)
        assert stand_in.chat_requests[-1]["json"]["messages"][-1]["content"] == HEARD
        expect(chat_input(page)).to_have_value("")


def test_a_silent_recording_is_refused_before_any_upload_and_the_typed_text_kept(
    browser: Browser, app_server: AppServer, stand_in: StandInGroq, tmp_path: Path
) -> None:
    with microphone(browser, write_wav(tmp_path / "silence.wav", 0.0)) as page:
        open_app(page, app_server.url)
        chat_input(page).fill("Keep me.")
        record(page)
        expect(page.get_by_test_id("stAlert")).to_contain_text("The recording is silent")
        expect(chat_input(page)).to_have_value("Keep me.")
        assert stand_in.audio_requests == [] and stand_in.chat_requests == []


def test_an_attached_audio_file_is_heard_like_a_recording(
    page: Page, app_server: AppServer, stand_in: StandInGroq, tmp_path: Path
) -> None:
    stand_in.transcript = " " + HEARD
    open_app(page, app_server.url)
    wav = write_wav(tmp_path / "question.wav", 0.5, seconds=1.0, rate=16_000).read_bytes()
    attach_files(page, ("question.wav", "audio/wav", wav))
    chat_input(page).fill("From my voice memo:")
    chat_input(page).press("Enter")
    expect(chat_input(page)).to_have_value(f"From my voice memo:\n\n{HEARD}")  # to read first, as recorded
    assert [r["filename"] for r in stand_in.audio_requests] == ["question.wav"]
    assert stand_in.chat_requests == []
