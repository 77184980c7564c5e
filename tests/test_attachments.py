"""Files as context: read, refused with a reason, and written into the message within what fits."""

from __future__ import annotations

import re

import pytest

from chatbot.attachments import MAX_FILES, FileText, chars_that_fit, read_file, read_files, with_files
from chatbot.errors import InvalidInput
from chatbot.i18n import set_language, t
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.providers.base import ModelInfo
from tests.pdf_files import pdf

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40)


def refusal(name: str, data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read_file(name, data)
    return caught.value


def test_code_text_and_pdf_are_read_with_their_language() -> None:
    code = read_file("sort.py", b"def f():\r\n    return 1\r\n")
    assert code == FileText("sort.py", "def f():\n    return 1\n", "python")
    assert read_file("notes.MD", "# Überschrift".encode()).language == "markdown"
    assert read_file("bom.txt", "\ufeffhello".encode()).text == "hello"
    assert read_file("wide.txt", "你好".encode("utf-16")).text == "你好"
    assert read_file("paper.pdf", pdf("Groq runs models fast.", "Second page.")).text == (
        "Groq runs models fast.\n\nSecond page."
    )


@pytest.mark.parametrize(
    ("name", "data", "key"),
    [
        ("empty.txt", b"", "files.empty"),
        ("blank.txt", b"  \n ", "files.empty"),
        ("photo.png", PNG, "files.unsupported"),
        ("archive.zip", b"PK\x03\x04", "files.unsupported"),
        ("renamed.txt", PNG, "files.not_text"),  # a picture renamed: its bytes say so
        ("latin1.csv", "café".encode("latin-1"), "files.not_text"),
        ("scan.pdf", pdf(""), "files.pdf_no_text"),
        ("fake.pdf", b"this is no PDF", "files.unreadable"),
        ("cut.pdf", pdf("text")[:60], "files.unreadable"),
        ("huge.txt", b"a" * (5 * 1024 * 1024 + 1), "files.too_large"),
    ],
)
def test_files_that_cannot_be_read_say_why(name: str, data: bytes, key: str) -> None:
    error = refusal(name, data)
    assert error.key == key
    for language in ("en", "zh-CN"):
        set_language(language)
        said = t(error.key, **error.values)
        assert said != error.key and "{" not in said
        if "name" in error.values:
            assert name in said
    set_language("en")


def test_at_most_ten_files_go_with_a_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_files([(f"{i}.txt", b"x") for i in range(MAX_FILES + 1)])
    assert t(caught.value.key, **caught.value.values) == "11 files attached; at most 10 go with one message."


def test_the_message_holds_each_file_under_its_name_in_a_fence_longer_than_its_backticks() -> None:
    files = [FileText("a.py", "print(1)", "python"), FileText("b.md", "```\ncode\n```", "markdown")]
    message = with_files("  Compare these.  ", files, 10_000)
    assert message == (
        "Compare these.\n\na.py\n\n```python\nprint(1)\n```\n\nb.md\n\n````markdown\n```\ncode\n```\n````"
    )
    assert with_files("", files[:1], 10_000) == "a.py\n\n```python\nprint(1)\n```"


def test_files_over_the_limit_say_how_much_fits_and_can_be_cut_to_fit() -> None:
    files = [FileText("short.txt", "keep me whole", ""), FileText("long.txt", "x" * 50_000, "")]
    with pytest.raises(InvalidInput) as caught:
        with_files("Summarise.", files, 10_000)
    values = caught.value.values
    assert values["length"] == 50_013 and 0 < values["fits"] < 10_000 and values["names"] == "short.txt, long.txt"
    cut = with_files("Summarise.", files, 10_000, cut=True)
    assert len(cut) <= 10_000
    assert "keep me whole" in cut  # the short file whole, the long one cut, and the cut said
    kept = max(len(run) for run in re.findall("x+", cut))
    assert f"[long.txt: the first {kept:,} of 50,000 characters]" in cut


def test_what_fits_follows_the_models_context_window() -> None:
    small = ModelInfo("groq", "small", context_window=8_192)
    assert chars_that_fit(small, 1_024) == (8_192 - 1_024) * 3
    assert chars_that_fit(ModelInfo("groq", "big", context_window=131_072), 1_024) == MAX_MESSAGE_CHARS
    assert chars_that_fit(None, 1_024) == MAX_MESSAGE_CHARS
