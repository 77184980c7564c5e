"""Citation markers in answers from web search, made into numbered links to their sources or
removed: ChatGPT's (``【3:0†source】``, ``【13†source】``, the private-use form) in its exports, and
gpt-oss's (``【2†L6-L10】``) in Groq's browser_search answers.

A marker is data from a model or a file: it becomes a plain Markdown link (http(s) only, title
escaped) or nothing, never markup.
"""

from __future__ import annotations

import re
from typing import Any


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# Citation markers in answers from web search: "【3:0†source】", "【13†source】", "【12†L1-L9】",
# and the private-use form "\ue200cite\ue202turn0search1\ue201" (also "\ue200i\ue202…\ue201").
MARKER = r"(?:【[^【】\n]{0,80}†[^【】\n]{0,300}】|\ue200[^\ue200\ue201\n]{0,300}\ue201)"
CITATION = re.compile(rf"(?P<lead>[ \t]*)(?P<marker>{MARKER})(?P<trail>[ \t]*)")
_MARKER = re.compile(MARKER)
_URL = re.compile(r"https?://[^\s()<>]+", re.I)


def _sources(item: Any) -> list[tuple[str, str]]:
    """(title, url) pairs of one citation or content reference, as far as they can be read."""
    item = _dict(item)
    found: list[tuple[str, str]] = []
    for source in [item, _dict(item.get("metadata")), *_list(item.get("items")), *_list(item.get("sources"))]:
        source = _dict(source)
        url = source.get("url")
        if isinstance(url, str) and _URL.fullmatch(url.strip()):
            title = source.get("title")
            found.append((title.strip() if isinstance(title, str) else "", url.strip()))
    return found


def _link_title(title: str) -> str:
    return re.sub(r"([\\\[\]`*_<>])", r"\\\1", " ".join(title.split()))[:200]


def cite_sources(text: str, metadata: dict[str, Any]) -> str:
    """Citation markers become numbered links to their sources, listed under the answer with
    their titles; a marker whose source the metadata does not give is removed cleanly."""
    if not CITATION.search(text):
        return text
    by_marker: dict[str, list[tuple[str, str]]] = {}
    for reference in _list(metadata.get("content_references")):
        matched = _dict(reference).get("matched_text")
        if isinstance(matched, str) and _MARKER.fullmatch(matched.strip()):
            by_marker.setdefault(matched.strip(), []).extend(_sources(reference))
    for citation in _list(metadata.get("citations")):
        citation = _dict(citation)
        start, end = citation.get("start_ix"), citation.get("end_ix")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            marker = text[start:end].strip()
            if _MARKER.fullmatch(marker):
                by_marker.setdefault(marker, []).extend(_sources(citation))
    numbers: dict[str, int] = {}
    titles: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        lead, trail = match.group("lead"), match.group("trail")
        links = []
        for title, url in by_marker.get(match.group("marker"), []):
            if url not in numbers:
                numbers[url] = len(numbers) + 1
                titles[url] = title
            link = f"[{numbers[url]}]({url})"
            if link not in links:
                links.append(link)
        if links:
            return (" " if lead else "") + " ".join(links) + trail
        # Removed: no space left at a line's start or end, before punctuation or another
        # marker, and never two spaces where one was.
        before = text[match.start() - 1 : match.start()]
        after = text[match.end() : match.end() + 1]
        if before in ("", "\n") or after in ("", "\n") or after in ".,;:!?)" or _MARKER.match(text, match.end()):
            return ""
        return " " if lead or trail else ""

    cited = CITATION.sub(replace, text)
    if numbers:
        listed = [f"{n}. [{_link_title(titles[url]) or url}]({url})" for url, n in numbers.items()]
        cited = cited.rstrip() + "\n\n" + "\n".join(listed)
    return cited


def without_citation_marks(text: str) -> str:
    """The text with its citation markers removed cleanly. For gpt-oss's web-search answers: which
    of the listed sources a mark's number means is not documented, so the numbered sources shown
    under the reply stand for them instead of a link that might point at the wrong page."""
    return cite_sources(text, {})
