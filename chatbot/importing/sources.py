"""From uploaded bytes to parsed JSON documents, refusing anything unsafe before parsing.

Every check here raises ``ImportFailed`` with one sentence's key: too large, a ZIP bomb, a
damaged ZIP, not JSON, cut off, not UTF-8, nested too deeply. Nothing touches the database.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from chatbot.errors import ImportFailed

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 200 * MB  # everything uploaded at once, as uploaded
    max_json_bytes: int = 100 * MB  # one JSON document, uncompressed
    max_total_bytes: int = 250 * MB  # all JSON documents together, uncompressed
    max_files: int = 200  # uploaded files plus JSON entries taken from ZIPs
    max_zip_entries: int = 20_000  # a ChatGPT export ZIP holds its images too
    max_ratio: int = 200  # uncompressed / compressed beyond this is a bomb, not text


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


@dataclass(frozen=True)
class Document:
    name: str  # "file.zip/conversations-000.json" for a ZIP entry
    value: Any


# Inside a ZIP, only these are conversations: our export, and ChatGPT's (single or split).
OUR_ENTRY = re.compile(r"(^|/)groq-chat-export\.json$", re.I)
CHATGPT_ENTRY = re.compile(r"(^|/)conversations(-\d+)?\.json$", re.I)


def _mb(size: int) -> str:
    return f"{size / MB:.1f}".rstrip("0").rstrip(".")


def _too_large(size: int, limit: int) -> ImportFailed:
    return ImportFailed("import.too_large", size=_mb(size), limit=_mb(limit))


def read_documents(uploads: list[Upload], limits: Limits | None = None) -> list[Document]:
    limits = limits or Limits()
    if not uploads:
        raise ImportFailed("import.no_file")
    if len(uploads) > limits.max_files:
        raise ImportFailed("import.too_many_files", count=len(uploads), limit=limits.max_files)
    total = sum(len(u.data) for u in uploads)
    if total > limits.max_upload_bytes:
        raise _too_large(total, limits.max_upload_bytes)
    raw: list[tuple[str, bytes]] = []
    for upload in uploads:
        if zipfile.is_zipfile(io.BytesIO(upload.data)) or upload.name.lower().endswith(".zip"):
            raw.extend(_zip_entries(upload, limits))
        else:
            raw.append((upload.name, upload.data))
        if len(raw) > limits.max_files:
            raise ImportFailed("import.too_many_files", count=len(raw), limit=limits.max_files)
    unpacked = 0
    for _, data in raw:
        if len(data) > limits.max_json_bytes:
            raise _too_large(len(data), limits.max_json_bytes)
        unpacked += len(data)
        if unpacked > limits.max_total_bytes:
            raise _too_large(unpacked, limits.max_total_bytes)
    # The same file chosen twice (or in a ZIP and beside it) is one file: its conversations are
    # not "repeated in the file".
    identical: dict[bytes, None] = {}
    documents: list[Document] = []
    for name, data in raw:
        digest = hashlib.sha256(data).digest()
        if digest not in identical:
            identical[digest] = None
            documents.append(Document(name, load_json(data)))
    return documents


def _zip_entries(upload: Upload, limits: Limits) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise ImportFailed("import.bad_zip") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise ImportFailed("import.too_many_files", count=len(infos), limit=limits.max_zip_entries)
        files = [i for i in infos if not i.is_dir()]
        wanted = [i for i in files if OUR_ENTRY.search(i.filename) or CHATGPT_ENTRY.search(i.filename)]
        if not wanted:
            loose = [i for i in files if i.filename.lower().endswith(".json")]
            wanted = loose if len(loose) == 1 else []
        if not wanted:
            raise ImportFailed("import.zip_without_export")
        declared = 0
        for info in wanted:
            declared += info.file_size
            if info.file_size > 1 * MB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise ImportFailed("import.zip_bomb")
            if info.file_size > limits.max_json_bytes:
                raise _too_large(info.file_size, limits.max_json_bytes)
            if declared > limits.max_total_bytes:
                raise _too_large(declared, limits.max_total_bytes)
        out = []
        for info in wanted:
            out.append((f"{upload.name}/{info.filename}", _read_capped(archive, info, limits)))
        return out


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> bytes:
    """Read at most the limit, whatever the entry's header claims (headers can lie)."""
    cap = min(limits.max_json_bytes, limits.max_ratio * max(info.compress_size, 1) + 1 * MB)
    try:
        with archive.open(info) as entry:
            data = entry.read(cap + 1)
    except RuntimeError:  # encrypted entry: a password we do not have
        raise ImportFailed("import.bad_zip") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError):
        raise ImportFailed("import.bad_zip") from None
    if len(data) > cap:
        if cap < limits.max_json_bytes:
            raise ImportFailed("import.zip_bomb")
        raise _too_large(len(data), limits.max_json_bytes)
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN / Infinity are not JSON


def load_json(data: bytes) -> Any:
    if not data.strip():
        raise ImportFailed("import.empty_file")
    encoding = json.detect_encoding(data)
    # Binary files (an image, a PDF) are "not JSON"; JSON-looking text that is not valid UTF
    # is an encoding problem the user can fix.
    looks = data.decode(encoding, errors="replace").removeprefix("\ufeff").lstrip()[:1]
    if looks not in ("{", "["):
        raise ImportFailed("import.not_json")
    try:
        text = data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ImportFailed("import.encoding") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ImportFailed("import.too_deep") from None
    except json.JSONDecodeError as exc:
        # An error at the very end: the document stopped before it was complete.
        if exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string"):
            raise ImportFailed("import.truncated") from None
        raise ImportFailed("import.not_json") from None
    except ValueError:  # NaN, or an integer longer than Python converts
        raise ImportFailed("import.not_json") from None
