"""CSV export: no cell a spreadsheet could run as a formula, however the formula is dressed up."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from chatbot.exporting import csv_format
from chatbot.records import ConversationRecord, MessageRecord

T0 = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)


def _content_cell(content: str) -> str:
    record = ConversationRecord(
        "c1", "t", "groq", "m", T0, T0, messages=[MessageRecord("m1", None, "user", content, T0, T0)]
    )
    rows = list(csv.DictReader(io.StringIO(csv_format.render([record]).removeprefix("\ufeff"))))
    return rows[0]["content"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("=1+1", id="equals"),
        pytest.param("+1+1", id="plus"),
        pytest.param("-1+1", id="minus"),
        pytest.param("@SUM(A1)", id="at"),
        pytest.param("\t=1+1", id="tab-start"),
        pytest.param("\rx", id="cr-start"),
        pytest.param(" =1+1", id="space-then-equals"),
        pytest.param("   \t @SUM(A1)", id="spaces-tab-then-at"),
        pytest.param('\n=HYPERLINK("http://x")', id="newline-then-equals"),
        pytest.param("\r\n+1", id="crlf-then-plus"),
        pytest.param("\u3000=1", id="ideographic-space-then-equals"),
        pytest.param("＝1+1", id="fullwidth-equals"),
        pytest.param("＋1", id="fullwidth-plus"),
        pytest.param("－1", id="fullwidth-minus"),
        pytest.param("＠SUM(A1)", id="fullwidth-at"),
        pytest.param(" ＝1", id="space-then-fullwidth-equals"),
    ],
)
def test_formula_like_cells_are_neutralised(content: str) -> None:
    cell = _content_cell(content)
    assert cell == "'" + content  # the text itself is kept, after one apostrophe


@pytest.mark.parametrize("content", ["plain text", " leading space", "\nnew line", "a=b", "１+1", "'quoted"])
def test_ordinary_cells_are_unchanged(content: str) -> None:
    assert _content_cell(content) == content
