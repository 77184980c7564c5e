"""Join small text deltas before they reach ``st.write_stream``.

``st.write_stream`` re-sends the whole accumulated text on every chunk, so per-token chunks
make a long reply cost O(n²) on the server, the wire and the browser. Yielding at most every
``interval`` seconds keeps that linear while still looking live.
"""

from __future__ import annotations

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
