"""Parse an upload once, however often the page reruns while it sits in the uploader.

Streamlit reruns the whole History page on every click; a 100 MB export took 13 s to parse
and 1.1 GB to hold each time. The parsed batch (or the refusal) is kept here, keyed by the
owner, the limits and the SHA-256 of every uploaded file with its name, so the preview and
the Import button share one parse. Bounded: at most ``MAX_ENTRIES`` uploads and
``MAX_BYTES`` of uploaded bytes (the newest entry is always kept), each for ``TTL``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatbot.errors import ImportFailed
from chatbot.importing.sources import MB, Limits, Upload

if TYPE_CHECKING:
    from chatbot.importing import ImportBatch

MAX_ENTRIES = 4
MAX_BYTES = 300 * MB
TTL = 15 * 60.0  # seconds: an upload left in the uploader longer is parsed again


@dataclass
class _Entry:
    value: ImportBatch | ImportFailed
    size: int
    stored: float


def upload_key(owner: str, uploads: list[Upload], limits: Limits) -> str:
    digest = hashlib.sha256()
    for part in (owner, repr(limits)):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    for upload in uploads:
        digest.update(upload.name.encode("utf-8", "surrogatepass") + b"\x00")
        digest.update(hashlib.sha256(upload.data).digest())
    return digest.hexdigest()


class ParsedUploads:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES, ttl: float = TTL) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.parses = 0  # how many times ``parse`` ran: what the cache saves is visible

    def get(self, owner: str, uploads: list[Upload], limits: Limits, parse: Callable[[], ImportBatch]) -> ImportBatch:
        """The parsed batch for these uploads; raises the same ImportFailed as the first parse."""
        key = upload_key(owner, uploads, limits)
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            # Parsed outside the lock: another user's preview must not wait for this one.
            self.parses += 1
            value: ImportBatch | ImportFailed
            try:
                value = parse()
            except ImportFailed as refused:
                value = refused
            entry = _Entry(value, sum(len(u.data) for u in uploads), now)
            with self._lock:
                self._entries[key] = entry
                self._evict()
        if isinstance(entry.value, ImportFailed):
            raise ImportFailed(entry.value.key, **entry.value.values)  # a fresh one: no growing traceback
        return entry.value

    def forget(self, owner: str, uploads: list[Upload], limits: Limits) -> None:
        with self._lock:
            self._entries.pop(upload_key(owner, uploads, limits), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _expire(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if now - e.stored > self.ttl]:
            del self._entries[key]

    def _evict(self) -> None:
        while len(self._entries) > 1 and (
            len(self._entries) > self.max_entries or sum(e.size for e in self._entries.values()) > self.max_bytes
        ):
            self._entries.popitem(last=False)


PARSED = ParsedUploads()
