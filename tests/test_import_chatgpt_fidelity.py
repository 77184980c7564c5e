"""ChatGPT's web-search citations and code answers, from a hand-written export
(tests/fixtures/sources/chatgpt-citations.json): markers become numbered links to their sources
(or go, cleanly, when the metadata gives none); code shown to the user stays code."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.citations import cite_sources
from chatbot.history import HistoryService
from chatbot.importing import Upload
from chatbot.importing.chatgpt import fenced, our_id
from chatbot.store.db import open_database

FIXTURE = Path(__file__).parent / "fixtures" / "sources" / "chatgpt-citations.json"
CONVERSATION = our_id("chatgpt", "67b00000-0000-4000-8000-00000000c1c1")
CARRIS = "https://www.carris.pt/en/tram-28/"
FARES = "https://example.org/lisbon/fares"
LIFT = "https://en.wikipedia.org/wiki/Santa_Justa_Lift"


@pytest.fixture
def history(sessions: sessionmaker[Session]) -> HistoryService:
    return HistoryService(sessions)


def imported(history: HistoryService) -> dict[str, str]:
    result = history.import_uploads([Upload("conversations.json", FIXTURE.read_bytes())])
    assert [(i.title, i.action, i.messages) for i in result.items] == [("Lisbon with sources", "new", 9)]
    assert result.left_out == {"tool": 1, "empty": 1}  # the browser call; the empty code answer
    [record] = history.records([CONVERSATION])
    return {m.id: m.content for m in record.messages}


def test_citations_from_content_references_become_numbered_links(history: HistoryService) -> None:
    contents = imported(history)
    answer = contents[our_id("chatgpt", "67b00000-0000-4000-8000-00000000c1c1", "a1")]
    assert answer == (
        f"Lisbon's tram 28 runs through Alfama.[1]({CARRIS}) Tickets cost €3.10 on board [2]({FARES}). "
        f"The Santa Justa lift is nearby.[3]({LIFT}) [1]({CARRIS})\n\n"
        "Wear good shoes: the hills are steep.\n\n"  # no source for 【5†source】: removed
        f"1. [Tram 28 – Carris]({CARRIS})\n"
        f"2. [Lisbon fares \\[2025\\]]({FARES})\n"
        f"3. [Santa Justa Lift]({LIFT})"
    )


def test_citations_from_the_older_citations_list(history: HistoryService) -> None:
    contents = imported(history)
    answer = contents[our_id("chatgpt", "67b00000-0000-4000-8000-00000000c1c1", "a2")]
    assert answer == (
        "Ōmiya has a railway museum[1](https://www.railway-museum.jp/en/). It is 鉄道博物館 in Japanese.\n\n"
        "1. [The Railway Museum](https://www.railway-museum.jp/en/)"
    )


def test_markers_without_metadata_are_removed_cleanly(history: HistoryService) -> None:
    contents = imported(history)
    answer = contents[our_id("chatgpt", "67b00000-0000-4000-8000-00000000c1c1", "a3")]
    assert answer == "Porto is north of Lisbon and Faro is south.\nCoimbra is between."
    assert "  " not in answer and "†" not in answer and "\ue200" not in answer


def test_code_addressed_to_the_user_is_a_fenced_block(history: HistoryService) -> None:
    contents = imported(history)
    code = contents[our_id("chatgpt", "67b00000-0000-4000-8000-00000000c1c1", "a4")]
    # The code holds ``` itself: the fence is longer.
    assert code == '````python\ndef greet(name: str) -> str:\n    return f"Olá, {name}!"\n\nprint("```")\n````'
    unknown = contents[our_id("chatgpt", "67b00000-0000-4000-8000-00000000c1c1", "a7")]
    assert unknown == "```\nSELECT 1;\n```"  # language "unknown": no info string
    [record] = history.records([CONVERSATION])
    assert record.current_branch()[-1].content == unknown
    # The browser call (recipient "browser") is not shown; the kept code's parent skips it.
    by_id = {m.id: m for m in record.messages}
    assert by_id[our_id("chatgpt", "67b00000-0000-4000-8000-00000000c1c1", "a7")].parent_id == our_id(
        "chatgpt", "67b00000-0000-4000-8000-00000000c1c1", "a4"
    )


def test_links_survive_export_and_reimport(history: HistoryService, new_database) -> None:  # type: ignore[no-untyped-def]
    before = imported(history)
    exported = history.export([CONVERSATION], "json")
    target = HistoryService(open_database(new_database("target"))[1])
    target.import_uploads([Upload(exported.name, exported.data)])
    [record] = target.records([CONVERSATION])
    assert {m.id: m.content for m in record.messages} == before
    again = history.import_uploads([Upload("conversations.json", FIXTURE.read_bytes())])
    assert [i.reason for i in again.items] == ["import.skip.exists"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fact 【1†source】.", "Fact."),
        ("Fact.【1†source】 Next", "Fact. Next"),
        ("A 【1†a】 【2†b】 b", "A b"),
        ("【4:0†source】 Start", "Start"),
        ("End 【4:0†source】\nNext", "End\nNext"),
        ("Range【12†L1-L9】 kept", "Range kept"),
        ("Two  spaces stay 【1†x】 here", "Two  spaces stay here"),  # only the marker's own spaces go
        ("No markers at all.", "No markers at all."),
        ("Lone 【 bracket】 stays", "Lone 【 bracket】 stays"),
    ],
)
def test_marker_removal(text: str, expected: str) -> None:
    assert cite_sources(text, {}) == expected


def test_a_source_with_an_unusable_url_is_not_linked() -> None:
    metadata = {
        "content_references": [
            {"matched_text": "【1†source】", "items": [{"title": "x", "url": "javascript:alert(1)"}]}
        ]
    }
    assert cite_sources("Fact.【1†source】", metadata) == "Fact."


def test_fenced_languages() -> None:
    assert fenced("x = 1", "python") == "```python\nx = 1\n```"
    assert fenced("x", "not a language!") == "```\nx\n```"
    assert fenced("x", None) == "```\nx\n```"
