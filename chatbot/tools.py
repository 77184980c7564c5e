"""Groq's built-in tools: which models offer them, the switches a conversation keeps, and what
the tools did, read from ``executed_tools`` and kept with the reply as plain data.

Everything here comes from the internet (titles, page text, URLs) or from code the model wrote,
so it is bounded, only http(s) links are kept, and pages draw it as data: titles and snippets
escaped (chatbot.safe_markdown), never HTML, and no remote image is loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from chatbot.providers.base import ModelInfo, Source, ToolRun

BROWSER_SEARCH = "browser_search"
CODE_INTERPRETER = "code_interpreter"
TOOLS = (BROWSER_SEARCH, CODE_INTERPRETER)
PARAM = "builtin_tools"  # the switches, in the conversation's params
STORED = "executed_tools"  # what ran, in the reply message's params

# Bounds on what one reply keeps: search results can be long pages of text, and code output
# anything the model printed.
MAX_RUNS = 30
MAX_SOURCES = 50
MAX_TEXT = 20_000  # characters of a tool's arguments or output
MAX_TITLE = 300
MAX_SNIPPET = 500
MAX_URL = 2_000
MAX_IMAGES = 4
MAX_IMAGE_CHARS = 2_000_000  # base64 of a PNG, ~1.5 MB

# The models that accept ``tools=[{"type": "browser_search"}, {"type": "code_interpreter"}]``.
_TOOL_MODELS = re.compile(r"openai/gpt-oss-(?:20b|120b)")
# Groq's compound systems run their tools by themselves (no switches): pickable like any model.
_COMPOUND = re.compile(r"(?:groq/)?compound(?:-beta)?(?:-mini)?")


def offered(model: ModelInfo) -> tuple[str, ...]:
    """The switches this model supports (none: the switches are not shown)."""
    return TOOLS if model.provider == "groq" and _TOOL_MODELS.fullmatch(model.id) else ()


def is_compound(model: ModelInfo) -> bool:
    return model.provider == "groq" and bool(_COMPOUND.fullmatch(model.id))


def chosen(params: Mapping[str, Any] | None, model: ModelInfo) -> tuple[str, ...]:
    """The tools switched on in a conversation's params that this model supports."""
    wanted = (params or {}).get(PARAM) or ()
    supported = offered(model)
    return tuple(t for t in TOOLS if t in wanted and t in supported)


def with_switches(params: Mapping[str, Any] | None, tools: Iterable[str]) -> dict[str, Any]:
    """Params with the switches set to ``tools`` (unknown names are dropped)."""
    picked = [t for t in TOOLS if t in set(tools)]
    return {**(params or {}), PARAM: picked}


