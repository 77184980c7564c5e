"""Groq's built-in tools, through the real groq SDK against the stand-in: "Search the web" and
"Run code" per conversation, offered only on models that have them; what the tools did (the
search with numbered sources, the code and its output) kept with the reply, shown under it after
a reload, and drawn as data: a hostile title stays text, a javascript: link is dropped.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.conversation import ConversationService
from chatbot.i18n import t
from chatbot.preferences import Preferences
from chatbot.providers.base import ChatMessage, ChatRequest, GenerationParams, ModelInfo, TextDelta, ToolRun
from chatbot.providers.groq_api import GroqProvider
from chatbot.reply import NewChatOptions, TurnSetup
from chatbot.settings import AppSettings
from chatbot.tool_switches import ToolSwitches
from chatbot.tools import BROWSER_SEARCH, CODE_INTERPRETER, PARAM, offered
from chatbot.turns import Turns
from tests.pages import new_app
from tests.stand_in_groq import DEFAULT_MODELS, StandInGroq

pytestmark = pytest.mark.usefixtures("english")

GPT_OSS = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=4096)
LLAMA = ModelInfo(id="llama-3.1-8b-instant", provider="groq", context_window=131072, max_completion_tokens=4096)
SETTINGS = AppSettings(system_prompt="", max_tokens=200)


def provider(server: StandInGroq) -> GroqProvider:
    return GroqProvider(server.api_key, server.base_url)


def test_web_search_streams_the_tool_twice_and_its_sources(groq_server: StandInGroq) -> None:
    request = ChatRequest(
        GPT_OSS.id, [ChatMessage("user", "Capital of France?")], GenerationParams(max_tokens=100), (BROWSER_SEARCH,)
    )
    events = list(provider(groq_server).stream_chat(request))

    assert groq_server.chat_requests[-1]["json"]["tools"] == [{"type": "browser_search"}]
    runs = [e for e in events if isinstance(e, ToolRun)]
    assert [(r.index, r.kind, r.output is None) for r in runs] == [(0, "search", True), (0, "search", False)]
    assert json.loads(runs[1].arguments) == {"query": "Capital of France?"}
    assert [s.url for s in runs[1].sources] == [
        "https://en.wikipedia.org/wiki/Paris",
        "https://www.britannica.com/place/France",
    ]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello **there**! How can I help?"


def test_tools_are_offered_only_where_the_model_has_them(groq_server: StandInGroq) -> None:
    assert offered(GPT_OSS) == (BROWSER_SEARCH, CODE_INTERPRETER)
    assert offered(LLAMA) == ()
    assert offered(ModelInfo(id="openai/gpt-oss-20b", provider="endpoint.other")) == ()
    # The stand-in refuses them elsewhere, as Groq does; the app never sends them there.
    request = ChatRequest(LLAMA.id, [ChatMessage("user", "Hi")], GenerationParams(max_tokens=10), (BROWSER_SEARCH,))
    with pytest.raises(Exception) as refused:
        list(provider(groq_server).stream_chat(request))
    assert getattr(refused.value, "key", "") == "error.bad_request"


def test_a_conversations_switches_reach_the_request_and_the_runs_are_kept(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    turns = Turns(sessions, lambda name: provider(groq_server))
    start = NewChatOptions(None, {PARAM: [BROWSER_SEARCH, CODE_INTERPRETER]})
    reply = turns.send(None, "What is 2 + 2, and the capital of France?", TurnSetup(GPT_OSS, SETTINGS), start)
    assert list(reply) and reply.complete
    assert groq_server.chat_requests[-1]["json"]["tools"] == [{"type": "browser_search"}, {"type": "code_interpreter"}]

    # After a reload: the stored runs, whole (each once, with its output).
    turn = ConversationService(sessions).recent_messages(reply.conversation_id).turns[-1]
    assert [(r.kind, r.output) for r in turn.tools][1] == ("python", "4")
    assert turn.tools[0].kind == "search" and len(turn.tools[0].sources) == 2
    assert json.loads(turn.tools[1].arguments) == {"code": "print(2 + 2)"}

    # Switched off: the next request carries no tools; switched on for a model without them: none either.
    switches = ToolSwitches(sessions)
    switches.set(reply.conversation_id, [])
    assert switches.get(reply.conversation_id) == ()
    assert list(turns.send(reply.conversation_id, "Thanks", TurnSetup(GPT_OSS, SETTINGS)))  # read whole: saved
    assert "tools" not in groq_server.chat_requests[-1]["json"]
    switches.set(reply.conversation_id, [BROWSER_SEARCH])
    assert list(turns.send(reply.conversation_id, "Again", TurnSetup(LLAMA, SETTINGS)))
    assert "tools" not in groq_server.chat_requests[-1]["json"]


def test_a_compound_system_searches_by_itself(sessions: sessionmaker[Session]) -> None:
    compound = {**copy.deepcopy(DEFAULT_MODELS[0]), "id": "groq/compound", "owned_by": "Groq"}
    with StandInGroq(reply="Paris.", models=[*copy.deepcopy(DEFAULT_MODELS), compound]) as server:
        listed = {m.id for m in provider(server).list_models()}
        assert "groq/compound" in listed  # pickable like any model
        turns = Turns(sessions, lambda name: provider(server))
        model = ModelInfo(id="groq/compound", provider="groq", context_window=131072, max_completion_tokens=8192)
        reply = turns.send(None, "Capital of France?", TurnSetup(model, SETTINGS))
        assert reply.text if list(reply) else False
        assert "tools" not in server.chat_requests[-1]["json"]
    turn = ConversationService(sessions).recent_messages(reply.conversation_id).turns[-1]
    assert [r.kind for r in turn.tools] == ["search"]
    assert "<tool>search(" in (turn.reasoning or "")  # the transcript alongside


HOSTILE: list[dict[str, Any]] = [
    {
        "title": "<img src=x onerror=alert(1)>![pixel](https://evil.example/p.png) **bold**",
        "url": "https://evil.example/page?a=(1)&b=<2>",
        "content": "<script>alert(1)</script>",
    },
    {"title": "Click me", "url": "javascript:alert(1)", "content": "x"},
]


def test_the_page_switches_tools_and_shows_sources_as_data_after_a_reload(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    Preferences(sessions).save_settings(AppSettings(default_model="groq:openai/gpt-oss-20b", system_prompt=""))
    groq_server.search_results = HOSTILE
    at = new_app()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.toggle(key="tool_search_None").set_value(True).run()
    at.chat_input[0].set_value("Find it").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert groq_server.chat_requests[-1]["json"]["tools"] == [{"type": "browser_search"}]

    conversation_id = at.query_params["c"][0] if isinstance(at.query_params["c"], list) else at.query_params["c"]
    reloaded = new_app(c=conversation_id)
    reloaded.run()
    assert not reloaded.exception
    assert reloaded.toggle(key=f"tool_search_{conversation_id}").value is True  # kept with the conversation
    section = next(e for e in reloaded.chat_message[-1].expander if e.label == t("tools.used", count=1))
    shown = "\n".join(m.value for m in section.markdown)
    assert "Find it" in shown  # the search, then the sources
    assert "javascript:" not in shown  # a link that would run script is dropped
    assert "\\<img" in shown and not re.search(r"(?<!\\)<img", shown)  # the title is text, never markup
    assert not re.search(r"(?<!\\)!\[", shown)  # no image to load
    assert "(<https://evil.example/page?a=(1)&b=%3C2%3E>)" in shown  # a plain link, clicked to open
    assert "<script>" not in shown

    # A model without tools: no switches.
    llama = new_app()
    llama.run()
    assert [w.key for w in llama.toggle if w.key and w.key.startswith("tool_")]  # gpt-oss, the default: offered
    llama.selectbox(key="model_None").set_value("groq:llama-3.1-8b-instant").run()
    assert not llama.exception, [e.value for e in llama.exception]
    assert llama.selectbox(key="model_None").value == "groq:llama-3.1-8b-instant"
    assert not [w for w in llama.toggle if w.key and w.key.startswith("tool_")]


def test_the_exports_keep_the_runs_and_list_the_sources(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    from chatbot.history import HistoryService

    groq_server.search_results = HOSTILE
    turns = Turns(sessions, lambda name: provider(groq_server))
    start = NewChatOptions(None, {PARAM: [BROWSER_SEARCH]})
    reply = turns.send(None, "Find it", TurnSetup(GPT_OSS, SETTINGS), start)
    assert list(reply)
    history = HistoryService(sessions)

    data = json.loads(history.export([reply.conversation_id], "json").data)
    text = json.dumps(data)
    assert "executed_tools" in text and "https://evil.example/page?a=(1)&b=<2>" in text  # everything, as received

    md = history.export([reply.conversation_id], "md").data.decode()
    assert "**Sources**" in md
    assert "1. [\\<img src=x onerror=alert(1)\\>!\\[pixel\\]" in md  # the title as text
    assert "(<https://evil.example/page?a=(1)&b=%3C2%3E>)" in md
    assert "javascript:" not in md

    html = history.export([reply.conversation_id], "html").data.decode()
    assert (
        '<a href="https://evil.example/page?a=(1)&amp;b=&lt;2&gt;" target="_blank" rel="noopener noreferrer">' in html
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "javascript:" not in html


def test_saving_the_conversation_settings_keeps_the_switches(sessions: sessionmaker[Session]) -> None:
    turns = Turns(sessions, lambda name: None)  # type: ignore[arg-type, return-value]
    pending = turns.start_turn(None, "Hi", GPT_OSS, SETTINGS, new_chat=NewChatOptions(None, {PARAM: [BROWSER_SEARCH]}))
    ConversationService(sessions).update_options(pending.conversation_id, "Be brief.", {"temperature": 0.2})
    assert ToolSwitches(sessions).get(pending.conversation_id) == (BROWSER_SEARCH,)
    assert pending.request.tools == (BROWSER_SEARCH,)


def test_code_charts_become_their_numbers_and_each_index_keeps_its_newest_run() -> None:
    from chatbot.tools import from_executed, merge

    announced = from_executed({"index": 0, "type": "function", "name": "python", "arguments": '{"code": "plot()"}'})
    finished = from_executed(
        {
            "index": 0,
            "type": "function",
            "name": "python",
            "arguments": '{"code": "plot()"}',
            "code_results": [
                {"text": "plotted"},
                {"png": "iVBORw0KGgo="},
                {"chart": {"type": "bar", "title": "Sales", "elements": [{"label": "A", "value": 3}]}},
            ],
        }
    )
    assert announced is not None and finished is not None and announced.output is None
    runs = merge(merge([], announced), finished)
    assert runs == [finished]
    assert finished.kind == "python" and finished.output == "plotted\n[bar chart] Sales: A = 3"
    assert finished.images == ("iVBORw0KGgo=",)
