"""chatbot/streaming.py: coalescing deltas and cutting a long reply into Markdown segments."""

from __future__ import annotations

import pytest

from chatbot.streaming import Segments, coalesce, split_point
from tests.stand_in_groq import make_reply, tokenize


def run(chunks: list[str], min_chars: int) -> list[str]:
    return ["".join(segment) for segment in Segments(chunks, min_chars=min_chars)]


def test_coalesce_keeps_every_character_and_sends_the_first_at_once() -> None:
    tokens = tokenize(make_reply(500))
    out = list(coalesce(iter(tokens), interval=10.0))
    assert out[0] == tokens[0]
    assert "".join(out) == "".join(tokens)


def test_a_short_reply_is_one_segment_even_when_empty() -> None:
    assert run(["Hello ", "**there**!"], 3000) == ["Hello **there**!"]
    assert run([], 3000) == [""]


@pytest.mark.parametrize("chunk_tokens", [1, 7, 100])
def test_a_long_reply_is_cut_at_paragraphs_and_nothing_is_lost(chunk_tokens: int) -> None:
    text = make_reply(8000)
    tokens = tokenize(text)
    chunks = ["".join(tokens[i : i + chunk_tokens]) for i in range(0, len(tokens), chunk_tokens)]
    segments = run(chunks, 3000)
    assert len(segments) > 5
    assert "\n\n".join(segments) == text  # cut only at blank lines, which the elements replace
    assert all(len(s) >= 3000 for s in segments[:-1])
    assert all(len(s) < 3000 + 2000 for s in segments)  # a paragraph is ~400 characters


def test_never_cut_inside_code_math_lists_quotes_or_tables() -> None:
    assert split_point("```python\nx = 1\n\ny = 2") == -1
    assert split_point("$$\na\n\nb") == -1
    assert split_point("- one\n\n- two") == -1
    assert split_point("1. one\n\n2. two") == -1
    assert split_point("> quote\n\n> more") == -1
    assert split_point("| a |\n\n| b |") == -1
    assert split_point("- item\n\n    continued") == -1
    assert split_point("text\n\n") == -1  # nothing after the blank line yet
    assert split_point("```\ncode\n```\n\nAfter.") == len("```\ncode\n```")
    assert split_point("First.\n\nSecond.\n\nThird.") == len("First.\n\nSecond.")


def test_a_code_block_is_never_split_across_segments() -> None:
    code = "```\n" + "\n\n".join(f"line {i}" for i in range(400)) + "\n```"
    text = "Intro paragraph.\n\n" + code + "\n\nAfter the code."
    segments = run(tokenize(text), 50)
    assert any(code in s for s in segments)
    assert "\n\n".join(segments) == text


def test_close_closes_the_source_so_its_finally_runs() -> None:
    closed = []

    def source():  # type: ignore[no-untyped-def]
        try:
            yield from tokenize(make_reply(2000))
        finally:
            closed.append(True)

    segments = Segments(source(), min_chars=100)
    first = next(iter(segments))
    next(first)
    segments.close()
    assert closed == [True]
