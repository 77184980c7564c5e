"""Several conversations in one ZIP: everything-at-once, or a selection in a per-file format.

JSON and CSV are written entry by entry through spooled temporary files, so exporting
everything holds one conversation at a time in memory, not the whole history twice.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from chatbot.exporting import csv_format, html_format, json_format, markdown, text
from chatbot.exporting.naming import entry_name
from chatbot.records import ConversationRecord, ImageRecord

JSON_ENTRY = "groq-chat-export.json"  # what the importer looks for inside a ZIP
IMAGES_FOLDER = "images"  # each image once, named by its content (the JSON holds them too)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
CSV_ENTRY = "messages.csv"
SPOOL_BYTES = 8 * 1024 * 1024

Renderer = Callable[[ConversationRecord], str]
PER_CONVERSATION: dict[str, Renderer] = {"md": markdown.render, "txt": text.render, "html": html_format.render}


def _writable(archive: zipfile.ZipFile, name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def image_entry(image: ImageRecord) -> str:
    return f"{IMAGES_FOLDER}/{image.sha256}.{EXTENSIONS.get(image.mime, 'bin')}"


def _write_images(archive: zipfile.ZipFile, record: ConversationRecord, when: datetime, written: set[str]) -> None:
    """The record's images as files of their own (stored already compressed: no deflate)."""
    for m in record.messages:
        for image in m.images:
            name = image_entry(image)
            if name not in written:
                written.add(name)
                info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
                archive.writestr(info, image.data, compress_type=zipfile.ZIP_STORED)


def per_conversation_zip(records: Iterable[ConversationRecord], extension: str) -> bytes:
    render = PER_CONVERSATION[extension]
    now = datetime.now(UTC)
    buffer = io.BytesIO()
    written: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(_writable(archive, entry_name(record, extension), now), render(record))
            _write_images(archive, record, now, written)
    return buffer.getvalue()


def everything_zip(records: Iterable[ConversationRecord]) -> bytes:
    """One ZIP: the lossless JSON (importable), a CSV of all messages, and per conversation
    Markdown, text and HTML files."""
    now = datetime.now(UTC)
    buffer = io.BytesIO()
    with (
        tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+", encoding="utf-8") as json_out,
        tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+", encoding="utf-8", newline="") as csv_out,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        csv_out.write("\ufeff")
        first = True
        written: set[str] = set()

        def each() -> Iterable[ConversationRecord]:
            nonlocal first
            for record in records:
                csv_format.write(csv_out, [record], header=first)
                first = False
                for extension, render in PER_CONVERSATION.items():
                    folder = {"md": "markdown", "txt": "text", "html": "html"}[extension]
                    archive.writestr(
                        _writable(archive, f"{folder}/{entry_name(record, extension)}", now), render(record)
                    )
                _write_images(archive, record, now, written)
                yield record

        json_format.write(json_out, each(), now)
        if first:  # no conversation at all: still a valid CSV with its header
            csv_format.write(csv_out, [], header=True)
        for name, spooled in ((JSON_ENTRY, json_out), (CSV_ENTRY, csv_out)):
            spooled.seek(0)
            with archive.open(_writable(archive, name, now), "w") as entry:
                while chunk := spooled.read(1 << 20):
                    entry.write(chunk.encode("utf-8"))
    return buffer.getvalue()
