"""A recording's transcript reaching the chat input.

    python -m benchmarks.transcription_to_input [--trials 5] [--seconds 1]

Chromium's fake microphone plays a WAV (a tone). Each trial opens a fresh page, records about a
second through the chat input's microphone and approves it (✓). The stand-in, in its own process
(benchmarks/timed_stand_in.py), notes when it wrote the transcription's answer to the socket; the
page notes when the chat input's textarea first holds the transcript (polled, since a value set
by React changes nothing a MutationObserver sees). Ours: pages/chat.py's on_submit through
chatbot/voice.py, into the input to read (the default setting). Baseline:
benchmarks/baseline_voice_app.py, the smallest app doing the same with the groq SDK and session
state. Target: in the input within 0.3 s of the stand-in's answer.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from benchmarks.common import (
    OURS,
    Started,
    TimedStandIn,
    alternating,
    attempt,
    fmt_ms,
    fresh_page,
    machine_load,
    mark,
    median,
    open_app,
    side_by_side,
    squash,
    start_streamlit,
    to_epoch,
    wait_for_idle,
    workspace,
)
from benchmarks.report import print_table, record
from tests.browser.harness import CHROMIUM, microphone_args
from tests.browser.test_voice_in_browser import write_wav

TARGET = 0.3
BASELINE_VOICE = "benchmarks/baseline_voice_app.py"
HEARD = "What is the capital of France?"

# After common.PROBE: when ✓ was clicked, and `watchInput`, which marks the first moment the
# chat input's textarea holds `wanted` (whitespace ignored). Polled every 4 ms as well as on DOM
# changes: React sets a textarea's value as a property, which no mutation reports.
INPUT_WATCH = """
(() => {
  const b = window.__bench;
  b.approve = null;
  document.addEventListener("click", (e) => {
    const t = e.target;
    if (t && t.closest && t.closest("[data-testid='stChatInputApproveButton']")) b.approve = performance.now();
  }, true);
  const squash = (s) => (s || "").replace(/\\s+/g, "");
  b.watchInput = (name, wanted) => {
    delete b.marks[name];
    const holds = () => {
      const box = document.querySelector("[data-testid='stChatInputTextArea']");
      return !!box && squash(box.value).includes(wanted);
    };
    let timer = null;
    const check = () => {
      if (b.marks[name] === undefined && holds()) {
        b.marks[name] = performance.now();
        obs.disconnect();
        clearInterval(timer);
      }
    };
    const obs = new MutationObserver(check);
    obs.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
    timer = setInterval(check, 4);
    check();
  };
})();
"""


@contextmanager
def microphone_chromium(wav: Path) -> Iterator[Browser]:
    """Headless Chromium whose microphone plays ``wav`` (the flags are per launch)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=microphone_args(wav),
        )
        try:
            yield browser
        finally:
            browser.close()


def speak(page: Page, seconds: float) -> None:
    """Record ``seconds`` of the fake microphone's sound in the chat input, then click ✓."""
    box = page.get_by_test_id("stChatInput")
    box.get_by_test_id("stChatInputMicButton").click()
    box.get_by_test_id("stChatInputWaveform").wait_for()
    started = page.evaluate("() => performance.now()")
    page.wait_for_function("([t, ms]) => performance.now() - t > ms", arg=[started, seconds * 1000], polling=50)
    box.get_by_test_id("stChatInputApproveButton").click()


def trial(browser: Browser, url: str, stand_in: TimedStandIn, seconds: float) -> dict[str, float]:
    with fresh_page(browser, INPUT_WATCH) as page:
        page.context.grant_permissions(["microphone"])
        open_app(page, url)
        index = stand_in.transcription_count()
        page.evaluate("([n, w]) => window.__bench.watchInput(n, w)", ["heard", squash(HEARD)])
        speak(page, seconds)
        shown = mark(page, "heard", timeout=120.0)
        answer = stand_in.wait_transcription(index)
        if answer.get("status") != 200:
            raise RuntimeError(f"the stand-in refused the recording: {answer}")
        value = page.get_by_test_id("stChatInputTextArea").input_value()
        if value != HEARD:
            raise RuntimeError(f"the input holds {value!r}, not the transcript {HEARD!r}")
        approve_ms = page.evaluate("() => window.__bench.approve")
        if approve_ms is None:
            raise RuntimeError("the click on ✓ was not seen")
        approve = to_epoch(page, approve_ms)
        wait_for_idle(page, timeout_ms=120_000)
    return {
        "answer_to_input": shown - answer["answered"],
        "approve_to_input": shown - approve,
        "approve_to_request": answer["request"] - approve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each recording")
    args = parser.parse_args()
    print(machine_load())
    results: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    with workspace("transcription") as tmp, TimedStandIn(20, transcript=HEARD) as stand_in:
        wav = write_wav(tmp / "voice.wav", 0.5)
        apps: dict[str, Started] = {
            "ours": start_streamlit(OURS, stand_in, tmp / "ours", name="ours"),
            "baseline": start_streamlit(BASELINE_VOICE, stand_in, tmp / "baseline", name="baseline"),
        }
        try:
            with microphone_chromium(wav) as browser:
                # The first transcription of a server pays for its imports and its first
                # connection to the stand-in: one each, not measured.
                for name, app in apps.items():
                    if attempt(trial, browser, app.url, stand_in, args.seconds) is None:
                        raise RuntimeError(f"{name}: no transcription reached the input")
                alternating(
                    args.trials,
                    ["ours", "baseline"],
                    lambda name: attempt(trial, browser, apps[name].url, stand_in, args.seconds),
                    results,
                )
        finally:
            for app in apps.values():
                app.server.stop()

    def med(name: str, key: str) -> float:
        return median([r[key] for r in results[name]])

    def worst(name: str, key: str) -> float:
        return max((r[key] for r in results[name]), default=float("nan"))

    rows = [
        side_by_side("stand-in's answer → transcript in the input (median)", results, "answer_to_input", fmt=fmt_ms),
        side_by_side(
            "stand-in's answer → transcript in the input (worst)", results, "answer_to_input", pick=max, fmt=fmt_ms
        ),
        side_by_side("✓ → transcript in the input (median)", results, "approve_to_input", fmt=fmt_ms),
        side_by_side("✓ → recording reaches the stand-in (median)", results, "approve_to_request", fmt=fmt_ms),
    ]
    header = ["figure", "ours", "baseline", "ratio"]
    print(
        f"\n{args.seconds:g} s recordings, {len(results['ours'])} trials of ours and "
        f"{len(results['baseline'])} of the baseline ({machine_load()})"
    )
    print_table(header, rows)
    ours_median, ours_worst = med("ours", "answer_to_input"), worst("ours", "answer_to_input")
    met = ours_median <= TARGET
    print(
        f"target: ≤ {TARGET} s after the stand-in's answer — {'met' if met else 'MISSED'} "
        f"(median {ours_median:.3f} s, worst {ours_worst:.3f} s)"
    )
    record(
        "transcription_to_input",
        rows,
        target=f"a recording's transcript in the chat input ≤ {TARGET} s after the stand-in's answer (median)",
        met=met,
        header=header,
        note=f"Median and worst of {len(results['ours'])} trials of ours and {len(results['baseline'])} of the "
        f"baseline (benchmarks/baseline_voice_app.py), alternating, each a fresh page recording {args.seconds:g} s "
        f"from Chromium's fake microphone, after one unmeasured transcription per server; worst of ours "
        f"{ours_worst:.3f} s; {machine_load()} at the end.",
    )


if __name__ == "__main__":
    main()
