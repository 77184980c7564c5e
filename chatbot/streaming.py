"""Shape a reply's text deltas for ``st.write_stream``.

``st.write_stream`` re-sends the whole accumulated text on every chunk, so per-token chunks
make a long reply cost O(n²) on the server, the wire and the browser. ``coalesce`` yields at
most every ``interval`` seconds, which keeps the number of updates linear while still looking
live; ``Segments`` splits a long reply into Markdown blocks streamed into elements of their
own, which keeps the size of each update bounded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator


def coalesce(chunks: Iterable[str], interval: float = 0.05) -> Iterator[str]:
    buffer: list[str] = []
    last = float("-inf")  # the first delta goes out at once: time to first token matters most
    for chunk in chunks:
        if not chunk:
            continue
        buffer.append(chunk)
        now = time.monotonic()
        if now - last >= interval:
            yield "".join(buffer)
            buffer.clear()
            last = now
    if buffer:
        yield "".join(buffer)


# A line that opens or closes a fenced code block.
_FENCE = re.compile(r"^ {0,3}(?:`{3,}|~{3,})", re.MULTILINE)
# A block that continues the one above it across a blank line: indented (list item or code),
# a list item, a quote, a table row, a rule. Never cut there.
_CONTINUES = re.compile(r"[ \t]|[-*+>|=_]|\d{1,9}[.)]")


def _inside_block(text: str) -> bool:
    """Does ``text`` end inside a fenced code block or a $$ math block?"""
    return len(_FENCE.findall(text)) % 2 == 1 or text.count("$$") % 2 == 1


def split_point(text: str, start: int = 0) -> int:
    """Where ``text`` can be cut into two Markdown documents that render as the whole did:
    the last blank line at or after ``start`` that ends a finished paragraph or heading (not
    inside a code fence or math block, not before a list item, quote, table or indented line).
    -1 when there is none."""
    end = len(text)
    while (pos := text.rfind("\n\n", start, end)) != -1:
        rest = text[pos:].lstrip("\n")
        if rest and not _CONTINUES.match(rest) and not _inside_block(text[:pos]):
            return pos
        end = pos + 1  # the next search ends before this blank line
    return -1


class Segments:
    """A reply's text as consecutive Markdown segments, each streamed into its own element.

    ``st.write_stream`` re-sends, and the browser re-parses, the whole text of its element on
    every update, so one element holding a 50,000-character reply makes the stream cost
    O(n²) however the updates are batched: the browser falls seconds behind a fast provider.
    Once a segment holds ``min_chars`` and a block ends (see ``split_point``), the rest goes
    to the next segment, so each update costs O(segment). A short reply is one segment.

        segments = Segments(coalesce(chunks))
        try:
            for segment in segments:
                st.write_stream(segment)
        finally:
            segments.close()
    """

    def __init__(self, chunks: Iterable[str], min_chars: int = 3000) -> None:
        self._chunks = iter(chunks)
        self._carry = ""
        self._exhausted = False
        self.min_chars = min_chars

    def __iter__(self) -> Iterator[Iterator[str]]:
        yield self._segment()  # always one, even for an empty reply
        while not self._exhausted or self._carry:
            yield self._segment()

    def _segment(self) -> Iterator[str]:
        shown = ""
        pending = [self._carry] if self._carry else []
        self._carry = ""
        while True:
            if pending:
                chunk = pending.pop()
            else:
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    self._exhausted = True
                    return
            if not chunk:
                continue
            if len(shown) + len(chunk) >= self.min_chars:
                combined = shown + chunk
                cut = split_point(combined, max(0, len(shown) - 1))
                if cut != -1:
                    if cut > len(shown):
                        yield combined[len(shown) : cut]
                    self._carry = combined[cut:].lstrip("\n")
                    return
            shown += chunk
            yield chunk

    def close(self) -> None:
        """Close the chunks' generator (e.g. after a Stop), so its ``finally`` runs now."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
