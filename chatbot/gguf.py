"""What a GGUF file says about itself (name, architecture, trained context), read from its header.

The model picker lists the built-in model on every page run; loading the model (seconds, and
its memory) just to learn its context window would be absurd, so only the header is read:
the key-value metadata that starts the file, up to the context length (stopping before the
tokenizer's long arrays when it can).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"
MAX_KEYS = 100_000  # a real file has a few dozen; a damaged one is not read for ever
MAX_STRING = 16 * 1024 * 1024  # a chat template is a few KB; a longer string means a damaged file
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class NotGguf(ValueError):
    """Not a GGUF file, or one whose header cannot be read."""


@dataclass(frozen=True)
class GgufInfo:
    name: str  # general.name, or "" when the file has none
    architecture: str
    context_length: int | None  # the context it was trained with
    has_chat_template: bool


def _read(f: BinaryIO, size: int) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise NotGguf("truncated")
    return data


def _string(f: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", _read(f, 8))
    if length > MAX_STRING:
        raise NotGguf("string too long")
    return _read(f, length).decode("utf-8", "replace")


def _value(f: BinaryIO, kind: int) -> object:
    if kind in _SCALARS:
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]
    if kind == _STRING:
        return _string(f)
    if kind == _ARRAY:
        item_kind, count = struct.unpack("<IQ", _read(f, 12))
        if item_kind in _SCALARS:  # skipped: nothing here needs an array's items
            f.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
        else:
            for _ in range(count):
                _value(f, item_kind)
        return None
    raise NotGguf(f"unknown value type {kind}")


def read_info(path: Path) -> GgufInfo:
    """The header of ``path``; :class:`NotGguf` if it is not a readable GGUF file.

    Read once per file version (a tokenizer's strings take a fifth of a second to skip)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise NotGguf(str(exc)) from None
    return _read_info(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _read_info(path: Path, _size: int, _mtime: int) -> GgufInfo:
    try:
        with path.open("rb") as f:
            if _read(f, 4) != MAGIC:
                raise NotGguf("not a GGUF file")
            version, _tensors, keys = struct.unpack("<IQQ", _read(f, 20))
            if version < 2 or keys > MAX_KEYS:
                raise NotGguf("unsupported version")
            found: dict[str, object] = {}
            for _ in range(keys):
                key = _string(f)
                (kind,) = struct.unpack("<I", _read(f, 4))
                found[key] = _value(f, kind)
    except OSError as exc:
        raise NotGguf(str(exc)) from None
    except (struct.error, UnicodeDecodeError):
        raise NotGguf("damaged header") from None
    arch = found.get("general.architecture")
    architecture = arch if isinstance(arch, str) else ""
    context = found.get(f"{architecture}.context_length")
    name = found.get("general.name")
    return GgufInfo(
        name=name if isinstance(name, str) else "",
        architecture=architecture,
        context_length=int(context) if isinstance(context, int) and context > 0 else None,
        has_chat_template="tokenizer.chat_template" in found,
    )