def _text(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def safe_url(value: object) -> str:
    """An http(s) URL, or "" (a ``javascript:`` or ``data:`` link is never kept)."""
    if not isinstance(value, str) or len(value) > MAX_URL:
        return ""
    url = value.strip()
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


def site(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _chart_text(chart: Any) -> str:
    """A chart the code drew, as the numbers it shows (drawn as text: nothing to load or run)."""
    kind = _text(_get(chart, "type"), 40) or "chart"
    title = _text(_get(chart, "title"), MAX_TITLE)
    points = []
    for element in (_get(chart, "elements") or [])[:MAX_SOURCES]:
        value = _get(element, "value")
        label = _text(_get(element, "label"), 100)
        points.append(f"{label} = {value:g}" if isinstance(value, (int, float)) else label)
    return f"[{kind} chart] {title}: " + ", ".join(points)


def from_executed(item: Any) -> ToolRun | None:
    """One ``executed_tools`` entry (the SDK's object or its JSON) as a :class:`ToolRun`."""
    index = _get(item, "index")
    if not isinstance(index, int):
        return None
    kind = _text(_get(item, "type"), 40) or "tool"
    name = _text(_get(item, "name"), 40)
    if kind == "function" and name:  # gpt-oss's code interpreter: type "function", name "python"
        kind = name
    sources: list[Source] = []
    results = _get(_get(item, "search_results"), "results") or []
    browsed = _get(item, "browser_results") or []
    for result in [*results, *browsed][:MAX_SOURCES]:
        url = safe_url(_get(result, "url"))
        if url:
            title = _text(_get(result, "title"), MAX_TITLE) or site(url)
            sources.append(Source(title, url, _text(_get(result, "content"), MAX_SNIPPET)))
    outputs: list[str] = []
    charts: list[str] = []
    images: list[str] = []
    for result in _get(item, "code_results") or []:
        if text := _text(_get(result, "text"), MAX_TEXT):
            outputs.append(text)
        charts += [_chart_text(c) for c in [_get(result, "chart"), *(_get(result, "charts") or [])] if c is not None]
        png = _get(result, "png")
        if isinstance(png, str) and len(png) <= MAX_IMAGE_CHARS and len(images) < MAX_IMAGES:
            images.append(png)
    output = _get(item, "output")
    if not isinstance(output, str):
        output = "\n".join(outputs) if outputs else None
    if charts:
        output = "\n".join([*([output] if output else []), *charts])
    return ToolRun(
        index=index,
        kind=kind,
        arguments=_text(_get(item, "arguments"), MAX_TEXT),
        output=output[:MAX_TEXT] if output is not None else None,
        sources=tuple(sources),
        images=tuple(images),
    )


def merge(runs: Sequence[ToolRun], run: ToolRun) -> list[ToolRun]:
    """``runs`` with ``run`` in place of the one with its index (Groq re-sends a whole item)."""
    out = [r for r in runs if r.index != run.index]
    if len(out) >= MAX_RUNS:
        return list(runs)
    out.append(run)
    return sorted(out, key=lambda r: r.index)


def argument(run: ToolRun) -> str:
    """What the tool was given, readable: the query, the URL, or the code."""
    try:
        parsed = json.loads(run.arguments) if run.arguments else {}
    except ValueError:
        return run.arguments
    if isinstance(parsed, dict):
        for key in ("query", "url", "code", "q", "input"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
    return run.arguments


def is_code(run: ToolRun) -> bool:
    return run.kind in ("python", "code_interpreter")


def stored(runs: Sequence[ToolRun]) -> list[dict[str, Any]]:
    return [
        {
            "index": r.index,
            "type": r.kind,
            "arguments": r.arguments,
            "output": r.output,
            "sources": [{"title": s.title, "url": s.url, "snippet": s.snippet} for s in r.sources],
            "images": list(r.images),
        }
        for r in runs
    ]


def restored(value: object) -> list[ToolRun]:
    """Runs as :func:`stored` kept them (what is not valid is left out)."""
    runs: list[ToolRun] = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("index"), int):
            continue
        sources = tuple(
            Source(_text(s.get("title"), MAX_TITLE), url, _text(s.get("snippet"), MAX_SNIPPET))
            for s in item.get("sources") or []
            if isinstance(s, dict) and (url := safe_url(s.get("url")))
        )
        images = tuple(i for i in item.get("images") or [] if isinstance(i, str))[:MAX_IMAGES]
        output = item.get("output")
        runs.append(
            ToolRun(
                index=item["index"],
                kind=_text(item.get("type"), 40) or "tool",
                arguments=_text(item.get("arguments"), MAX_TEXT),
                output=output[:MAX_TEXT] if isinstance(output, str) else None,
                sources=sources,
                images=images,
            )
        )
    return runs[:MAX_RUNS]


def numbered_sources(runs: Sequence[ToolRun]) -> list[Source]:
    """Every source once (by URL), in the order found: the numbers the reply's list shows."""
    seen: dict[str, Source] = {}
    for run in runs:
        for source in run.sources:
            seen.setdefault(source.url, source)
    return list(seen.values())[:MAX_SOURCES]
