"""Markdown drawn from messages, reasoning and values never loads an image from a URL.

The oracle is markdown-it-py (CommonMark, plus GFM tables and strikethrough and dollar math,
as Streamlit's renderer has them): whatever it reads as an image in our output would be an
``<img>`` in the browser. tests/browser/test_remote_images_in_browser.py checks the real
renderer.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

from chatbot.safe_markdown import StreamedText, escape_markdown, safe_markdown

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(dollarmath_plugin)
URL = "http://127.0.0.1:9/leak?d=secret"


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pending = MD.parse(text)
    while pending:
        token = pending.pop(0)
        out.append(token)
        pending[:0] = token.children or []
    return out


def images(text: str) -> list[str]:
    return [str(t.attrGet("src")) for t in tokens(text) if t.type == "image"]


def code(text: str) -> list[str]:
    return [t.content for t in tokens(text) if t.type in ("code_inline", "fence")]


def drawn_text(text: str) -> str:
    """What a reader sees, roughly: the text of every inline token and code."""
    return "".join(t.content for t in tokens(text) if t.type in ("text", "code_inline", "fence", "image"))


# ------------------------------------------------------------------------- examples

IMAGE_FORMS = [
    f"![t]({URL})",
    f"look: ![t]({URL}) here",
    f"![t][r]\n\n[r]: {URL}",
    f"![r]\n\n[r]: {URL}",
    f"![r][]\n\n[r]: {URL}",
    f"[![t]({URL})](http://example.com)",
    f"[![t][r]](http://example.com)\n\n[r]: {URL}",
    f"![t](<{URL}> 'title')",
    f"![t](\n{URL})",
    f"- item ![t]({URL})",
    f"> quote ![t]({URL})",
    f"| a | b |\n|---|---|\n| ![t]({URL}) | x |",
    f"# heading ![t]({URL})",
    f"**bold ![t]({URL})**",
    f"\\\\![t]({URL})",  # an escaped backslash, then a real image
    f"`a\\`![t]({URL})",  # the backslash is in code, the image is not
    f"`x` ![t]({URL}) `y`",
]


@pytest.mark.parametrize("text", IMAGE_FORMS)
def test_every_image_form_is_shown_as_a_link_not_loaded(text: str) -> None:
    assert images(text), "the example should be an image before"
    safe = safe_markdown(text)
    assert images(safe) == []
    assert "t" in drawn_text(safe) or "r" in drawn_text(safe)  # the alt text is still shown


def test_an_image_becomes_a_link_with_its_alt_text() -> None:
    safe = safe_markdown(f"see ![the chart]({URL})")
    assert safe == f"see \\![the chart]({URL})"
    links = [t for t in tokens(safe) if t.type == "link_open"]
    assert [link.attrGet("href") for link in links] == [URL]


CODE_KEPT = [
    f"`![t]({URL})`",
    f"use ``![t]({URL})`` in Markdown",
    f"```\n![t]({URL})\n```",
    f"```markdown\n![t]({URL})\n\n[r]: x\n```\nafter",
    f"~~~\n![t]({URL})\n~~~",
    f"````\n```\n![t]({URL})\n```\n````",
    f"text before\n```\n![t]({URL})\n```",
]


@pytest.mark.parametrize("text", CODE_KEPT)
def test_code_is_kept_exactly_as_written(text: str) -> None:
    safe = safe_markdown(text)
    assert code(safe) == code(text)
    assert "\\!" not in "".join(code(safe))


@pytest.mark.parametrize(
    "text",
    [
        # Backticks taken by something that starts earlier: what looks like code is not.
        f"[a](u`) ![t]({URL}) `b`",
        f"[a](<u`>) ![t]({URL}) `b`",
        f"<span title='`'> ![t]({URL}) `",
        f"<http://x`> ![t]({URL}) `",
        f"$a`$ ![t]({URL}) `",
        f"| `a | ![t]({URL}) ` |\n|---|---|",
        f"[r]: /u '`'\n\n![t]({URL})",
        f"\\`a ![t]({URL}) `",
        f"http://x.com/`a ![t]({URL}) `b`",
        f"www.x.com/`a ![t]({URL}) `b`",
        f":x[a]{{k='`'}} ![t]({URL}) `",
        # Fences that are not what they seem: inside a list item, closed by the item's end.
        f"- ```\n  x\n  ```\n![t]({URL})\n```\n![t]({URL})\n```",
        f"- a\n\n  ```\n![t]({URL})\n  ```",
        f" ```\nx\n```\n![t]({URL})\n```",
        f"<div>\n```\n\n![t]({URL})\n```",
        f"<pre>\n\n```\n</pre>\n![t]({URL})\n```",
        f"$$\n```\n$$\n![t]({URL})\n```",
        f":::x\n```\n:::\n\n![t]({URL})\n```",
        f"> ```\n![t]({URL})\n```",
        f"# `a\n![t]({URL}) `",
    ],
)
def test_look_alike_code_does_not_shield_an_image(text: str) -> None:
    assert images(safe_markdown(text)) == []


def test_streamlit_dedents_and_strips_so_do_we() -> None:
    # Indented as a whole, the fence is at column 0 once Streamlit dedents it.
    text = textwrap.indent(f"```\n![t]({URL})\n```\n![t]({URL})", "    ")
    safe = safe_markdown(text)
    assert safe == f"```\n![t]({URL})\n```\n\\![t]({URL})"
    assert safe == textwrap.dedent(safe).strip()  # what Streamlit does to it changes nothing


def test_plain_markdown_is_unchanged() -> None:
    text = "# Title\n\nSome **bold**, a [link](http://x.com), `code` and $x^2$.\n\n- a\n- b!\n\n```py\nprint(1)\n```"
    assert safe_markdown(text) == text


def test_data_images_and_text_without_images_are_never_broken() -> None:
    assert safe_markdown("Wow! [link](u) and !important") == "Wow! [link](u) and !important"


# ------------------------------------------------------------------------- properties

PIECES = [
    "![",
    "!",
    "[",
    "]",
    "](",
    f"({URL})",
    "[r]",
    f"\n[r]: {URL}\n",
    "`",
    "``",
    "```",
    "~~~",
    "\n```\n",
    "\n~~~\n",
    "\n",
    "\n\n",
    "  ",
    "    ",
    "\\",
    "<",
    ">",
    "<pre>",
    "$",
    "$$",
    ":::",
    "|",
    "- ",
    "> ",
    "1. ",
    "#",
    "*",
    "http://",
    "www.",
    ":x",
    "{",
    "'",
    "a",
    "t",
    " ",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
chunkings = st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=20)


@settings(max_examples=600, deadline=None)
@given(texts)
@example(f"`![t]({URL})`")
@example(f"![t]\n[t]: {URL}")
def test_no_output_ever_shows_an_image(text: str) -> None:
    assert images(safe_markdown(text)) == []


@settings(max_examples=300, deadline=None)
@given(texts)
def test_idempotent(text: str) -> None:
    once = safe_markdown(text)
    assert safe_markdown(once) == once


@settings(max_examples=300, deadline=None)
@given(texts, chunkings)
def test_a_streamed_reply_never_shows_an_image_at_any_point(text: str, sizes: list[int]) -> None:
    stream = StreamedText()
    position = 0
    drawn = ""  # what st.write_stream draws: everything passed on so far
    for size in sizes * (len(text) // max(1, sum(sizes)) + 1):
        if position >= len(text):
            break
        drawn += stream.feed(text[position : position + size])
        position += size
        assert images(drawn) == []
    drawn += stream.flush()
    assert images(drawn) == []
    assert stream.received == text
    assert drawn.replace("!\\[", "![") == text  # only the image openers changed


# Prose with code in it, as a model writes it: the code must survive unchanged.
prose = st.text(alphabet="abc !?[]*_.,-", max_size=20).filter(lambda s: "`" not in s)
snippet = st.sampled_from([f"![t]({URL})", "![x][r]", "a ![b]", "![", "x"])


@st.composite
def prose_with_code(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["prose", "span", "fence", "para"]))
        if kind == "prose":
            parts.append(draw(prose))
        elif kind == "span":
            parts.append(f" `{draw(snippet)}` ")
        elif kind == "fence":
            parts.append(f"\n```{draw(st.sampled_from(['', 'md']))}\n{draw(snippet)}\n{draw(snippet)}\n```\n")
        else:
            parts.append("\n\n")
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(prose_with_code())
def test_code_is_preserved(text: str) -> None:
    safe = safe_markdown(text)
    assert code(safe) == code(textwrap.dedent(text).strip())
    assert images(safe) == []


# ------------------------------------------------------------------------- values

VALUES = [
    f"![t]({URL})",
    "**bold** _it_ `code` ~~s~~ $x$ :red[red] :material/home: :smile: :streamlit:",
    "# heading",
    "- item",
    "1. item",
    "> quote",
    "line\n\n    code\n===",
    "<b>html</b> &amp; &#33;",
    "[link](http://x.com) <http://x.com>",
    "http://example.com/a_b www.example.com a@b.co mailto:a@b.co",
    "a | b",
    "\\ back\\slash",
    "plain words 10:30",
]


@pytest.mark.parametrize("value", VALUES)
def test_an_escaped_value_is_plain_text(value: str) -> None:
    escaped = escape_markdown(value)
    found = tokens(f"Model **{escaped}** is gone.")
    kinds = {t.type for t in found}
    assert kinds <= {"paragraph_open", "paragraph_close", "inline", "text", "strong_open", "strong_close"}, kinds
    shown = drawn_text(f"Model **{escaped}** is gone.").replace("\u2060", "")
    assert shown == "Model " + value.replace("\n", " ") + " is gone."


def test_escaped_values_break_autolinks_and_shortcodes_invisibly() -> None:
    escaped = escape_markdown("see http://x.com, www.x.com, a@b.co :smile: :material/home:")
    unescaped = re.sub(r"\\(.)", r"\1", escaped)
    assert "http://" not in unescaped and "www." not in unescaped and "a@" not in unescaped
    assert ":smile:" not in unescaped and ":material/" not in unescaped
    assert unescaped.replace("\u2060", "") == "see http://x.com, www.x.com, a@b.co :smile: :material/home:"


@given(st.text(max_size=60))
def test_any_value_escaped_shows_no_image_or_link(value: str) -> None:
    found = tokens(f"Title: {escape_markdown(value)}")
    assert not {t.type for t in found} & {"image", "link_open", "code_inline", "html_inline", "math_inline"}
