"""Text-like files attached to a message: read (PDF through pypdf), checked, and written into the
message as context with each file's name, within what the message and the model can take.

Never imports Streamlit. A file's text is data: it goes into the message as a fenced block (a
fence longer than any run of backticks inside), so it is shown and sent as written.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import PurePath

from chatbot.errors import InvalidInput
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.providers.base import ModelInfo

MAX_FILES = 10  # per message
MAX_FILE_BYTES = 5 * 1024 * 1024  # per file, before its text is taken out
MAX_PDF_PAGES = 300
CHARS_PER_TOKEN = 3  # on the safe side for code and prose alike: a file fits or is cut before Groq refuses it

# Extension -> the fence's language (code of the code-assistant presets' languages, and text).
CODE = {
    "py": "python",
    "js": "javascript",
    "mjs": "javascript",
    "ts": "typescript",
    "tsx": "tsx",
    "jsx": "jsx",
    "java": "java",
    "kt": "kotlin",
    "c": "c",
    "h": "c",
    "cpp": "cpp",
    "cc": "cpp",
    "hpp": "cpp",
    "cs": "csharp",
    "go": "go",
    "rs": "rust",
    "rb": "ruby",
    "php": "php",
    "swift": "swift",
    "scala": "scala",
    "sql": "sql",
    "sh": "bash",
    "bash": "bash",
    "ps1": "powershell",
    "r": "r",
    "lua": "lua",
    "dart": "dart",
    "html": "html",
    "css": "css",
    "scss": "scss",
    "xml": "xml",
    "json": "json",
    "jsonl": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "ini": "ini",
    "cfg": "ini",
    "csv": "csv",
    "tsv": "tsv",
    "tex": "latex",
    "md": "markdown",
    "markdown": "markdown",
    "rst": "rst",
    "txt": "",
    "log": "",
}
FILE_TYPES = sorted([*CODE, "pdf"])  # what the chat input offers to pick


@dataclass(frozen=True)
class FileText:
    name: str
    text: str
    language: str  # the fence's info string ("" for plain text)


def _extension(name: str) -> str:
    return PurePath(name).suffix.lower().lstrip(".")


def _pdf_text(name: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF-"):
        raise InvalidInput("files.unreadable", name=name)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvalidInput("files.pdf_locked", name=name)
        if len(reader.pages) > MAX_PDF_PAGES:
            raise InvalidInput("files.pdf_too_long", name=name, pages=len(reader.pages), limit=MAX_PDF_PAGES)
        text = "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        raise InvalidInput("files.unreadable", name=name) from None
    if not text.strip():
        raise InvalidInput("files.pdf_no_text", name=name)
    return text.strip()


def _decoded(name: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidInput("files.not_text", name=name) from None
    if b"\x00" in data[:8192]:  # images, archives, executables
        raise InvalidInput("files.not_text", name=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("files.not_text", name=name) from None


def read_file(name: str, data: bytes) -> FileText:
    """A file's text, or ``InvalidInput`` saying why not (empty, too large, not a kind read
    here, binary, a PDF without text)."""
    extension = _extension(name)
    if extension != "pdf" and extension not in CODE:
        raise InvalidInput("files.unsupported", name=name)
    if not data:
        raise InvalidInput("files.empty", name=name)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("files.too_large", name=name, limit="5 MB")
    if extension == "pdf":
        return FileText(name, _pdf_text(name, data), "")
    text = _decoded(name, data).replace("\r\n", "\n")
    if not text.strip():
        raise InvalidInput("files.empty", name=name)
    return FileText(name, text, CODE[extension])


def read_files(files: list[tuple[str, bytes]]) -> list[FileText]:
    if len(files) > MAX_FILES:
        raise InvalidInput("files.too_many", count=len(files), limit=MAX_FILES)
    return [read_file(name, data) for name, data in files]


def _block(file: FileText, text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{file.name}\n\n{fence}{file.language}\n{text}\n{fence}"


def chars_that_fit(model: ModelInfo | None, max_tokens: int) -> int:
    """How long a message with files may be: the app's message limit, and what the model's
    context window leaves after its reply (the history is shortened by the context budget)."""
    if model is None or not model.context_window:
        return MAX_MESSAGE_CHARS
    return max(0, min(MAX_MESSAGE_CHARS, (model.context_window - max_tokens) * CHARS_PER_TOKEN))


def with_files(typed: str, files: list[FileText], limit: int, cut: bool = False) -> str:
    """The message: what was typed, then each file under its name. Over ``limit``: with ``cut``
    the files' text is shortened to fit (each file's end first, the cut said in the text),
    else ``InvalidInput`` saying how much fits."""
    head = typed.strip()
    overhead = len(head) + sum(len(_block(f, "")) + 2 for f in files) + 200 * len(files)
    total = overhead + sum(len(f.text) for f in files)
    if total <= limit:
        return "\n\n".join([p for p in [head] if p] + [_block(f, f.text) for f in files])
    room = max(0, limit - overhead)
    if not cut:
        raise InvalidInput("files.too_long", length=total - overhead, fits=room, names=", ".join(f.name for f in files))
    if room == 0:
        raise InvalidInput("files.no_room")
    # The room shared out smallest file first: a short file stays whole, the long ones are cut.
    kept: dict[int, str] = {}
    left = room
    for place, (i, f) in enumerate(sorted(enumerate(files), key=lambda item: len(item[1].text))):
        take = min(len(f.text), left // (len(files) - place))
        kept[i] = f.text[:take]
        left -= take
    blocks = []
    for i, f in enumerate(files):
        block = _block(f, kept[i])
        if len(kept[i]) < len(f.text):
            block += f"\n\n[{f.name}: the first {len(kept[i]):,} of {len(f.text):,} characters]"
        blocks.append(block)
    return "\n\n".join([p for p in [head] if p] + blocks)
