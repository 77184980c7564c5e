"""A batch's prompts, read from pasted text (one a line) or an uploaded CSV or JSONL file.

Bounds, said to the user in these words: at most 10,000 prompts, 20,000 characters a prompt
(and a system prompt), an id of at most 200 characters, a file of at most 10 MB. A file that
breaks one is refused whole, with one translated sentence naming the row, never half read.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from chatbot.errors import InvalidInput

MAX_PROMPTS = 10_000
MAX_PROMPT_CHARS = 20_000
MAX_ID_CHARS = 200
MAX_FILE_BYTES = 10 * 1024 * 1024
# Pasted text: the file bound, counted in characters (the text area refuses more).
MAX_PASTED_CHARS = MAX_FILE_BYTES

PROMPT_COLUMNS = ("prompt",)
SYSTEM_COLUMNS = ("system", "system_prompt")
ID_COLUMNS = ("id",)


@dataclass(frozen=True)
class BatchPrompt:
    item_id: str
    prompt: str
    system: str | None = None


def from_text(text: str) -> list[BatchPrompt]:
    """One prompt a line; blank lines skipped; the id is the line's number."""
    if len(text) > MAX_PASTED_CHARS:
        raise InvalidInput("batch.text_too_long", limit=MAX_PASTED_CHARS)
    prompts: list[BatchPrompt] = []
    for number, line in enumerate(text.splitlines(), start=1):
        prompt = line.strip()
        if prompt:
            prompts.append(_checked(number, str(number), prompt, None, len(prompts)))
    return _not_empty(prompts)


def from_file(name: str, data: bytes) -> list[BatchPrompt]:
    """A CSV (header row with a ``prompt`` column) or JSONL (objects with ``prompt``) file."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("batch.file_too_large", megabytes=MAX_FILE_BYTES // (1024 * 1024))
    kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind not in ("csv", "jsonl", "txt"):
        raise InvalidInput("batch.unknown_format", name=name)
    try:
        # utf-8-sig: spreadsheets write a byte-order mark at the start of a UTF-8 CSV.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("batch.not_utf8", name=name) from None
    if kind == "txt":
        return from_text(text)
    return _not_empty(_from_csv(text) if kind == "csv" else _from_jsonl(text))


def _not_empty(prompts: list[BatchPrompt]) -> list[BatchPrompt]:
    if not prompts:
        raise InvalidInput("batch.empty")
    return prompts


def _checked(row: int, item_id: str, prompt: str, system: str | None, count: int) -> BatchPrompt:
    """``count``: prompts already read, so the limit is said before reading any further."""
    if count >= MAX_PROMPTS:
        raise InvalidInput("batch.too_many", limit=MAX_PROMPTS)
    if len(prompt) > MAX_PROMPT_CHARS or len(system or "") > MAX_PROMPT_CHARS:
        raise InvalidInput("batch.prompt_too_long", row=row, limit=MAX_PROMPT_CHARS)
    if len(item_id) > MAX_ID_CHARS:
        raise InvalidInput("batch.id_too_long", row=row, limit=MAX_ID_CHARS)
    return BatchPrompt(item_id, prompt, system or None)


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    folded = [h.strip().lower() for h in header]
    return next((folded.index(n) for n in names if n in folded), None)


def _from_csv(text: str) -> list[BatchPrompt]:
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # Cells longer than csv's default field limit (128 KiB) are refused by the prompt bound anyway.
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader, None)
        if header is None:
            return []
        prompt_at = _column(header, PROMPT_COLUMNS)
        if prompt_at is None:
            found = ", ".join(h.strip() for h in header if h.strip())[:200]
            raise InvalidInput("batch.no_prompt_column", columns=found or "—")
        system_at, id_at = _column(header, SYSTEM_COLUMNS), _column(header, ID_COLUMNS)
        prompts: list[BatchPrompt] = []
        for row in reader:
            line = reader.line_num

            def cell(at: int | None, row: list[str] = row) -> str:
                return row[at].strip() if at is not None and at < len(row) else ""

            prompt = cell(prompt_at)
            if prompt:
                item_id = cell(id_at) or str(len(prompts) + 1)
                prompts.append(_checked(line, item_id, prompt, cell(system_at), len(prompts)))
    except csv.Error:
        raise InvalidInput("batch.bad_csv", row=reader.line_num) from None
    return _unique_ids(prompts)


def _from_jsonl(text: str) -> list[BatchPrompt]:
    prompts: list[BatchPrompt] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise InvalidInput("batch.bad_jsonl", row=number) from None
        prompt = item.get("prompt") if isinstance(item, dict) else None
        if not isinstance(prompt, str):
            raise InvalidInput("batch.jsonl_no_prompt", row=number)
        system = item.get("system", item.get("system_prompt"))
        raw_id = item.get("id")
        if not prompt.strip():
            continue
        item_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id).strip() else str(len(prompts) + 1)
        system_text = system.strip() if isinstance(system, str) else None
        prompts.append(_checked(number, item_id.strip(), prompt.strip(), system_text, len(prompts)))
    return _unique_ids(prompts)


def _unique_ids(prompts: list[BatchPrompt]) -> list[BatchPrompt]:
    """Ids name rows in the results; two rows with one id could not be told apart."""
    seen: set[str] = set()
    for p in prompts:
        if p.item_id in seen:
            raise InvalidInput("batch.duplicate_id", id=p.item_id[:50])
        seen.add(p.item_id)
    return prompts
